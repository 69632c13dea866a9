package render

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/redis-gitops/redis-gitops/spec"
)

// spec.monitoring: a redis_exporter sidecar in every pod scrapes its own
// node over localhost and serves Prometheus metrics on the metrics port.
const (
	// ExporterContainerName is the exporter sidecar of every pod.
	ExporterContainerName = "metrics"
	// MetricsPath is where the exporter serves its metrics.
	MetricsPath = "/metrics"
	// portMetrics names the exporter's port on the pods and the Service.
	portMetrics = "metrics"
	// componentMetrics labels the metrics Service and the PodMonitor.
	componentMetrics = "metrics"
)

// The annotations Prometheus's conventional kubernetes_sd relabeling
// (the Helm chart's, and most hand-written configs) keeps pods by.
const (
	AnnotationScrape = "prometheus.io/scrape"
	AnnotationPort   = "prometheus.io/port"
	AnnotationPath   = "prometheus.io/path"
)

// MetricsServiceName is the Service publishing every node's exporter.
func MetricsServiceName(cluster string) string { return cluster + "-metrics" }

// scrapeAnnotations go on the pod template when monitoring is on.
func scrapeAnnotations(c *spec.RedisCluster) map[string]string {
	if !c.Spec.Monitoring.Enabled {
		return nil
	}
	return map[string]string{
		AnnotationScrape: "true",
		AnnotationPort:   strconv.Itoa(c.Spec.Monitoring.Port),
		AnnotationPath:   MetricsPath,
	}
}

// exporterContainer is the sidecar. It talks to its own node on localhost
// (the pod's network namespace), not to the cluster: with -is-cluster the
// exporter would read INFO from whichever node its cluster client picks,
// and label it as this one. Cluster state and slots come without it, from
// CLUSTER INFO, which the exporter reads on any node with cluster_enabled.
//
// With auth the password reaches the exporter as REDIS_PASSWORD, which it
// reads as the default of -redis.password, filled by the kubelet from the
// Secret: the pod spec names the Secret only, and no argument holds it.
// The variable is read when the container starts, like the redis
// container's REDISCLI_AUTH: after a rotation has dropped the old password
// the exporter reports redis_up 0 until its pod restarts.
//
// No probe: the exporter must never make a Redis node unready, which would
// hold up the reconciler's rolls and take the node out of the Services.
func exporterContainer(c *spec.RedisCluster) (*corev1ac.ContainerApplyConfiguration, error) {
	m := c.Spec.Monitoring
	res, err := resources("spec.monitoring.resources", m.Resources)
	if err != nil {
		return nil, err
	}
	redisArgs := []string{fmt.Sprintf("-redis.addr=redis://127.0.0.1:%d", ClientPort)}
	if c.Spec.TLS != nil {
		redisArgs = exporterTLSArgs()
	}
	ctr := corev1ac.Container().
		WithName(ExporterContainerName).
		WithImage(m.Image).
		WithArgs(redisArgs...).
		WithArgs(
			fmt.Sprintf("-web.listen-address=:%d", m.Port),
			"-web.telemetry-path="+MetricsPath,
			// Total system memory, the base of a memory panel when
			// maxmemory is not set.
			"-include-system-metrics",
		).
		WithPorts(corev1ac.ContainerPort().WithName(portMetrics).WithContainerPort(int32(m.Port)).WithProtocol(corev1.ProtocolTCP))
	if res != nil {
		ctr.WithResources(res)
	}
	if c.Spec.Auth != nil {
		ctr.WithEnv(secretEnv(envPassword, c.Spec.Auth))
	}
	if c.Spec.TLS != nil {
		ctr.WithVolumeMounts(tlsMount())
	}
	return ctr, nil
}

// metricsService publishes every node's exporter for a ServiceMonitor or
// an endpoints-role scrape. A Service of its own rather than a port on the
// client Service: the client Service balances connections over ready
// nodes, and a scrape there would read a random node. It is headless, so
// its endpoints are the pods themselves, and publishes not-ready
// addresses, so a node that is down stays a target and shows redis_up 0
// instead of vanishing.
func metricsService(c *spec.RedisCluster) *corev1ac.ServiceApplyConfiguration {
	if !c.Spec.Monitoring.Enabled {
		return nil
	}
	return corev1ac.Service(MetricsServiceName(c.Metadata.Name), c.Metadata.Namespace).
		WithLabels(objectLabels(c, componentMetrics)).
		WithAnnotations(objectAnnotations(c)).
		WithSpec(corev1ac.ServiceSpec().
			WithClusterIP(corev1.ClusterIPNone).
			WithPublishNotReadyAddresses(true).
			WithSelector(Selector(c.Metadata.Name)).
			WithPorts(servicePort(portMetrics, int32(c.Spec.Monitoring.Port))))
}

// podMonitor is the Prometheus Operator's PodMonitor for the cluster's
// pods, with monitoring.podMonitor. It is a custom resource, so it is
// unstructured: client-go has no apply configuration for it. The operator
// sets the namespace and pod target labels itself; the relabeling adds
// cluster, which deploy/monitoring's rules and dashboard group by.
func podMonitor(c *spec.RedisCluster) *unstructured.Unstructured {
	m := c.Spec.Monitoring
	if !m.Enabled || !m.PodMonitor {
		return nil
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": toAny(Selector(c.Metadata.Name))},
			"podMetricsEndpoints": []any{
				map[string]any{
					"port": portMetrics,
					"path": MetricsPath,
					"relabelings": []any{map[string]any{
						"sourceLabels": []any{"__meta_kubernetes_pod_label_" + sdLabelName(LabelCluster)},
						"targetLabel":  "cluster",
					}},
				},
			},
		},
	}}
	u.SetAPIVersion("monitoring.coreos.com/v1")
	u.SetKind("PodMonitor")
	u.SetName(c.Metadata.Name)
	u.SetNamespace(c.Metadata.Namespace)
	u.SetLabels(objectLabels(c, componentMetrics))
	if a := objectAnnotations(c); len(a) > 0 {
		u.SetAnnotations(a)
	}
	return u
}

// sdLabelName is a pod label's name as Kubernetes service discovery
// writes it in a meta label: every character not valid in a Prometheus
// label name becomes "_".
func sdLabelName(label string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, label)
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
