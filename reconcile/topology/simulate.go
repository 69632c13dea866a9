package topology

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
)

// WithNewPods is o as it will be once a StatefulSet that grew has started
// pods and the cluster has met them: each pod runs a fresh, empty master
// that every node knows. A plan made on it shows what a scale-out will do
// after the meet (slots to move, replicas to place), which a plan on o
// alone cannot, since o has not seen the pods yet. The new nodes' IDs are
// made up ("new" and a hash of the pod's name) and say so.
func WithNewPods(o *Observed, pods []Pod) *Observed {
	sim := &Observed{Pods: slices.Clone(o.Pods), Nodes: map[string]*Node{}, ByPod: map[string]string{}, Unreachable: map[string]string{}}
	for k, v := range o.Unreachable {
		sim.Unreachable[k] = v
	}
	for k, v := range o.ByPod {
		sim.ByPod[k] = v
	}
	var fresh []ClusterNode
	for _, p := range pods {
		sum := sha1.Sum([]byte(p.Name))
		id := "new0" + hex.EncodeToString(sum[:])[:36]
		line := ClusterNode{ID: id, Addr: fmt.Sprintf("%s:0@0", p.Name), Flags: []string{"master"}, LinkState: "connected"}
		fresh = append(fresh, line)
		sim.Pods = append(sim.Pods, p)
		sim.ByPod[p.Name] = id
		self := line
		self.Flags = []string{"myself", "master"}
		sim.Nodes[id] = &Node{ID: id, Pod: p, Self: self}
	}
	for id, n := range o.Nodes {
		c := *n
		c.View = append(slices.Clone(n.View), fresh...)
		sim.Nodes[id] = &c
	}
	// Each new node knows what the others know.
	var anyView []ClusterNode
	for _, id := range o.NodeIDs() {
		for _, v := range o.Nodes[id].View {
			v.Flags = slices.DeleteFunc(slices.Clone(v.Flags), func(f string) bool { return f == "myself" })
			anyView = append(anyView, v)
		}
		break
	}
	for _, p := range pods {
		n := sim.Nodes[sim.ByPod[p.Name]]
		n.View = append([]ClusterNode{n.Self}, anyView...)
		for _, f := range fresh {
			if f.ID != n.ID {
				n.View = append(n.View, f)
			}
		}
	}
	return sim
}

// Fresh is a cluster not formed yet: each pod runs an empty node that
// knows no peer, as after the StatefulSet's first start.
func Fresh(pods []Pod) *Observed {
	o := &Observed{Pods: slices.Clone(pods), Nodes: map[string]*Node{}, ByPod: map[string]string{}, Unreachable: map[string]string{}}
	for _, p := range pods {
		sum := sha1.Sum([]byte(p.Name))
		id := "new0" + hex.EncodeToString(sum[:])[:36]
		self := ClusterNode{ID: id, Addr: p.Name + ":0@0", Flags: []string{"myself", "master"}, LinkState: "connected"}
		o.Nodes[id] = &Node{ID: id, Pod: p, Self: self, View: []ClusterNode{self}}
		o.ByPod[p.Name] = id
	}
	return o
}

// Converged is the cluster a spec converges to on fresh pods, as if
// bootstrapped and healed: masters holding redis-cli's even split,
// replicas linked, every node knowing every other, no key anywhere. An
// offline plan uses it in place of the live cluster of the base revision
// (keys unknown, so moves count slots only). Its node IDs are made up, as
// Fresh's are.
func Converged(d Desired, pods []Pod) (*Observed, error) {
	o := Fresh(pods)
	pl, err := Place(o.Pods, d.Masters, d.ReplicasPerMaster, d.ZoneAware, Current{})
	if err != nil {
		return nil, err
	}
	slots := SplitSlots(d.Masters)
	for i, name := range pl.Masters {
		n := o.Nodes[o.ByPod[name]]
		n.Self.Slots = []SlotRange{slots[i]}
		n.Self.ConfigEpoch = int64(i + 1)
	}
	for r, m := range pl.ReplicaOf {
		n := o.Nodes[o.ByPod[r]]
		n.Self.Flags = []string{"myself", "slave"}
		n.Self.MasterID = o.ByPod[m]
		n.MasterLinkUp = true
	}
	var lines []ClusterNode
	for _, id := range o.NodeIDs() {
		l := o.Nodes[id].Self
		l.Flags = slices.DeleteFunc(slices.Clone(l.Flags), func(f string) bool { return f == "myself" })
		lines = append(lines, l)
	}
	for id, n := range o.Nodes {
		n.View = []ClusterNode{n.Self}
		for _, l := range lines {
			if l.ID != id {
				n.View = append(n.View, l)
			}
		}
	}
	return o, nil
}
