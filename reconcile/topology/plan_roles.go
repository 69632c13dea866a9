package topology

import "fmt"

// planRoles gives every node the role the placement wants: a planned
// failover where a replica should be its shard's master, then a replicate
// for every replica not following its master yet. A master that holds
// data changes role only by a failover: Redis refuses CLUSTER REPLICATE
// on a master with slots or keys ("the node must be empty and without
// assigned slots").
func planRoles(f *facts) steps {
	s, failingOver := planSwaps(f)
	r := planReplicas(f, failingOver)
	s.actions = append(s.actions, r.actions...)
	s.drift = append(s.drift, r.drift...)
	return s
}

// planSwaps plans a CLUSTER FAILOVER on each replica that placement wants
// as its shard's master, and reports a desired master without slots. It
// returns the pods whose role is about to change.
func planSwaps(f *facts) (steps, map[string]bool) {
	var s steps
	desiredMaster := map[string]bool{}
	for _, m := range f.pl.Masters {
		desiredMaster[m] = true
	}
	failingOver := map[string]bool{}
	for _, podName := range f.pl.Masters {
		id := f.o.ByPod[podName]
		n := f.o.Nodes[id]
		if n == nil {
			continue
		}
		if !n.IsMaster() {
			// A replica that should be the master: planned failover, only when
			// its master is the node that should become its replica and the
			// link is in sync (CLUSTER FAILOVER waits for the offset anyway).
			cur := f.o.Nodes[n.Self.MasterID]
			if cur == nil || desiredMaster[cur.Pod.Name] {
				continue
			}
			detail := "should be a master: " + cur.Pod.Name + " took over in a failover"
			if n.MasterLinkUp {
				s.actions = append(s.actions, Action{Kind: Failover, Pod: podName, Node: id, Target: cur.ID, TargetPod: cur.Pod.Name,
					Reason: fmt.Sprintf("placement wants this shard's master on %s (domain %s), not on %s (domain %s): swap roles with a planned failover", podName, n.Pod.Domain, cur.Pod.Name, cur.Pod.Domain)})
			} else {
				// Just restarted, or still in its first sync: the swap waits for
				// the link, and the pass for the swap.
				s.waiting = append(s.waiting, fmt.Sprintf("failover %s: waits for its replication link to %s", podName, cur.Pod.Name))
				detail += "; the swap waits for its replication link"
			}
			s.drift = append(s.drift, Drift{Kind: DriftRole, Subject: podName, Detail: detail})
			failingOver[podName], failingOver[cur.Pod.Name] = true, true
			continue
		}
		if n.SlotCount() == 0 && len(f.uncovered) == 0 {
			s.drift = append(s.drift, Drift{Kind: DriftNoSlots, Subject: podName, Detail: "a master without slots (scale-out rebalancing gives it some)"})
		}
	}
	return s, failingOver
}

// planReplicas makes each desired replica follow its desired master, where
// that is safe: it is empty, or already a replica (CLUSTER REPLICATE on a
// replica resyncs it from the new master, losing nothing).
func planReplicas(f *facts, failingOver map[string]bool) steps {
	var s steps
	for _, a := range replicateActions(f.o, f.pl, "") {
		rn, mn := f.o.Nodes[a.Node], f.o.Nodes[a.Target]
		switch {
		case failingOver[a.Pod] || failingOver[a.TargetPod]:
			continue // next pass, once roles have swapped
		case rn.Self.Has("slave") && rn.Self.MasterID == mn.ID:
			continue // already in place
		case !mn.IsMaster() || mn.SlotCount() == 0 && len(f.uncovered) == 0:
			continue // its master-to-be is not a serving master yet
		case rn.IsMaster() && (rn.SlotCount() > 0 || rn.Keys > 0):
			continue // holds data: only a failover may change its role
		case rn.IsMaster():
			a.Reason = "an empty master (new pod, or its data was lost) joins as the replica this shard lacks"
			s.drift = append(s.drift, Drift{Kind: DriftMissing, Subject: a.TargetPod, Detail: "missing a replica; " + a.Pod + " is an empty master"})
		default:
			old := f.o.Nodes[rn.Self.MasterID]
			from := short(rn.Self.MasterID)
			if old != nil {
				from = old.Pod.Name
			}
			a.Reason = fmt.Sprintf("move the replica from %s to %s, off its master's failure domain", from, a.TargetPod)
			s.drift = append(s.drift, Drift{Kind: DriftPlacement, Subject: a.Pod, Detail: "replica of " + from + ", should follow " + a.TargetPod})
		}
		s.actions = append(s.actions, a)
	}
	return s
}
