package topology

import "fmt"

// planMoves gives an even share of the slots to every master to keep and
// none to those to remove (a scale-in drains them), by PlanRebalance. It
// moves slots only on a cluster at rest: every node answers, knows every
// other and agrees on the owners, no slot is open or uncovered, and no
// role is about to change (unsettled: the plan already meets a node, fixes
// an open slot or fails over). A slot given to a node some peer does not
// know yet, or by a master about to become a replica, is a slot whose
// owner the cluster disagrees on.
func planMoves(f *facts, unsettled bool) steps {
	var s steps
	if !f.allAnswered || len(f.uncovered) > 0 || f.disagreement != "" || !f.knowsEveryone || unsettled {
		return s
	}
	var keep []string
	for _, podName := range f.pl.Masters {
		if n := f.o.Nodes[f.o.ByPod[podName]]; n != nil && n.IsMaster() {
			keep = append(keep, n.ID)
		}
	}
	if len(keep) != len(f.pl.Masters) {
		return s // a master to keep is not a master yet: its swap comes first
	}
	rb := PlanRebalance(f.o, keep)
	for _, id := range rb.Drain {
		n := f.o.Nodes[id]
		s.drift = append(s.drift, Drift{Kind: DriftDrain, Subject: n.Pod.Name,
			Detail: fmt.Sprintf("holds %d slots and is not a master to keep: its slots move to the remaining masters before it is removed", n.SlotCount())})
	}
	s.blocked = rb.Blocked
	s.actions = rb.Moves
	return s
}
