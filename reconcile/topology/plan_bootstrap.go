package topology

import (
	"fmt"
	"sort"
	"strings"
)

// Blocked reasons that only mean "not yet": pods still starting.
const (
	blockedNoNode   = "no Redis node answers yet"
	blockedWaitPods = "bootstrap waits for all %d pods to answer (%d do)"
)

// IsWaiting tells a Blocked reason that only means the pods are still
// starting from one that needs a person.
func IsWaiting(blocked string) bool {
	return blocked == blockedNoNode || strings.HasPrefix(blocked, "bootstrap waits for all ")
}

// planBootstrap forms a new cluster, only when every pod answers and every
// node is empty: no slots, no keys, no peers (invariant 2).
func planBootstrap(d Desired, o *Observed, want int, p Plan) Plan {
	if len(o.Nodes) < want {
		p.Blocked = fmt.Sprintf(blockedWaitPods, want, len(o.Nodes))
		return p
	}
	pl, err := Place(o.Pods, d.Masters, d.ReplicasPerMaster, d.ZoneAware, Current{})
	if err != nil {
		p.Blocked = err.Error()
		return p
	}
	p.Placement, p.Bootstrap = pl, true
	for _, r := range pl.Degraded {
		p.Drift = append(p.Drift, Drift{Kind: DriftPlacement, Subject: "placement", Detail: r})
	}
	ids := o.NodeIDs()
	for i, id := range ids {
		n := o.Nodes[id]
		p.Actions = append(p.Actions, Action{Kind: SetConfigEpoch, Pod: n.Pod.Name, Node: id, Epoch: int64(i + 1),
			Reason: "distinct config epochs avoid a slow epoch-collision round on a new cluster"})
	}
	anchor := o.Nodes[ids[0]]
	for _, id := range ids[1:] {
		n := o.Nodes[id]
		p.Actions = append(p.Actions, meet(d, anchor, n, "bootstrap: join the cluster"))
	}
	slots := SplitSlots(d.Masters)
	for i, podName := range pl.Masters {
		id := o.ByPod[podName]
		p.Actions = append(p.Actions, Action{Kind: AddSlots, Pod: podName, Node: id, Slots: []SlotRange{slots[i]},
			Reason: fmt.Sprintf("bootstrap: shard %d of %d", i+1, d.Masters)})
	}
	p.Actions = append(p.Actions, replicateActions(o, pl, "bootstrap: replica placed on another failure domain than its master")...)
	return p
}

// resumeBootstrap gives the slots to the desired masters of a cluster
// whose bootstrap stopped after the meet (no node holds a slot or a key),
// the way planBootstrap would have.
func resumeBootstrap(f *facts) []Action {
	var out []Action
	slots := SplitSlots(f.d.Masters)
	for i, podName := range f.pl.Masters {
		out = append(out, Action{Kind: AddSlots, Pod: podName, Node: f.o.ByPod[podName], Slots: []SlotRange{slots[i]},
			Reason: "resume an interrupted bootstrap: no node holds a slot or a key"})
	}
	return out
}

// replicateActions makes every desired replica follow its desired master,
// where that is safe: the replica is empty, or already a replica.
func replicateActions(o *Observed, pl Placement, reason string) []Action {
	var out []Action
	replicas := make([]string, 0, len(pl.ReplicaOf))
	for r := range pl.ReplicaOf {
		replicas = append(replicas, r)
	}
	sort.Strings(replicas)
	for _, r := range replicas {
		m := pl.ReplicaOf[r]
		rid, mid := o.ByPod[r], o.ByPod[m]
		if rid == "" || mid == "" {
			continue
		}
		out = append(out, Action{Kind: Replicate, Pod: r, Node: rid, Target: mid, TargetPod: m, Reason: reason})
	}
	return out
}
