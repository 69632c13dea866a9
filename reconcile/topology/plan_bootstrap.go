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
	lower, restore := syncDelaySteps(d, o, pl)
	p.Actions = append(p.Actions, lower...)
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
	p.Actions = append(p.Actions, restore...)
	return p
}

// The setting a bootstrap lowers, and its value when redis.conf does not
// set it (Redis's default since diskless sync exists).
const (
	DisklessSyncDelay        = "repl-diskless-sync-delay"
	DefaultDisklessSyncDelay = "5"
)

// SyncDelay is the repl-diskless-sync-delay the nodes run outside a
// bootstrap: the declared value, else Redis's default.
func (d Desired) SyncDelay() string {
	if d.DisklessSyncDelay == "" {
		return DefaultDisklessSyncDelay
	}
	return d.DisklessSyncDelay
}

// syncDelaySteps are the bootstrap's two settings steps on each master
// that will serve a replica. A master with repl-diskless-sync-delay N
// holds a replica's sync back N seconds for more replicas to share one
// transfer; with no key anywhere there is nothing to share, so lower
// sets it to 0 before any replica attaches, and restore sets the
// declared value back once the master's replicas are linked. None when
// the declared value is 0 already or some node holds a key (never on a
// bootstrap: invariant 2; checked here all the same). A crash between the
// two leaves 0 behind; the next pass's settings step compares the nodes
// with the declared value (or the default) and sets it back.
func syncDelaySteps(d Desired, o *Observed, pl Placement) (lower, restore []Action) {
	want := d.SyncDelay()
	if want == "0" {
		return nil, nil
	}
	for _, n := range o.Nodes {
		if n.Keys > 0 {
			return nil, nil
		}
	}
	replicas := map[string]int{}
	for _, m := range pl.ReplicaOf {
		replicas[m]++
	}
	for _, m := range pl.Masters {
		id := o.ByPod[m]
		if replicas[m] == 0 || id == "" {
			continue
		}
		lower = append(lower, Action{Kind: SetConfig, Pod: m, Node: id, Setting: DisklessSyncDelay, Value: "0",
			Reason: "bootstrap: no node holds a key, so the first sync of its replicas has nothing to wait for"})
		restore = append(restore, Action{Kind: SetConfig, Pod: m, Node: id, Setting: DisklessSyncDelay, Value: want, AfterReplicas: replicas[m],
			Reason: "bootstrap: back to the declared value (or Redis's default) once its replicas are linked"})
	}
	return lower, restore
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
