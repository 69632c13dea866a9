package render

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/tlsplan"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Objects are named after the cluster, in its namespace: the StatefulSet,
// the client Service and the PodDisruptionBudget take the cluster's name
// itself; the ConfigMap and the headless Service add a suffix.

// ConfigMapName is the name of the ConfigMap holding redis.conf.
func ConfigMapName(cluster string) string { return cluster + "-config" }

// HeadlessServiceName is the StatefulSet's governing Service: pod i of the
// cluster resolves as <cluster>-<i>.<HeadlessServiceName>.<namespace>.svc.
func HeadlessServiceName(cluster string) string { return cluster + "-nodes" }

// Port names, shared by the container and the Services' targetPorts.
const (
	portClient = "client"
	portBus    = "bus"
)

// configMap holds redis.conf.
func configMap(c *spec.RedisCluster, conf string, stage tlsplan.Stage) *corev1ac.ConfigMapApplyConfiguration {
	data := map[string]string{configFile: conf}
	if c.Spec.TLS != nil {
		data[listenFile] = ListenConf(stage)
	}
	return corev1ac.ConfigMap(ConfigMapName(c.Metadata.Name), c.Metadata.Namespace).
		WithLabels(objectLabels(c, componentConfig)).
		WithAnnotations(objectAnnotations(c)).
		WithData(data)
}

// headlessService gives every pod a DNS name and is the StatefulSet's
// serviceName. It publishes not-ready addresses: the reconciler must reach
// a node by name while it is not ready (just started, or loading its data).
func headlessService(c *spec.RedisCluster) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(HeadlessServiceName(c.Metadata.Name), c.Metadata.Namespace).
		WithLabels(objectLabels(c, componentNode)).
		WithAnnotations(objectAnnotations(c)).
		WithSpec(corev1ac.ServiceSpec().
			WithClusterIP(corev1.ClusterIPNone).
			WithPublishNotReadyAddresses(true).
			WithSelector(Selector(c.Metadata.Name)).
			WithPorts(append(clientServicePorts(c), servicePort(portBus, BusPort))...))
}

// clientServicePorts are the client ports the nodes serve: TLS with
// spec.tls, plaintext without it or while spec.tls.plaintextPort keeps it.
func clientServicePorts(c *spec.RedisCluster) []*corev1ac.ServicePortApplyConfiguration {
	var out []*corev1ac.ServicePortApplyConfiguration
	if servesPlaintext(c) {
		out = append(out, servicePort(portClient, ClientPort))
	}
	if c.Spec.TLS != nil {
		out = append(out, servicePort(portTLS, TLSPort))
	}
	return out
}

// clientService is the entry point for clients inside Kubernetes: any
// ready node answers, and cluster-aware clients follow MOVED from there.
func clientService(c *spec.RedisCluster) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(c.Metadata.Name, c.Metadata.Namespace).
		WithLabels(objectLabels(c, componentClient)).
		WithAnnotations(objectAnnotations(c)).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(Selector(c.Metadata.Name)).
			WithPorts(clientServicePorts(c)...))
}

// ExternalServiceName is the per-pod Service of spec.externalAccess for
// the pod of that name (e.g. cache-3 -> cache-3-external).
func ExternalServiceName(pod string) string { return pod + "-external" }

// componentExternal labels the per-pod external Services.
const componentExternal = "external"

// LabelPodName is the label the StatefulSet controller puts on each pod
// with its name: a per-pod Service selects exactly one pod by it.
const LabelPodName = "statefulset.kubernetes.io/pod-name"

// externalServices are one Service per pod for externalAccess NodePort or
// LoadBalancer, both ports (client and bus): a node announces its
// Service's address, so other nodes, replicas and clients outside all
// reach it there. They publish not-ready addresses, as the cluster bus
// must connect while a node starts. Kubernetes allocates the node ports;
// the reconciler reads them back and has each node announce them.
func externalServices(c *spec.RedisCluster) []*corev1ac.ServiceApplyConfiguration {
	e := c.Spec.ExternalAccess
	if e == nil || (e.Type != spec.ExternalNodePort && e.Type != spec.ExternalLoadBalancer) {
		return nil
	}
	typ := corev1.ServiceTypeNodePort
	if e.Type == spec.ExternalLoadBalancer {
		typ = corev1.ServiceTypeLoadBalancer
	}
	n := c.Spec.TotalNodes()
	out := make([]*corev1ac.ServiceApplyConfiguration, 0, n)
	for i := range n {
		pod := fmt.Sprintf("%s-%d", c.Metadata.Name, i)
		out = append(out, corev1ac.Service(ExternalServiceName(pod), c.Metadata.Namespace).
			WithLabels(objectLabels(c, componentExternal)).
			WithAnnotations(overlay(c.Metadata.Annotations, e.ServiceAnnotations)).
			WithSpec(corev1ac.ServiceSpec().
				WithType(typ).
				WithPublishNotReadyAddresses(true).
				WithSelector(overlay(Selector(c.Metadata.Name), map[string]string{LabelPodName: pod})).
				WithPorts(
					servicePort(portClient, ClientPort),
					servicePort(portBus, BusPort),
				)))
	}
	return out
}

func servicePort(name string, port int32) *corev1ac.ServicePortApplyConfiguration {
	return corev1ac.ServicePort().
		WithName(name).
		WithProtocol(corev1.ProtocolTCP).
		WithPort(port).
		WithTargetPort(intstr.FromString(name))
}

// podDisruptionBudget lets voluntary disruptions (drains) take one node of
// the cluster at a time, so a drain can never take a master and its only
// replica together.
func podDisruptionBudget(c *spec.RedisCluster) *policyv1ac.PodDisruptionBudgetApplyConfiguration {
	return policyv1ac.PodDisruptionBudget(c.Metadata.Name, c.Metadata.Namespace).
		WithLabels(objectLabels(c, componentNode)).
		WithAnnotations(objectAnnotations(c)).
		WithSpec(policyv1ac.PodDisruptionBudgetSpec().
			WithMaxUnavailable(intstr.FromInt32(1)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(Selector(c.Metadata.Name))))
}
