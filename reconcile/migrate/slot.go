package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-gitops/redis-gitops/reconcile/rediserr"
)

type slotStats struct{ keys, replaced int64 }

// commandTimeout bounds every command but MIGRATE: the connections the
// engine dials have no read timeout of their own, so that a MIGRATE of a
// large value can take the time it needs.
const commandTimeout = 30 * time.Second

func do(ctx context.Context, c Conn, args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	return c.Do(ctx, args...)
}

func pipe(ctx context.Context, c Conn, timeout time.Duration, cmds ...[]any) ([]Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout+commandTimeout)
	defer cancel()
	return c.Pipe(ctx, cmds...)
}

// moveSlot moves one slot, the way redis-cli's clusterManagerMoveSlot does
// but with large batches and one round trip per batch:
//
//  1. SETSLOT IMPORTING on the target, then MIGRATING on the source (in this
//     order: once the source says MIGRATING it sends clients to the target
//     with ASK, and the target must then accept them);
//  2. GETKEYSINSLOT and MIGRATE ... KEYS until the source has no key left;
//  3. SETSLOT NODE on the target, then the source, then every other master.
//
// Every step is idempotent, so a move interrupted anywhere is finished by
// running it again.
func (e *Engine) moveSlot(ctx context.Context, conns *pool, m Move) (slotStats, error) {
	var st slotStats
	src, dst := conns.get(m.Source.Addr), conns.get(m.Target.Addr)
	if _, err := do(ctx, dst, "CLUSTER", "SETSLOT", m.Slot, "IMPORTING", m.Source.ID); err != nil {
		if !rediserr.IsAlreadyOwner(err) {
			return st, fmt.Errorf("slot %d: set importing on %s: %w", m.Slot, m.Target.Name, err)
		}
		// The target owns it already: a run that died after SETSLOT NODE on
		// the target. Only the source and the others are left to tell.
		return st, e.assign(ctx, conns, m, src)
	}
	replies, err := pipe(ctx, src, 0,
		[]any{"CLUSTER", "SETSLOT", m.Slot, "MIGRATING", m.Target.ID},
		[]any{"CLUSTER", "GETKEYSINSLOT", m.Slot, e.pacer.keys()})
	if err == nil {
		err = errors.Join(replies[0].Err, replies[1].Err)
	}
	if err != nil {
		return st, fmt.Errorf("slot %d: set migrating on %s: %w", m.Slot, m.Source.Name, err)
	}
	keys := strs(replies[1].Val)
	for len(keys) > 0 {
		n, replaced, left, err := e.migrateBatch(ctx, src, dst, m, keys)
		st.keys += n
		st.replaced += replaced
		if err != nil {
			return st, err
		}
		keys = left
	}
	return st, e.assign(ctx, conns, m, src)
}

// assign gives the slot to the target, on the target first so that no
// moment exists where neither side claims it, then on the source, whose
// own check is the last guard of invariant 1: Redis refuses SETSLOT NODE
// on a node that still holds keys of the slot. The other masters learn it
// here rather than from gossip; one that fails to is no error, gossip
// reaches it from the target's bumped config epoch.
func (e *Engine) assign(ctx context.Context, conns *pool, m Move, src Conn) error {
	if n, err := do(ctx, src, "CLUSTER", "COUNTKEYSINSLOT", m.Slot); err != nil {
		return fmt.Errorf("slot %d: count keys on %s: %w", m.Slot, m.Source.Name, err)
	} else if c, _ := n.(int64); c != 0 {
		return fmt.Errorf("slot %d: %d keys still on %s: not assigning the slot", m.Slot, c, m.Source.Name)
	}
	dst := conns.get(m.Target.Addr)
	if _, err := do(ctx, dst, "CLUSTER", "SETSLOT", m.Slot, "NODE", m.Target.ID); err != nil {
		return fmt.Errorf("slot %d: set node on %s: %w", m.Slot, m.Target.Name, err)
	}
	e.tellOthers(ctx, conns, m, [][]any{{"CLUSTER", "SETSLOT", m.Slot, "NODE", m.Target.ID}})
	if _, err := do(ctx, src, "CLUSTER", "SETSLOT", m.Slot, "NODE", m.Target.ID); err != nil && !becameReplica(err) {
		return fmt.Errorf("slot %d: set node on %s: %w", m.Slot, m.Source.Name, err)
	}
	return nil
}

// tellOthers sends node, SETSLOT NODE for slots of m's pair, to every
// master but m's source and target, without waiting: Run waits for them
// before it returns. One that fails is no error: gossip reaches it from
// the target's bumped config epoch.
func (e *Engine) tellOthers(ctx context.Context, conns *pool, m Move, node [][]any) {
	for _, o := range e.Others {
		if o.ID == m.Source.ID || o.ID == m.Target.ID {
			continue
		}
		e.tell.Go(func() {
			if err := FirstErr(pipe(ctx, conns.get(o.Addr), 0, node...)); err != nil && e.Log != nil {
				e.Log.Debug("migrate: a master will learn the new owners by gossip", "node", o.Name, "err", err)
			}
		})
	}
}

// migrateBatch moves keys with one MIGRATE and, in the same round trip,
// asks the source for the next batch. It returns the keys moved, those
// moved with REPLACE, and the next batch (empty when the slot is empty on
// the source: GETKEYSINSLOT runs after MIGRATE on the same connection).
func (e *Engine) migrateBatch(ctx context.Context, src, dst Conn, m Move, keys []string) (moved, replaced int64, next []string, err error) {
	began := time.Now()
	replies, err := pipe(ctx, src, e.Timeout, e.migrateArgs(m, keys, e.Timeout, false), []any{"CLUSTER", "GETKEYSINSLOT", m.Slot, e.pacer.keys()})
	if err == nil && replies[0].Err == nil && replies[1].Err == nil {
		e.pacer.observe(len(keys), time.Since(began))
		return int64(len(keys)), 0, strs(replies[1].Val), nil
	}
	if err == nil {
		err = replies[0].Err
	}
	if err == nil { // MIGRATE worked, GETKEYSINSLOT did not
		next, err = e.keysInSlot(ctx, src, m)
		return int64(len(keys)), 0, next, err
	}
	switch {
	case rediserr.IsBusyKey(err):
		// Like redis-cli --cluster fix: REPLACE only keys whose values are
		// the same on both sides (a MIGRATE that died before its DEL, a
		// failover that replayed the source); otherwise stop.
		busy, err := e.sameOnBoth(ctx, src, dst, m, keys)
		if err != nil {
			return 0, 0, nil, err
		}
		r, err := pipe(ctx, src, e.Timeout, e.migrateArgs(m, keys, e.Timeout, true))
		if err == nil {
			err = r[0].Err
		}
		if err != nil {
			return 0, 0, nil, fmt.Errorf("slot %d: migrate with replace to %s: %w", m.Slot, m.Target.Name, err)
		}
		next, err := e.keysInSlot(ctx, src, m)
		return int64(len(keys)), busy, next, err
	case rediserr.IsMigrateIO(err):
		// A value too large for the batch timeout: move key by key, each
		// with a timeout that fits its size.
		for _, k := range keys {
			n, err := e.migrateLarge(ctx, src, dst, m, k)
			replaced += n
			if err != nil {
				return moved, replaced, nil, err
			}
			moved++
		}
		next, err := e.keysInSlot(ctx, src, m)
		return moved, replaced, next, err
	default:
		return 0, 0, nil, fmt.Errorf("slot %d: migrate to %s: %w", m.Slot, m.Target.Name, err)
	}
}

func (e *Engine) keysInSlot(ctx context.Context, src Conn, m Move) ([]string, error) {
	v, err := do(ctx, src, "CLUSTER", "GETKEYSINSLOT", m.Slot, e.pacer.keys())
	if err != nil {
		return nil, fmt.Errorf("slot %d: keys in slot on %s: %w", m.Slot, m.Source.Name, err)
	}
	return strs(v), nil
}

func (e *Engine) migrateArgs(m Move, keys []string, timeout time.Duration, replace bool) []any {
	host, port, _ := net.SplitHostPort(m.Target.Addr)
	args := []any{"MIGRATE", host, port, "", 0, timeout.Milliseconds()}
	if replace {
		args = append(args, "REPLACE")
	}
	if e.Password != "" {
		args = append(args, "AUTH", e.Password)
	}
	args = append(args, "KEYS")
	for _, k := range keys {
		args = append(args, k)
	}
	return args
}

// migrateLarge moves one key with a timeout sized from its memory: the
// batch timeout (at least a second: a key that comes this way shares a
// batch with one that did not fit, and a busy machine can take longer
// than a short batch timeout for any key), plus a second per 10 MiB.
func (e *Engine) migrateLarge(ctx context.Context, src, dst Conn, m Move, key string) (replaced int64, err error) {
	timeout := max(e.Timeout, time.Second)
	if v, err := do(ctx, src, "MEMORY", "USAGE", key); err == nil {
		if n, ok := v.(int64); ok {
			timeout += time.Duration(n/(10<<20)) * time.Second
		}
	}
	replace := false
	for {
		r, err := pipe(ctx, src, timeout, e.migrateArgs(m, []string{key}, timeout, replace))
		if err == nil {
			err = r[0].Err
		}
		if err == nil {
			return replaced, nil
		}
		if replace || !rediserr.IsBusyKey(err) {
			return 0, fmt.Errorf("slot %d: migrate key %q (timeout %s) to %s: %w", m.Slot, key, timeout, m.Target.Name, err)
		}
		// A MIGRATE that timed out on the reply may have restored the key
		// already: the same value on both sides, then REPLACE.
		n, err := e.sameOnBoth(ctx, src, dst, m, []string{key})
		if err != nil {
			return 0, err
		}
		replaced, replace = n, true
	}
}

// sameOnBoth compares the DUMP of each key on both sides and returns how
// many exist on the target with the same value; a key whose values differ
// is a BusyKeyError. The target serves a slot it is importing only to a
// connection that sent ASKING just before, hence the pipeline.
func (e *Engine) sameOnBoth(ctx context.Context, src, dst Conn, m Move, keys []string) (int64, error) {
	var srcCmds, dstCmds [][]any
	for _, k := range keys {
		srcCmds = append(srcCmds, []any{"DUMP", k})
		dstCmds = append(dstCmds, []any{"ASKING"}, []any{"DUMP", k})
	}
	srcR, err := pipe(ctx, src, 0, srcCmds...)
	if err != nil {
		return 0, fmt.Errorf("slot %d: dump on %s: %w", m.Slot, m.Source.Name, err)
	}
	dstR, err := pipe(ctx, dst, 0, dstCmds...)
	if err != nil {
		return 0, fmt.Errorf("slot %d: dump on %s: %w", m.Slot, m.Target.Name, err)
	}
	var busy int64
	for i, k := range keys {
		s, serr := dumpOf(srcR[i])
		d, derr := dumpOf(dstR[2*i+1])
		if err := errors.Join(serr, derr); err != nil {
			return 0, fmt.Errorf("slot %d: dump %q: %w", m.Slot, k, err)
		}
		if d == nil || s == nil {
			continue // on one side only (moved by the MIGRATE that failed): no conflict
		}
		if !bytes.Equal(s, d) {
			return 0, &BusyKeyError{Slot: m.Slot, Key: k, Source: m.Source.Name, Target: m.Target.Name}
		}
		busy++
	}
	return busy, nil
}

// dumpOf is a DUMP reply: nil for a key that does not exist. A source
// whose slot is MIGRATING answers ASK for a key it no longer has.
func dumpOf(r Reply) ([]byte, error) {
	if errors.Is(r.Err, redis.Nil) || r.Err == nil && r.Val == nil {
		return nil, nil
	}
	if rediserr.IsAsk(r.Err) {
		return nil, nil
	}
	if r.Err != nil {
		return nil, r.Err
	}
	s, ok := r.Val.(string)
	if !ok {
		return nil, fmt.Errorf("unexpected DUMP reply %T", r.Val)
	}
	return []byte(s), nil
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
