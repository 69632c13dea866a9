package topology

import "fmt"

// Why a destructive step is blocked, and what a person can do.
const (
	blockedForget   = "spec.reconcile.destructive.forgetNodes is false: forget it by hand (CLUSTER FORGET on every node within 60 s), or allow it"
	blockedTakeOver = "spec.reconcile.destructive.takeOverSlots is false: restore the node that held these slots (its pod and volume), or allow the take-over, which loses their keys for good"
)

// planUncovered decides what becomes of slots no view gives an owner. None
// anywhere, and no key either: a bootstrap was interrupted after the meet,
// and it resumes. Otherwise their owner is gone with their keys: they are
// reported, and given to the live masters only as a take-over the policy
// allows (assigning them silently would hide the loss).
func planUncovered(f *facts) steps {
	var s steps
	interrupted := len(f.uncovered) == 1 && f.uncovered[0].Len() == SlotCount && f.allAnswered && totalKeys(f.o) == 0
	switch {
	case interrupted:
		if f.placeErr == nil {
			s.actions = resumeBootstrap(f)
		}
	case len(f.uncovered) > 0:
		s.drift = append(s.drift, Drift{Kind: DriftUncovered, Subject: "cluster", Detail: fmt.Sprintf("slots %s have no owner; assigning them could hide lost keys, so they are only reported unless spec.reconcile.destructive.takeOverSlots allows it", formatRanges(f.uncovered))})
		if f.allAnswered {
			s.actions = takeOver(f.d, f.o, f.uncovered)
		}
	}
	return s
}

// takeOver gives slots no node owns to the serving masters, the range to
// the one with the fewest slots so far: a destructive step (the keys of
// those slots are gone with their owner), run only when the policy allows.
func takeOver(d Desired, o *Observed, uncovered []SlotRange) []Action {
	count := map[string]int{}
	var masters []*Node
	for _, id := range o.NodeIDs() {
		if n := o.Nodes[id]; n.IsMaster() && n.SlotCount() > 0 {
			masters = append(masters, n)
			count[id] = n.SlotCount()
		}
	}
	if len(masters) == 0 {
		return nil
	}
	var out []Action
	for _, r := range uncovered {
		best := masters[0]
		for _, m := range masters[1:] {
			if count[m.ID] < count[best.ID] {
				best = m
			}
		}
		count[best.ID] += r.Len()
		a := Action{Kind: AddSlots, Pod: best.Pod.Name, Node: best.ID, Slots: []SlotRange{r}, Destructive: true,
			Reason: "take over slots no live node owns: the cluster serves them again, empty (their keys are lost)"}
		if !d.Policy.TakeOverSlots {
			a.Blocked = blockedTakeOver
		}
		out = append(out, a)
	}
	return out
}

// planForget forgets the nodes gone for good: in some view, and no pod has
// their ID. That is only decidable when every pod answers. A failed node
// is never removed by Redis itself: peers keep it in their tables until
// CLUSTER FORGET, which bans its ID for 60 s so that gossip from a peer
// not yet told does not bring it back. A gone node that still owns slots
// is forgotten only as a take-over, which the policy must allow: its
// slots become uncovered, and planUncovered gives them away next pass.
func planForget(f *facts) steps {
	var s steps
	if !f.allAnswered {
		s.drift = append(s.drift, Drift{Kind: DriftUnreachable, Subject: "cluster",
			Detail: fmt.Sprintf("%d of %d pods answered: nodes gone for good are forgotten only when every pod answers", len(f.o.Nodes), f.want)})
		return s
	}
	gone, holding := map[string]bool{}, map[string]bool{}
	for _, l := range f.strangers {
		// Every pod answered and none runs this ID, so no pod ever will
		// again: the node is gone for good, whether or not node-timeout
		// has flagged it yet.
		if _, v := f.at(l); len(v.Slots) > 0 {
			holding[v.ID] = true
		} else {
			gone[v.ID] = true
		}
	}
	for _, id := range sortedKeys(holding) {
		delete(gone, id)
		s.drift = append(s.drift, Drift{Kind: DriftFailedNode, Subject: short(id),
			Detail: "no pod runs this node and it still owns slots: not forgotten; its slots have no live owner"})
		a := Action{Kind: Forget, Target: id, Destructive: true,
			Reason: "take over the slots of a node no pod runs: forget it on every node, then give its slots to the live masters (their keys are lost)"}
		if !f.d.Policy.TakeOverSlots {
			a.Blocked = blockedTakeOver
		}
		s.actions = append(s.actions, a)
	}
	for _, g := range sortedKeys(gone) {
		a := Action{Kind: Forget, Target: g, Destructive: true,
			Reason: "unreachable, and no pod of the cluster runs this node ID any more: forget it on every node (within the 60 s FORGET ban)"}
		if f.d.Policy.KeepGoneNodes {
			a.Blocked = blockedForget
		}
		s.actions = append(s.actions, a)
		s.drift = append(s.drift, Drift{Kind: DriftFailedNode, Subject: short(g), Detail: "failed node that no pod runs"})
	}
	return s
}
