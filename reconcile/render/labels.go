package render

import (
	"maps"
	"strconv"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/redis-gitops/redis-gitops/spec"
)

// Labels the project puts on every object it renders, on the pod template
// (so on every pod) and on the volume claim template (so on every PVC).
const (
	// LabelManagedBy marks what redis-gitops made; its value is ManagedByValue.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is LabelManagedBy's value, also the SSA field manager.
	ManagedByValue = "redis-gitops"
	// LabelCluster carries the cluster's name. It is the whole pod selector.
	LabelCluster = "redis-gitops.dev/cluster"
	// LabelSource names the Git source (repo, branch and path) a daemon
	// applied the objects from, so that a daemon prunes only what its own
	// repo declared, never another repo's clusters. Objects applied by the
	// CLI carry none.
	LabelSource = "redis-gitops.dev/source"

	// LabelName is always "redis".
	LabelName = "app.kubernetes.io/name"
	// LabelInstance carries the cluster's name, for generic tooling.
	LabelInstance = "app.kubernetes.io/instance"
	// LabelComponent says which part of the cluster an object is: "config",
	// "node" (pods, StatefulSet, headless Service, PDB, PVCs) or "client".
	LabelComponent = "app.kubernetes.io/component"
)

// Annotations on the StatefulSet that record the desired topology, so that
// `redis-gitops status` can judge a live cluster without its Git repo.
const (
	AnnotationMasters     = "redis-gitops.dev/masters"
	AnnotationReplicas    = "redis-gitops.dev/replicas-per-master"
	AnnotationTopologyKey = "redis-gitops.dev/topology-key"
	AnnotationZoneKey     = "redis-gitops.dev/zone-key"
)

// TopologyAnnotations are the StatefulSet's desired-topology annotations.
func TopologyAnnotations(c *spec.RedisCluster) map[string]string {
	a := map[string]string{
		AnnotationMasters:     strconv.Itoa(c.Spec.Masters),
		AnnotationReplicas:    strconv.Itoa(c.Spec.Replicas()),
		AnnotationTopologyKey: c.Spec.Placement.TopologyKey,
	}
	if c.Spec.Placement.ZoneKey != "" {
		a[AnnotationZoneKey] = c.Spec.Placement.ZoneKey
	}
	maps.Copy(a, tlsAnnotations(c))
	return a
}

// AnnotationConfigHash on the StatefulSet (not its pod template) is the
// SHA-256 of the rendered redis.conf. A configuration change is not a
// template change, so it rolls no pod: the reconciler sets what Redis can
// change at runtime with CONFIG SET, and restarts, one pod at a time with
// planned failovers, only the nodes running a setting Redis cannot change
// at runtime. Template changes (image, resources) roll every pod the same
// way (the StatefulSet is OnDelete).
const AnnotationConfigHash = "redis-gitops.dev/config-hash"

// Values of LabelComponent.
const (
	componentConfig = "config"
	componentNode   = "node"
	componentClient = "client"
	// ComponentAuthState is the Secret where the daemon keeps the password
	// in effect on the nodes, between passes of a rotation.
	ComponentAuthState = "auth-state"
	// ComponentUsersState is the Secret where the daemon records the ACL
	// users it manages on the cluster's nodes (spec.users).
	ComponentUsersState = "users-state"
)

// Selector is the label selector of the cluster's pods, used by the
// StatefulSet, the Services, the PodDisruptionBudget and pod anti-affinity.
// It is one label on purpose: a StatefulSet's selector is immutable, so it
// must never change when labels are added later.
func Selector(name string) map[string]string {
	return map[string]string{LabelCluster: name}
}

// ManagedSelector is the label selector string (for a List call) matching
// everything redis-gitops made for the cluster in its namespace. Beyond the
// rendered objects it also matches the cluster's pods and PVCs, which carry
// the same labels but are made by the StatefulSet controller: a pruner must
// list only the kinds that Objects holds, never pods or claims.
func ManagedSelector(name string) string {
	return labels.SelectorFromSet(labels.Set{
		LabelManagedBy: ManagedByValue,
		LabelCluster:   name,
	}).String()
}

// SourceSelector is the label selector (for a List call) of everything
// applied from source; for source "" (the CLI), of everything applied
// without one.
func SourceSelector(source string) string {
	return LabelManagedBy + "=" + ManagedByValue + "," + sourceTerm(source)
}

// ClusterSourceSelector is ManagedSelector(name) limited to source.
func ClusterSourceSelector(name, source string) string {
	return ManagedSelector(name) + "," + sourceTerm(source)
}

func sourceTerm(source string) string {
	if source == "" {
		return "!" + LabelSource
	}
	return LabelSource + "=" + source
}

// projectLabels are the labels redis-gitops sets on an object of component.
func projectLabels(name, component string) map[string]string {
	return map[string]string{
		LabelManagedBy: ManagedByValue,
		LabelCluster:   name,
		LabelName:      "redis",
		LabelInstance:  name,
		LabelComponent: component,
	}
}

// AuthStateLabels label the daemon's auth-state Secret. It carries no
// source label: it is not rendered from Git, and pruning leaves it alone.
func AuthStateLabels(cluster string) map[string]string {
	return projectLabels(cluster, ComponentAuthState)
}

// AuthStateName is the daemon's auth-state Secret of a cluster.
func AuthStateName(cluster string) string { return cluster + "-redis-gitops-auth" }

// UsersStateLabels label the daemon's users-state Secret; like the
// auth-state Secret it carries no source label, so pruning leaves it.
func UsersStateLabels(cluster string) map[string]string {
	return projectLabels(cluster, ComponentUsersState)
}

// UsersStateName is the daemon's users-state Secret of a cluster.
func UsersStateName(cluster string) string { return cluster + "-redis-gitops-users" }

// objectLabels are the cluster's metadata.labels with the project's labels
// over them: on a conflict the project wins, since selectors, pruning and
// ownership depend on its values.
func objectLabels(c *spec.RedisCluster, component string) map[string]string {
	return overlay(c.Metadata.Labels, projectLabels(c.Metadata.Name, component))
}

// objectAnnotations are the cluster's metadata.annotations, or nil.
func objectAnnotations(c *spec.RedisCluster) map[string]string {
	return overlay(c.Metadata.Annotations, nil)
}

// overlay returns a new map with base's entries, then over's. It returns
// nil when both are empty so that no empty map reaches the output.
func overlay(base, over map[string]string) map[string]string {
	if len(base)+len(over) == 0 {
		return nil
	}
	m := make(map[string]string, len(base)+len(over))
	maps.Copy(m, base)
	maps.Copy(m, over)
	return m
}
