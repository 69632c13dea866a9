package adopt

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/redis-gitops/redis-gitops/spec"
)

// NameSuffix is added to the old StatefulSet's name to name the adopting
// cluster: the two must differ (spec.adopt.statefulSet may not be the
// cluster's own StatefulSet).
const NameSuffix = "-gitops"

// Options are what Spec cannot read from the live cluster.
type Options struct {
	// Name is metadata.name. Default: the old StatefulSet's name +
	// NameSuffix.
	Name string
	// Namespace is metadata.namespace. Default: Live.Namespace.
	Namespace string
	// StatefulSet is spec.adopt.statefulSet when Read found none (the
	// first node is not in a pod Read could see). Default: Live's.
	StatefulSet string
}

// Spec is the RedisCluster that takes over live, not defaulted (it states
// what was read, and leaves the rest to the project's defaults), and the
// notes on what it could not carry over. A cluster that cannot be adopted
// is a *RefusedError naming each node and reason.
func Spec(live Live, opts Options) (*spec.RedisCluster, []Note, error) {
	if p := refusals(live); len(p) > 0 {
		return nil, nil, &RefusedError{Problems: p}
	}
	first := live.Nodes[0]
	c := &spec.RedisCluster{APIVersion: spec.APIVersion, Kind: spec.Kind}
	var notes []Note

	sts := opts.StatefulSet
	if sts == "" && live.StatefulSet != nil {
		sts = live.StatefulSet.Name
	}
	if sts == "" {
		return nil, nil, errors.New("no StatefulSet found for " + first.Name() + ": name the StatefulSet running the old cluster")
	}
	c.Metadata.Name = opts.Name
	if c.Metadata.Name == "" {
		c.Metadata.Name = sts + NameSuffix
	}
	c.Metadata.Namespace = opts.Namespace
	if c.Metadata.Namespace == "" {
		c.Metadata.Namespace = live.Namespace
	}
	c.Spec.Adopt = &spec.Adopt{StatefulSet: sts, Port: live.Port}

	masters, replicas, n := shape(live)
	c.Spec.Masters, c.Spec.ReplicasPerMaster = masters, &replicas
	notes = append(notes, n...)

	config, timeout, n := settings(first.Config)
	notes = append(notes, n...)
	notes = append(notes, differing(live, config)...)
	c.Spec.Redis = spec.Redis{Image: "redis:" + first.Version, Config: config, NodeTimeout: timeout}
	if len(config) == 0 {
		c.Spec.Redis.Config = nil
	}
	if versions := versions(live); len(versions) > 1 {
		notes = append(notes, Note{Subject: "version", Detail: fmt.Sprintf("the nodes run different Redis versions (%s); the spec takes %s's", strings.Join(versions, ", "), first.Name())})
	}
	notes = append(notes, modules(live)...)

	if live.Auth != nil {
		c.Spec.Auth = &spec.Auth{SecretRef: *live.Auth}
	}
	notes = append(notes, fromPod(live, c)...)
	return c, notes, nil
}

// shape is the spec's masters and replicasPerMaster: the masters owning
// slots, and the replica count most of them have (the larger on a tie).
func shape(live Live) (masterCount, replicas int, notes []Note) {
	view := live.Nodes[0].View
	names := nodeNames(live)
	count := map[string]int{}
	for _, c := range view {
		if c.Has("slave") && c.MasterID != "" {
			count[c.MasterID]++
		}
	}
	shards := masters(view)
	tally := map[int]int{}
	var each []string
	for _, m := range shards {
		tally[count[m.ID]]++
		each = append(each, fmt.Sprintf("%s has %d", names.of(m), count[m.ID]))
	}
	for r, k := range tally {
		if k > tally[replicas] || k == tally[replicas] && r > replicas {
			replicas = r
		}
	}
	if len(tally) > 1 {
		notes = append(notes, Note{Subject: "replicas", Detail: fmt.Sprintf("the shards have different numbers of replicas (%s); spec.replicasPerMaster is %d, the most common, and the takeover gives every shard that many", strings.Join(each, ", "), replicas)})
	}
	if replicas > spec.MaxReplicasPerMaster {
		notes = append(notes, Note{Subject: "replicas", Detail: fmt.Sprintf("%d replicas per master is more than a RedisCluster has (%d); the spec says %d", replicas, spec.MaxReplicasPerMaster, spec.MaxReplicasPerMaster)})
		replicas = spec.MaxReplicasPerMaster
	}
	for _, c := range view {
		if c.Has("master") && len(c.Slots) == 0 {
			notes = append(notes, Note{Subject: "node " + names.of(c), Detail: "a master owning no slot is not a shard: spec.masters does not count it, and it is released with the other old nodes"})
		}
	}
	return len(shards), replicas, notes
}

// differing notes the carried settings whose value is not the same on
// every node: the spec takes the first node's.
func differing(live Live, config map[string]string) []Note {
	var notes []Note
	for _, k := range slices.Sorted(maps.Keys(config)) {
		var other []string
		for _, n := range live.Nodes[1:] {
			if v, ok := n.Config[k]; ok && v != live.Nodes[0].Config[k] {
				other = append(other, fmt.Sprintf("%q on %s", v, n.Name()))
			}
		}
		if len(other) > 0 {
			notes = append(notes, Note{Subject: "setting " + k, Detail: fmt.Sprintf("differs between nodes (%s); the spec takes %q, %s's", strings.Join(other, ", "), live.Nodes[0].Config[k], live.Nodes[0].Name())})
		}
	}
	return notes
}

func versions(live Live) []string {
	seen := map[string]bool{}
	for _, n := range live.Nodes {
		if n.Version != "" {
			seen[n.Version] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// modules notes every module loaded on an old node: the project loads
// none, so the new nodes will not know its commands or its keys' types.
func modules(live Live) []Note {
	on := map[string][]string{}
	for _, n := range live.Nodes {
		for _, m := range n.Modules {
			on[m] = append(on[m], n.Name())
		}
	}
	var notes []Note
	for _, m := range slices.Sorted(maps.Keys(on)) {
		notes = append(notes, Note{Subject: "module " + m, Detail: fmt.Sprintf("loaded on %d node(s); redis-gitops loads no modules, so the new nodes would not know its commands, nor load keys of its types when they replicate: do not take the cluster over while it holds such keys", len(on[m]))})
	}
	return notes
}

// fromPod fills the image, resources and storage from the pod and its
// StatefulSet, when Read found them.
func fromPod(live Live, c *spec.RedisCluster) []Note {
	if live.Pod == nil {
		return []Note{{Subject: "pod", Detail: fmt.Sprintf("no pod found for %s: the image is redis:%s from INFO, and resources and storage are the project's defaults; check them", live.Nodes[0].Name(), live.Nodes[0].Version)}}
	}
	var notes []Note
	ctr, ok := redisContainer(live.Pod, live.Port)
	if !ok {
		return []Note{{Subject: "pod " + live.Pod.Name, Detail: "no container serves port " + fmt.Sprint(live.Port) + ": the image is from INFO, resources are the project's defaults"}}
	}
	c.Spec.Redis.Image = ctr.Image
	c.Spec.Resources, notes = resources(ctr.Resources)
	if live.StatefulSet == nil {
		return append(notes, Note{Subject: "pod " + live.Pod.Name, Detail: "no StatefulSet owns it: storage is the project's default; check it"})
	}
	claims := live.StatefulSet.Spec.VolumeClaimTemplates
	if len(claims) == 0 {
		return append(notes, Note{Subject: "storage", Detail: fmt.Sprintf("StatefulSet %s has no volumeClaimTemplates (its data is not on a persistent volume); the new pods get one of the default size, %s", live.StatefulSet.Name, spec.DefaultStorageSize)})
	}
	claim := claims[0]
	for _, m := range ctr.VolumeMounts {
		if m.MountPath == live.Nodes[0].Config["dir"] {
			for _, t := range claims {
				if t.Name == m.Name {
					claim = t
				}
			}
		}
	}
	if q, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		c.Spec.Storage.Size = q.String()
	}
	if sc := claim.Spec.StorageClassName; sc != nil {
		c.Spec.Storage.StorageClassName = *sc
	}
	return notes
}

// redisContainer is the pod's container that serves port, else the one
// named redis, else the first.
func redisContainer(pod *corev1.Pod, port int) (corev1.Container, bool) {
	cs := pod.Spec.Containers
	for _, c := range cs {
		for _, p := range c.Ports {
			if int(p.ContainerPort) == port {
				return c, true
			}
		}
	}
	for _, c := range cs {
		if c.Name == "redis" {
			return c, true
		}
	}
	if len(cs) > 0 {
		return cs[0], true
	}
	return corev1.Container{}, false
}

// resources carries a container's cpu and memory requests and limits,
// the only ones spec.resources takes.
func resources(r corev1.ResourceRequirements) (spec.Resources, []Note) {
	var out spec.Resources
	var notes []Note
	take := func(list corev1.ResourceList, what string) map[string]string {
		var m map[string]string
		for _, name := range slices.Sorted(maps.Keys(list)) {
			q := list[name]
			if name != corev1.ResourceCPU && name != corev1.ResourceMemory {
				notes = append(notes, Note{Subject: "resources", Detail: fmt.Sprintf("%s %s %s is not carried over: spec.resources takes cpu and memory only", what, name, q.String())})
				continue
			}
			if m == nil {
				m = map[string]string{}
			}
			m[string(name)] = q.String()
		}
		return m
	}
	out.Requests = take(r.Requests, "request")
	out.Limits = take(r.Limits, "limit")
	return out, notes
}
