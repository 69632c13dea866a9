// Package render turns a RedisCluster into the Kubernetes objects that run
// it: a ConfigMap with redis.conf, a headless and a client Service, a
// PodDisruptionBudget and one StatefulSet for all of the cluster's nodes;
// with spec.monitoring, an exporter in every pod and a metrics Service.
//
// Rendering is pure: no clients, no clock, no randomness, and the same
// cluster always renders to the same bytes. The objects are client-go apply
// configurations, ready for server-side apply by the field manager
// "redis-gitops".
//
// Render knows nothing of the Redis password: the objects only reference
// the Secret named in spec.auth.secretRef, so no secret can reach Git,
// rendered output or process arguments through this package.
package render

import (
	"bytes"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/redis-gitops/redis-gitops/reconcile/tlsplan"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Objects are the Kubernetes objects of one cluster. Every field is set by
// Render.
type Objects struct {
	ConfigMap           *corev1ac.ConfigMapApplyConfiguration
	HeadlessService     *corev1ac.ServiceApplyConfiguration
	ClientService       *corev1ac.ServiceApplyConfiguration
	StatefulSet         *appsv1ac.StatefulSetApplyConfiguration
	PodDisruptionBudget *policyv1ac.PodDisruptionBudgetApplyConfiguration
	// ExternalServices are the per-pod Services of spec.externalAccess
	// (NodePort or LoadBalancer), one per ordinal; nil without.
	ExternalServices []*corev1ac.ServiceApplyConfiguration
	// MetricsService publishes the exporters of spec.monitoring; nil
	// without.
	MetricsService *corev1ac.ServiceApplyConfiguration
	// PodMonitor is the Prometheus Operator's PodMonitor, with
	// spec.monitoring.podMonitor; nil without. It is in YAML (what
	// `redis-gitops render` prints) but not in All: the daemon applies
	// only the kinds every Kubernetes has, and a cluster without the
	// Prometheus Operator's CRD could not take it.
	PodMonitor *unstructured.Unstructured
}

// Render returns the objects for c.
//
// c must be defaulted and validated first (spec's SetDefaults, then
// Validate): Render applies no defaults of its own. It still refuses values
// that would make an object Kubernetes rejects or a redis.conf Redis
// misreads, so a cluster that skipped those steps fails here with an error
// instead of rendering something wrong.
func Render(c *spec.RedisCluster) (Objects, error) {
	if c == nil {
		return Objects{}, errors.New("render: nil cluster")
	}
	return RenderAt(c, TargetStage(c))
}

// RenderAt is Render with the pods' TLS stage set to stage rather than the
// spec's target: the stage a running cluster is at in the middle of a
// switch between plaintext and TLS (see listenFile). It matters only with
// spec.tls.
func RenderAt(c *spec.RedisCluster, stage tlsplan.Stage) (Objects, error) {
	if c == nil {
		return Objects{}, errors.New("render: nil cluster")
	}
	id := c.Metadata.Namespace + "/" + c.Metadata.Name
	if err := checkRenderable(c); err != nil {
		return Objects{}, fmt.Errorf("render %s: %w", id, err)
	}
	conf, err := redisConf(c)
	if err != nil {
		return Objects{}, fmt.Errorf("render %s: %w", id, err)
	}
	sts, err := statefulSet(c, conf)
	if err != nil {
		return Objects{}, fmt.Errorf("render %s: %w", id, err)
	}
	return Objects{
		ConfigMap:           configMap(c, conf, stage),
		HeadlessService:     headlessService(c),
		ClientService:       clientService(c),
		StatefulSet:         sts,
		PodDisruptionBudget: podDisruptionBudget(c),
		ExternalServices:    externalServices(c),
		MetricsService:      metricsService(c),
		PodMonitor:          podMonitor(c),
	}, nil
}

// All returns the objects in apply order: the ConfigMap and the Services
// before the PodDisruptionBudget and the StatefulSet, so pods never start
// without their configuration or their DNS names. Nil objects are skipped.
func (o Objects) All() []any {
	all := make([]any, 0, 6+len(o.ExternalServices))
	if o.ConfigMap != nil {
		all = append(all, o.ConfigMap)
	}
	if o.HeadlessService != nil {
		all = append(all, o.HeadlessService)
	}
	if o.ClientService != nil {
		all = append(all, o.ClientService)
	}
	for _, s := range o.ExternalServices {
		all = append(all, s)
	}
	if o.MetricsService != nil {
		all = append(all, o.MetricsService)
	}
	if o.PodDisruptionBudget != nil {
		all = append(all, o.PodDisruptionBudget)
	}
	if o.StatefulSet != nil {
		all = append(all, o.StatefulSet)
	}
	return all
}

// YAML returns the objects as one multi-document YAML stream in apply
// order, then the PodMonitor, documents separated by "---" lines, as
// `kustomize build` prints them. Keys are sorted, so equal objects give
// equal bytes.
func (o Objects) YAML() ([]byte, error) {
	var buf bytes.Buffer
	objs := o.All()
	if o.PodMonitor != nil {
		objs = append(objs, o.PodMonitor)
	}
	for i, obj := range objs {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("marshal object %d: %w", i, err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// checkRenderable reports the fields Render needs that defaulting sets and
// validation checks; it exists so that a cluster that skipped those steps
// fails with a clear error rather than a half-empty object.
func checkRenderable(c *spec.RedisCluster) error {
	const hint = " (Render needs a defaulted, validated cluster)"
	var errs []error
	need := func(ok bool, field, what string) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s %s%s", field, what, hint))
		}
	}
	s := &c.Spec
	need(c.Metadata.Name != "", "metadata.name", "is empty")
	need(c.Metadata.Namespace != "", "metadata.namespace", "is empty")
	need(s.Masters > 0, "spec.masters", "must be positive")
	need(s.Replicas() >= 0, "spec.replicasPerMaster", "must not be negative")
	need(s.Redis.Image != "", "spec.redis.image", "is empty")
	need(s.Redis.NodeTimeout.Duration > 0, "spec.redis.nodeTimeout", "must be positive")
	need(s.Storage.Size != "", "spec.storage.size", "is empty")
	switch s.Placement.AntiAffinity {
	case spec.AntiAffinityPreferred, spec.AntiAffinityRequired:
		need(s.Placement.TopologyKey != "", "spec.placement.topologyKey", "is empty")
	case spec.AntiAffinityNone:
	default:
		need(false, "spec.placement.antiAffinity", fmt.Sprintf("is %q, not one of preferred, required, none", s.Placement.AntiAffinity))
	}
	if s.Auth != nil {
		need(s.Auth.SecretRef.Name != "", "spec.auth.secretRef.name", "is empty")
		need(s.Auth.SecretRef.Key != "", "spec.auth.secretRef.key", "is empty")
	}
	if s.TLS != nil {
		need(s.TLS.SecretRef.Name != "", "spec.tls.secretRef.name", "is empty")
	}
	if m := s.Monitoring; m.Enabled {
		need(m.Image != "", "spec.monitoring.image", "is empty")
		need(m.Port > 0 && m.Port <= 65535, "spec.monitoring.port", "must be a port number")
	}
	return errors.Join(errs...)
}
