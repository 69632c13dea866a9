package topology

import "fmt"

// planOpenSlots finishes what a migration started. A slot stays MIGRATING
// on its source and IMPORTING on its target until CLUSTER SETSLOT NODE
// closes it; meanwhile clients of its missing keys get ASK redirects, and
// redis-cli --cluster check warns that the slot is open. Both are fixed
// from the node that owns the slot, the way the migration would have ended.
func planOpenSlots(f *facts) steps {
	var s steps
	for _, id := range f.ids {
		n := f.o.Nodes[id]
		for _, os := range n.Self.Open {
			if !os.Migrating {
				continue
			}
			a := Action{Kind: FixOpenSlot, Pod: n.Pod.Name, Node: id, Slot: os.Slot, Target: os.Peer,
				Reason: fmt.Sprintf("slot %d is MIGRATING to %s: finish moving its keys, then assign it", os.Slot, short(os.Peer))}
			if dst := f.o.Nodes[os.Peer]; dst != nil {
				a.TargetPod = dst.Pod.Name
			}
			s.actions = append(s.actions, a)
			s.drift = append(s.drift, Drift{Kind: DriftOpenSlot, Subject: n.Pod.Name, Detail: fmt.Sprintf("slot %d migrating to %s", os.Slot, short(os.Peer))})
		}
		for _, os := range n.Self.Open {
			if os.Migrating || migratingOn(f.o, os.Peer, os.Slot) {
				continue // its source's MIGRATING step above closes it
			}
			// Importing with no MIGRATING peer: the source crashed half-way or
			// the target was told first. Resolved by FixOpenSlot from the owner.
			a := Action{Kind: FixOpenSlot, Node: f.owners[os.Slot], Slot: os.Slot, Target: id, TargetPod: n.Pod.Name,
				Reason: fmt.Sprintf("slot %d is IMPORTING on %s without a MIGRATING source: finish or close it", os.Slot, n.Pod.Name)}
			if owner := f.o.Nodes[f.owners[os.Slot]]; owner != nil {
				a.Pod = owner.Pod.Name
			}
			s.actions = append(s.actions, a)
			s.drift = append(s.drift, Drift{Kind: DriftOpenSlot, Subject: n.Pod.Name, Detail: fmt.Sprintf("slot %d importing from %s", os.Slot, short(os.Peer))})
		}
	}
	return s
}

// migratingOn tells whether node id has slot open as MIGRATING.
func migratingOn(o *Observed, id string, slot int) bool {
	n := o.Nodes[id]
	if n == nil {
		return false
	}
	for _, os := range n.Self.Open {
		if os.Migrating && os.Slot == slot {
			return true
		}
	}
	return false
}
