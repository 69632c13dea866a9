package converge

import (
	"context"
	"fmt"
	"strings"

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
	// Both sides must be open for MIGRATE to hand keys over and for clients
	// to be redirected with ASK meanwhile.
	if !hasOpen(dst, a.Slot, false) {
		if _, err := dstA.Do(ctx, "CLUSTER", "SETSLOT", a.Slot, "IMPORTING", src.ID); err != nil {
			return err
		}
	}
	if !hasOpen(src, a.Slot, true) {
		if _, err := srcA.Do(ctx, "CLUSTER", "SETSLOT", a.Slot, "MIGRATING", dst.ID); err != nil {
			return err
		}
	}
	if err := e.moveKeys(ctx, srcA, dst, a.Slot); err != nil {
		return err
	}
	if n, err := countKeys(ctx, srcA, a.Slot); err != nil || n != 0 {
		return fmt.Errorf("slot %d: %d keys still on the source after migration (%v): not assigning it", a.Slot, n, err)
	}
	// Target first, so a crash now cannot leave the slot without an owner;
	// then the source; then every other master.
	for _, c := range []Admin{dstA, srcA} {
		if _, err := c.Do(ctx, "CLUSTER", "SETSLOT", a.Slot, "NODE", dst.ID); err != nil && !strings.Contains(err.Error(), "only with masters") {
			return err
		}
	}
	for _, id := range o.NodeIDs() {
		n := o.Nodes[id]
		if id == src.ID || id == dst.ID || !n.IsMaster() {
			continue
		}
		if err := e.with(ctx, n, func(c Admin) error {
			_, err := c.Do(ctx, "CLUSTER", "SETSLOT", a.Slot, "NODE", dst.ID)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
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

// moveKeys migrates every key of slot from the source to dst in batches.
// A key that already exists on the target stops the slot (BUSYKEY): the
// values may differ, and choosing one would lose the other.
func (e *Executor) moveKeys(ctx context.Context, srcA Admin, dst *topology.Node, slot int) error {
	batch := e.KeysPerBatch
	if batch <= 0 {
		batch = 1000
	}
	for {
		v, err := srcA.Do(ctx, "CLUSTER", "GETKEYSINSLOT", slot, batch)
		if err != nil {
			return err
		}
		keys, _ := v.([]any)
		if len(keys) == 0 {
			return nil
		}
		args := []any{"MIGRATE", dst.Pod.IP, e.Port, "", 0, 60000}
		if e.Password != "" {
			args = append(args, "AUTH", e.Password)
		}
		args = append(args, "KEYS")
		args = append(args, keys...)
		if _, err := srcA.Do(ctx, args...); err != nil {
			if strings.Contains(err.Error(), "BUSYKEY") {
				return fmt.Errorf("slot %d: a key already exists on %s (BUSYKEY); stopping with the slot open so nothing is lost", slot, dst.Pod.Name)
			}
			return fmt.Errorf("slot %d: migrate: %w", slot, err)
		}
	}
}
