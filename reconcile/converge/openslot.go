package converge

import (
	"context"
	"fmt"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// fixOpenSlot finishes a slot a migration left open, the way the migration
// would have finished: every key still on the source moves to the target,
// and only then is the slot assigned to the target (invariant 1: never
// SETSLOT NODE while keys of the slot remain on the source).
//
// a.Node is the source (the slot's owner, MIGRATING or not), a.Target the
// importing side.
func (e *Executor) fixOpenSlot(ctx context.Context, o *topology.Observed, a topology.Action) error {
	src, dst := o.Nodes[a.Node], o.Nodes[a.Target]
	if src == nil || dst == nil {
		return fmt.Errorf("slot %d: source or target not observed", a.Slot)
	}
	srcA, dstA := e.Dial(e.addr(src)), e.Dial(e.addr(dst))
	defer srcA.Close()
	defer dstA.Close()
	srcKeys, err := countKeys(ctx, srcA, a.Slot)
	if err != nil {
		return err
	}
	dstKeys, err := countKeys(ctx, dstA, a.Slot)
	if err != nil {
		return err
	}
	if srcKeys == 0 && dstKeys == 0 && !hasOpen(src, a.Slot, true) {
		// Importing on a node that got nothing, source not migrating: the
		// migration never started moving keys. Close it where it stands.
		_, err := dstA.Do(ctx, "CLUSTER", "SETSLOT", a.Slot, "STABLE")
		return err
	}
	// The engine opens whichever side is not open yet (each step is
	// idempotent), moves the keys left, verifies the source empty, and only
	// then assigns the slot.
	return e.moveSlots(ctx, o, []topology.Action{{Kind: topology.MoveSlots, Pod: src.Pod.Name, Node: src.ID,
		Target: dst.ID, TargetPod: dst.Pod.Name, Slots: []topology.SlotRange{{Start: a.Slot, End: a.Slot}}, Reason: a.Reason}})
}

func hasOpen(n *topology.Node, slot int, migrating bool) bool {
	for _, os := range n.Self.Open {
		if os.Slot == slot && os.Migrating == migrating {
			return true
		}
	}
	return false
}

func countKeys(ctx context.Context, c Admin, slot int) (int64, error) {
	v, err := c.Do(ctx, "CLUSTER", "COUNTKEYSINSLOT", slot)
	if err != nil {
		return 0, err
	}
	n, _ := v.(int64)
	return n, nil
}
