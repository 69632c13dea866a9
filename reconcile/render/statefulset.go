package render

import (
	"fmt"
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/redis-gitops/redis-gitops/spec"
)

// ContainerName is the redis-server container of every pod.
const ContainerName = "redis"

// Volume names in the pod.
const (
	configVolume = "config"
	dataVolume   = "data" // the volumeClaimTemplate
)

// terminationGracePeriod gives redis-server time to finish its shutdown
// (it fsyncs the AOF on SIGTERM) before the kubelet sends SIGKILL.
const terminationGracePeriod = 30

// readinessScript is ready only when the node answers PING with PONG. A
// node still loading its RDB or AOF answers "LOADING ...", which must not
// count: the reconciler waits for readiness before it touches the next
// node.
const readinessScript = `test "$(redis-cli -h 127.0.0.1 -p 6379 ping)" = PONG`

// readinessScriptAuth is readinessScript for a cluster with a password. It
// logs in as probeUser, who needs no password and may only PING: the
// password changes while pods run (a rotation), and a probe holding the
// one the pod started with would fail once the old one is dropped.
const readinessScriptAuth = `test "$(redis-cli --no-auth-warning --user ` + probeUser + ` --pass nopass -h 127.0.0.1 -p 6379 ping)" = PONG`

// probeUser is the readiness probe's Redis user: no password, PING only.
const probeUser = "readiness"

// readinessTLS is the probe over TLS: the same PING, to the TLS port.
// It does not verify the node's certificate (--insecure): it talks to its
// own pod over loopback, where no certificate names 127.0.0.1 and nothing
// but the pod can answer, and so a Secret changed under a running pod (a
// renewal, or a bad Secret the daemon refuses) never makes a serving node
// unready. Only where the node requires a client certificate does it
// present the pod's, from the files its environment names (tlsEnv).
func readinessTLS(c *spec.RedisCluster) string {
	args := "--tls --insecure"
	if c.Spec.TLS.RequiresClientCert() {
		args += ` --cert "$` + EnvTLSCertFile + `" --key "$` + EnvTLSKeyFile + `"`
	}
	if c.Spec.Auth != nil {
		args += " --no-auth-warning --user " + probeUser + " --pass nopass"
	}
	return `test "$(redis-cli ` + args + ` -h 127.0.0.1 -p ` + fmt.Sprint(TLSPort) + ` ping)" = PONG`
}

func readiness(c *spec.RedisCluster) string {
	switch {
	case c.Spec.TLS != nil:
		return readinessTLS(c)
	case c.Spec.Auth != nil:
		return readinessScriptAuth
	}
	return readinessScript
}

// containerPorts are the client ports a node serves, then the bus.
func containerPorts(c *spec.RedisCluster) []*corev1ac.ContainerPortApplyConfiguration {
	var out []*corev1ac.ContainerPortApplyConfiguration
	if servesPlaintext(c) {
		out = append(out, corev1ac.ContainerPort().WithName(portClient).WithContainerPort(ClientPort).WithProtocol(corev1.ProtocolTCP))
	}
	if c.Spec.TLS != nil {
		out = append(out, corev1ac.ContainerPort().WithName(portTLS).WithContainerPort(TLSPort).WithProtocol(corev1.ProtocolTCP))
	}
	return append(out, corev1ac.ContainerPort().WithName(portBus).WithContainerPort(BusPort).WithProtocol(corev1.ProtocolTCP))
}

// servingPortName names ServingPort on the container.
func servingPortName(c *spec.RedisCluster) string {
	if c.Spec.TLS != nil {
		return portTLS
	}
	return portClient
}

// statefulSet runs all masters × (1 + replicasPerMaster) nodes. Pods have
// no role by ordinal: the reconciler assigns masters and replicas after
// scheduling, from where the pods landed.
func statefulSet(c *spec.RedisCluster, conf string) (*appsv1ac.StatefulSetApplyConfiguration, error) {
	name := c.Metadata.Name
	pod, err := podSpec(c)
	if err != nil {
		return nil, err
	}
	vct, err := volumeClaimTemplate(c)
	if err != nil {
		return nil, err
	}
	whenScaled := appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	if c.Spec.RetainOnScaleIn() {
		whenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	replicas := int32(c.Spec.TotalNodes())

	return appsv1ac.StatefulSet(name, c.Metadata.Namespace).
		WithLabels(objectLabels(c, componentNode)).
		WithAnnotations(objectAnnotations(c)).
		WithAnnotations(TopologyAnnotations(c)).
		WithAnnotations(map[string]string{AnnotationConfigHash: configHash(conf)}).
		WithSpec(appsv1ac.StatefulSetSpec().
			WithReplicas(replicas).
			WithServiceName(HeadlessServiceName(name)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(Selector(name))).
			// Nodes do not wait for each other to start: the cluster forms
			// only once the reconciler meets them all.
			WithPodManagementPolicy(appsv1.ParallelPodManagement).
			// The reconciler rolls template changes itself, one shard at a
			// time, replicas first, failing over before it deletes a master.
			WithUpdateStrategy(appsv1ac.StatefulSetUpdateStrategy().
				WithType(appsv1.OnDeleteStatefulSetStrategyType)).
			WithPersistentVolumeClaimRetentionPolicy(appsv1ac.StatefulSetPersistentVolumeClaimRetentionPolicy().
				WithWhenScaled(whenScaled).
				WithWhenDeleted(appsv1.RetainPersistentVolumeClaimRetentionPolicyType)).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(objectLabels(c, componentNode)).
				WithAnnotations(overlay(c.Metadata.Annotations, scrapeAnnotations(c))).
				WithSpec(pod)).
			WithVolumeClaimTemplates(vct)), nil
}

// podSpec is the pod template's spec.
func podSpec(c *spec.RedisCluster) (*corev1ac.PodSpecApplyConfiguration, error) {
	ctr, err := redisContainer(c)
	if err != nil {
		return nil, err
	}
	p := corev1ac.PodSpec().
		WithTerminationGracePeriodSeconds(terminationGracePeriod).
		// Service environment variables are noise to redis-server, and
		// many of them in a busy namespace.
		WithEnableServiceLinks(false).
		WithContainers(ctr).
		WithVolumes(corev1ac.Volume().WithName(configVolume).WithConfigMap(
			corev1ac.ConfigMapVolumeSource().WithName(ConfigMapName(c.Metadata.Name))))
	if c.Spec.Auth != nil {
		p.WithInitContainers(authInit(c)).WithVolumes(authVolumeSource())
	}
	if c.Spec.TLS != nil {
		p.WithVolumes(tlsVolumeSource(c))
	}
	if hasUsers(c) {
		p.WithVolumes(usersVolumeSource(c))
	}
	if c.Spec.Monitoring.Enabled {
		exp, err := exporterContainer(c)
		if err != nil {
			return nil, err
		}
		p.WithContainers(exp)
	}
	if a := affinity(c); a != nil {
		p.WithAffinity(a)
	}
	if tsc := zoneSpread(c); tsc != nil {
		p.WithTopologySpreadConstraints(tsc)
	}
	if len(c.Spec.Placement.NodeSelector) > 0 {
		p.WithNodeSelector(c.Spec.Placement.NodeSelector)
	}
	for _, t := range c.Spec.Placement.Tolerations {
		p.WithTolerations(toleration(t))
	}
	return p, nil
}

// redisContainer runs redis-server with the ConfigMap's redis.conf and
// announces the pod IP on the cluster bus.
func redisContainer(c *spec.RedisCluster) (*corev1ac.ContainerApplyConfiguration, error) {
	res, err := resources("spec.resources", c.Spec.Resources)
	if err != nil {
		return nil, err
	}
	ctr := corev1ac.Container().
		WithName(ContainerName).
		WithImage(c.Spec.Redis.Image).
		WithCommand("redis-server").
		// The kubelet expands $(POD_IP). Command-line settings override the
		// file. The address is the pod's current IP, which changes when
		// the pod is re-created; the reconciler re-introduces moved nodes.
		WithArgs(configFilePath, "--cluster-announce-ip", "$(POD_IP)").
		WithPorts(containerPorts(c)...).
		WithEnv(corev1ac.EnvVar().WithName("POD_IP").WithValueFrom(corev1ac.EnvVarSource().
			WithFieldRef(corev1ac.ObjectFieldSelector().WithFieldPath("status.podIP")))).
		WithVolumeMounts(
			corev1ac.VolumeMount().WithName(configVolume).WithMountPath(configDir).WithReadOnly(true),
			corev1ac.VolumeMount().WithName(dataVolume).WithMountPath(dataDir),
		).
		WithReadinessProbe(corev1ac.Probe().
			WithExec(corev1ac.ExecAction().WithCommand("sh", "-c", readiness(c))).
			WithPeriodSeconds(5).
			WithTimeoutSeconds(5).
			WithFailureThreshold(2)).
		// Liveness asks only whether the port accepts connections, which it
		// does while a node loads its dataset (then answering LOADING), and
		// gives two minutes before a restart: killing a node that is loading
		// a large dataset would only start the load again.
		WithLivenessProbe(corev1ac.Probe().
			WithTCPSocket(corev1ac.TCPSocketAction().WithPort(intstr.FromString(servingPortName(c)))).
			WithInitialDelaySeconds(30).
			WithPeriodSeconds(10).
			WithTimeoutSeconds(5).
			WithFailureThreshold(12))
	if res != nil {
		ctr.WithResources(res)
	}
	if c.Spec.Auth != nil {
		ctr.WithEnv(secretEnv(envCLIAuth, c.Spec.Auth)).
			WithVolumeMounts(corev1ac.VolumeMount().WithName(authVolume).WithMountPath(authDir).WithReadOnly(true))
	}
	if c.Spec.TLS != nil {
		ctr.WithEnv(tlsEnv()...).WithVolumeMounts(tlsMount())
	}
	if hasUsers(c) {
		ctr.WithVolumeMounts(usersMount())
	}
	return ctr, nil
}

// resources converts the resources at field (spec.resources, or the
// exporter's) to container resources; nil when nothing is set.
func resources(field string, r spec.Resources) (*corev1ac.ResourceRequirementsApplyConfiguration, error) {
	requests, err := resourceList(field+".requests", r.Requests)
	if err != nil {
		return nil, err
	}
	limits, err := resourceList(field+".limits", r.Limits)
	if err != nil {
		return nil, err
	}
	if requests == nil && limits == nil {
		return nil, nil
	}
	res := corev1ac.ResourceRequirements()
	if requests != nil {
		res.WithRequests(requests)
	}
	if limits != nil {
		res.WithLimits(limits)
	}
	return res, nil
}

func resourceList(field string, m map[string]string) (corev1.ResourceList, error) {
	if len(m) == 0 {
		return nil, nil
	}
	list := make(corev1.ResourceList, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		q, err := resource.ParseQuantity(m[k])
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %q is not a quantity: %w", field, k, m[k], err)
		}
		list[corev1.ResourceName(k)] = q
	}
	return list, nil
}

// affinity keeps the cluster's pods apart on spec.placement.topologyKey,
// as a preference or as a scheduling requirement; nil for "none". Pods
// have no role yet when they are scheduled, so this spreads all nodes; the
// reconciler then puts each master and its replicas in different domains.
func affinity(c *spec.RedisCluster) *corev1ac.AffinityApplyConfiguration {
	term := corev1ac.PodAffinityTerm().
		WithLabelSelector(metav1ac.LabelSelector().WithMatchLabels(Selector(c.Metadata.Name))).
		WithTopologyKey(c.Spec.Placement.TopologyKey)
	switch c.Spec.Placement.AntiAffinity {
	case spec.AntiAffinityPreferred:
		return corev1ac.Affinity().WithPodAntiAffinity(corev1ac.PodAntiAffinity().
			WithPreferredDuringSchedulingIgnoredDuringExecution(corev1ac.WeightedPodAffinityTerm().
				WithWeight(100).
				WithPodAffinityTerm(term)))
	case spec.AntiAffinityRequired:
		return corev1ac.Affinity().WithPodAntiAffinity(corev1ac.PodAntiAffinity().
			WithRequiredDuringSchedulingIgnoredDuringExecution(term))
	default: // spec.AntiAffinityNone; checkRenderable rejected anything else
		return nil
	}
}

// zoneSpread spreads the pods evenly over spec.placement.zoneKey when it is
// set. ScheduleAnyway: an unbalanced cluster is better than a Pending pod,
// and the reconciler reports (and places roles around) the imbalance.
func zoneSpread(c *spec.RedisCluster) *corev1ac.TopologySpreadConstraintApplyConfiguration {
	if c.Spec.Placement.ZoneKey == "" {
		return nil
	}
	return corev1ac.TopologySpreadConstraint().
		WithMaxSkew(1).
		WithTopologyKey(c.Spec.Placement.ZoneKey).
		WithWhenUnsatisfiable(corev1.ScheduleAnyway).
		WithLabelSelector(metav1ac.LabelSelector().WithMatchLabels(Selector(c.Metadata.Name)))
}

func toleration(t spec.Toleration) *corev1ac.TolerationApplyConfiguration {
	ac := corev1ac.Toleration()
	if t.Key != "" {
		ac.WithKey(t.Key)
	}
	if t.Operator != "" {
		ac.WithOperator(corev1.TolerationOperator(t.Operator))
	}
	if t.Value != "" {
		ac.WithValue(t.Value)
	}
	if t.Effect != "" {
		ac.WithEffect(corev1.TaintEffect(t.Effect))
	}
	if t.TolerationSeconds != nil {
		ac.WithTolerationSeconds(*t.TolerationSeconds)
	}
	return ac
}

// volumeClaimTemplate is each node's data volume. A StatefulSet's claim
// templates are immutable, so only stable values go in: the project's
// labels (no user labels or annotations, which may change), the size and
// the class. The object is built without the constructor's kind and
// apiVersion, which an embedded claim does not need.
func volumeClaimTemplate(c *spec.RedisCluster) (*corev1ac.PersistentVolumeClaimApplyConfiguration, error) {
	size, err := resource.ParseQuantity(c.Spec.Storage.Size)
	if err != nil {
		return nil, fmt.Errorf("spec.storage.size: %q is not a quantity: %w", c.Spec.Storage.Size, err)
	}
	pvc := corev1ac.PersistentVolumeClaimSpec().
		WithAccessModes(corev1.ReadWriteOnce).
		WithResources(corev1ac.VolumeResourceRequirements().
			WithRequests(corev1.ResourceList{corev1.ResourceStorage: size}))
	if sc := c.Spec.Storage.StorageClassName; sc != "" {
		pvc.WithStorageClassName(sc)
	}
	vct := &corev1ac.PersistentVolumeClaimApplyConfiguration{}
	return vct.
		WithName(dataVolume).
		WithLabels(projectLabels(c.Metadata.Name, componentNode)).
		WithSpec(pvc), nil
}
