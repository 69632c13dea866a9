package migrate

import (
	"context"
	"fmt"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile/rediserr"
)

// moveBatch moves a round of slots of one source/target pair: the steps
// of moveSlot, each sent to its node as one pipeline for the whole round,
// since a cluster command's cost is mostly its round trip (and Redis saves
// its cluster config once per pipeline read, not once per command). A slot
// that needs care (a key on both sides, a value too large for the batch
// timeout, a target that owns it already) leaves the round for moveSlot's
// one-slot path. done counts the slots assigned to the target.
//
// Every step is idempotent, as in moveSlot: a round stopped anywhere is
// finished by moving its slots again.
//
// keysMoved is called once the round's keys have all moved: from then on
// the round only assigns its slots, and the pacer may start another
// round's keys meanwhile (the SETSLOT pipelines wait on nodes.conf
// fsyncs, not on the pacer's budget).
func (e *Engine) moveBatch(ctx context.Context, conns *pool, round []Move, keysMoved func()) (st slotStats, done int, err error) {
	if len(round) == 1 {
		st, err := e.moveSlot(ctx, conns, round[0])
		if err != nil {
			return st, 0, err
		}
		return st, 1, nil
	}
	m0 := round[0]
	src, dst := conns.get(m0.Source.Addr), conns.get(m0.Target.Addr)

	// 1. IMPORTING on the target, for every slot of the round.
	var cmds [][]any
	for _, m := range round {
		cmds = append(cmds, []any{"CLUSTER", "SETSLOT", m.Slot, "IMPORTING", m.Source.ID})
	}
	replies, err := pipe(ctx, dst, 0, cmds...)
	if err != nil {
		return st, 0, fmt.Errorf("slots of %s: set importing on %s: %w", m0.Source.Name, m0.Target.Name, err)
	}
	var open, single []Move
	for i, m := range round {
		switch r := replies[i]; {
		case r.Err == nil:
			open = append(open, m)
		case rediserr.IsAlreadyOwner(r.Err):
			single = append(single, m)
		default:
			return st, 0, fmt.Errorf("slot %d: set importing on %s: %w", m.Slot, m.Target.Name, r.Err)
		}
	}

	// 2. MIGRATING on the source, with each slot's first batch of keys.
	cmds = cmds[:0]
	for _, m := range open {
		cmds = append(cmds, []any{"CLUSTER", "SETSLOT", m.Slot, "MIGRATING", m.Target.ID},
			[]any{"CLUSTER", "GETKEYSINSLOT", m.Slot, e.pacer.keys()})
	}
	if replies, err = pipe(ctx, src, 0, cmds...); err != nil {
		return st, 0, fmt.Errorf("slots of %s: set migrating: %w", m0.Source.Name, err)
	}
	keys := map[int][]string{}
	for i, m := range open {
		if r := replies[2*i]; r.Err != nil {
			return st, 0, fmt.Errorf("slot %d: set migrating on %s: %w", m.Slot, m.Source.Name, r.Err)
		}
		if r := replies[2*i+1]; r.Err != nil {
			return st, 0, fmt.Errorf("slot %d: keys in slot on %s: %w", m.Slot, m.Source.Name, r.Err)
		}
		keys[m.Slot] = strs(replies[2*i+1].Val)
	}

	// 3. MIGRATE, each followed by the slot's next batch of keys, in
	// pipelines of at most the pacer's batch size (a slot with more keys
	// sends the first of them; GETKEYSINSLOT gives the rest again), each
	// timed for the pacer, until no slot has any left.
	pending := slicesWithKeys(open, keys)
	for len(pending) > 0 {
		limit := e.pacer.keys()
		var group []Move
		var sent [][]string
		n := 0
		for len(pending) > 0 && n < limit {
			m := pending[0]
			ks := keys[m.Slot][:min(len(keys[m.Slot]), limit-n)]
			group, sent = append(group, m), append(sent, ks)
			n += len(ks)
			pending = pending[1:]
		}
		cmds = cmds[:0]
		for i, m := range group {
			cmds = append(cmds, e.migrateArgs(m, sent[i], e.Timeout, false), []any{"CLUSTER", "GETKEYSINSLOT", m.Slot, limit})
		}
		began := time.Now()
		replies, err := pipe(ctx, src, e.Timeout*time.Duration(len(group)), cmds...)
		if err != nil {
			return st, 0, fmt.Errorf("slots of %s: migrate to %s: %w", m0.Source.Name, m0.Target.Name, err)
		}
		e.pacer.observe(n, time.Since(began))
		for i, m := range group {
			if replies[2*i].Err == nil && replies[2*i+1].Err == nil {
				st.keys += int64(len(sent[i]))
				keys[m.Slot] = strs(replies[2*i+1].Val)
			} else {
				// BUSYKEY, a timeout: the one-slot path knows what to do.
				moved, replaced, next, err := e.migrateBatch(ctx, src, dst, m, sent[i])
				st.keys += moved
				st.replaced += replaced
				if err != nil {
					return st, 0, err
				}
				keys[m.Slot] = next
			}
			if len(keys[m.Slot]) > 0 {
				pending = append(pending, m)
			}
		}
	}

	// 4. Assign: verified empty on the source, then the target, then the
	// source and every other master (see assign).
	keysMoved()
	if err := e.assignRound(ctx, conns, open); err != nil {
		return st, 0, err
	}
	done = len(open)
	for _, m := range single {
		s, err := e.moveSlot(ctx, conns, m)
		st.keys += s.keys
		st.replaced += s.replaced
		if err != nil {
			return st, done, err
		}
		done++
	}
	return st, done, nil
}

func slicesWithKeys(ms []Move, keys map[int][]string) []Move {
	var out []Move
	for _, m := range ms {
		if len(keys[m.Slot]) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// assignRound is assign for a round's slots, one pipeline per node.
func (e *Engine) assignRound(ctx context.Context, conns *pool, round []Move) error {
	if len(round) == 0 {
		return nil
	}
	m0 := round[0]
	src, dst := conns.get(m0.Source.Addr), conns.get(m0.Target.Addr)
	all := func(verb ...any) [][]any {
		var cmds [][]any
		for _, m := range round {
			cmds = append(cmds, append([]any{"CLUSTER", verb[0], m.Slot}, verb[1:]...))
		}
		return cmds
	}
	replies, err := pipe(ctx, src, 0, all("COUNTKEYSINSLOT")...)
	if err != nil {
		return fmt.Errorf("slots of %s: count keys: %w", m0.Source.Name, err)
	}
	for i, m := range round {
		if r := replies[i]; r.Err != nil {
			return fmt.Errorf("slot %d: count keys on %s: %w", m.Slot, m.Source.Name, r.Err)
		} else if c, _ := r.Val.(int64); c != 0 {
			return fmt.Errorf("slot %d: %d keys still on %s: not assigning the slot", m.Slot, c, m.Source.Name)
		}
	}
	node := all("SETSLOT", "NODE", m0.Target.ID)
	if err := FirstErr(pipe(ctx, dst, 0, node...)); err != nil {
		return fmt.Errorf("slots of %s: set node on %s: %w", m0.Source.Name, m0.Target.Name, err)
	}
	e.tellOthers(ctx, conns, m0, node)
	if err := FirstErr(pipe(ctx, src, 0, node...)); err != nil && !becameReplica(err) {
		return fmt.Errorf("slots of %s: set node on %s: %w", m0.Source.Name, m0.Source.Name, err)
	}
	return nil
}

// FirstErr is a pipeline's error: its own (a connection or a context
// ended), else the first command's error, in the commands' order.
func FirstErr(replies []Reply, err error) error {
	if err != nil {
		return err
	}
	for _, r := range replies {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// becameReplica: a source that lost its last slot (to another round's
// target, whose bumped epoch reached it first) turns into a replica of
// that target (cluster-allow-replica-migration, Redis 7), and refuses
// SETSLOT ("only with masters"). It holds no slot then, and its keys were
// verified gone (COUNTKEYSINSLOT) before the target took the slot.
func becameReplica(err error) bool {
	return rediserr.IsOnlyMasters(err)
}
