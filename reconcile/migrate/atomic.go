package migrate

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Capabilities is what a Redis server offers for slot migration.
type Capabilities struct {
	Server  string // redis_version of INFO server
	Version [3]int
	// Atomic: CLUSTER MIGRATION (Redis Open Source 8.4 and later) moves
	// whole slot ranges inside the server, keys and writes in flight
	// included, and switches ownership atomically.
	Atomic bool
}

// atomicSince is the first Redis version with CLUSTER MIGRATION.
var atomicSince = [3]int{8, 4, 0}

// ParseCapabilities reads INFO server. Valkey reports a redis_version of
// 7.2.4 for compatibility, and its own atomic migration (CLUSTER
// MIGRATESLOTS) is another protocol, so a Valkey server is never Atomic here.
func ParseCapabilities(infoServer string) Capabilities {
	var c Capabilities
	valkey := false
	for _, line := range strings.Split(infoServer, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "redis_version":
			c.Server = v
			for i, part := range strings.SplitN(v, ".", 3) {
				n, _ := strconv.Atoi(strings.TrimFunc(part, func(r rune) bool { return r < '0' || r > '9' }))
				c.Version[i] = n
			}
		case "server_name":
			valkey = v == "valkey"
		}
	}
	c.Atomic = !valkey && slices.Compare(c.Version[:], atomicSince[:]) >= 0
	return c
}

// Detect asks a node for its capabilities.
func Detect(ctx context.Context, c Conn) (Capabilities, error) {
	v, err := do(ctx, c, "INFO", "server")
	if err != nil {
		return Capabilities{}, fmt.Errorf("info server: %w", err)
	}
	s, _ := v.(string)
	return ParseCapabilities(s), nil
}

// atomicPoll is how often a CLUSTER MIGRATION task is polled.
const atomicPoll = 100 * time.Millisecond

// runAtomic moves each target's slots with one CLUSTER MIGRATION IMPORT
// per source (the command imports ranges that one source owns), then
// polls the task until it completes. The server keeps the slots consistent
// on failure: a failed or cancelled task leaves them with their source.
func (e *Engine) runAtomic(ctx context.Context, conns *pool, moves []Move) (Result, error) {
	start := time.Now()
	var res Result
	for _, ms := range byPair(moves) {
		if stopped(e.Stop) {
			return res, ErrStopped
		}
		dst := conns.get(ms[0].Target.Addr)
		var slots []int
		for _, m := range ms {
			slots = append(slots, m.Slot)
		}
		args := []any{"CLUSTER", "MIGRATION", "IMPORT"}
		for _, r := range ranges(slots) {
			args = append(args, r[0], r[1])
		}
		v, err := do(ctx, dst, args...)
		if err != nil {
			return res, fmt.Errorf("cluster migration import on %s: %w", ms[0].Target.Name, err)
		}
		id := fmt.Sprint(v)
		if err := e.waitAtomic(ctx, dst, id, ms[0].Target.Name); err != nil {
			return res, err
		}
		res.Slots += len(ms)
		if e.Progress != nil {
			e.Progress(Progress{SlotsDone: res.Slots, SlotsTotal: len(moves), Elapsed: time.Since(start)})
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// waitAtomic polls CLUSTER MIGRATION STATUS ID until the task's state is
// completed, or fails on failed/canceled. The reply is a list of
// field/value pairs (RESP2) or a map (RESP3); both are read.
func (e *Engine) waitAtomic(ctx context.Context, c Conn, id, target string) error {
	for {
		v, err := do(ctx, c, "CLUSTER", "MIGRATION", "STATUS", "ID", id)
		if err != nil {
			return fmt.Errorf("cluster migration status %s on %s: %w", id, target, err)
		}
		switch state := strings.ToLower(field(v, "state")); state {
		case "completed":
			return nil
		case "failed", "canceled", "cancelled":
			return fmt.Errorf("cluster migration %s on %s: %s: %s", id, target, state, field(v, "last_error"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(atomicPoll):
		}
	}
}

// field finds name's value in a reply made of nested lists of
// name/value pairs or maps.
func field(v any, name string) string {
	switch x := v.(type) {
	case map[any]any:
		if s, ok := x[name]; ok {
			return fmt.Sprint(s)
		}
		for _, inner := range x {
			if s := field(inner, name); s != "" {
				return s
			}
		}
	case []any:
		for i := 0; i+1 < len(x); i++ {
			if k, ok := x[i].(string); ok && k == name {
				return fmt.Sprint(x[i+1])
			}
		}
		for _, inner := range x {
			if s := field(inner, name); s != "" {
				return s
			}
		}
	}
	return ""
}

// ranges turns sorted-or-not slots into [start, end] pairs.
func ranges(slots []int) [][2]int {
	s := slices.Clone(slots)
	slices.Sort(s)
	var out [][2]int
	for _, x := range s {
		if len(out) > 0 && out[len(out)-1][1] == x-1 {
			out[len(out)-1][1] = x
		} else {
			out = append(out, [2]int{x, x})
		}
	}
	return out
}
