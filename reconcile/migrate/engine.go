// Package migrate moves hash slots, with their keys, from one Redis Cluster
// master to another while clients keep reading and writing: the key-by-key
// protocol of redis-cli's --cluster reshard (SETSLOT IMPORTING, MIGRATING,
// GETKEYSINSLOT, MIGRATE ... KEYS, SETSLOT NODE), with large batches,
// several slots in flight, and every slot left resumable when anything
// fails. The decision of which slots move lives in package topology; this
// package only carries a list of moves out.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Reply is one command's outcome in a pipeline.
type Reply struct {
	Val any
	Err error
}

// Conn is one Redis node's admin connection. Do may use any connection of
// a pool; Pipe sends its commands in order on one connection, which
// ASKING needs (it applies to the next command of the same connection).
type Conn interface {
	Do(ctx context.Context, args ...any) (any, error)
	Pipe(ctx context.Context, cmds ...[]any) ([]Reply, error)
	Close() error
}

// Dialer opens a Conn to a node at host:port. The engine dials each node
// once per Run and shares the Conn between its workers, so it must be safe
// for concurrent use.
type Dialer func(addr string) Conn

// Node is a master taking part in a migration.
type Node struct {
	ID   string
	Addr string // host:port of the client port, as MIGRATE needs it
	Name string // for people: the pod's name
}

// Move is one slot to move from Source to Target.
type Move struct {
	Slot           int
	Source, Target Node
}

// Engine moves slots. The zero value is not usable: Dial is required.
type Engine struct {
	Dial Dialer
	// Password is sent with MIGRATE's AUTH to the target; never logged.
	Password string
	// KeysPerBatch is the number of keys per GETKEYSINSLOT and MIGRATE
	// pipeline (default 1000; redis-cli uses 10): with a LatencyBudget,
	// the most the pacer may choose.
	KeysPerBatch int
	// Parallel is the number of rounds in flight at once (default 4; with
	// a LatencyBudget, the most the pacer may choose). A round is up to
	// SlotsPerRound slots of one source/target pair, each step of which
	// goes to each node as one pipeline; rounds are interleaved so that
	// those in flight belong to distinct pairs as long as there are pairs
	// enough.
	Parallel int
	// LatencyBudget paces the move by what clients feel (see Pace): the
	// round time of every MIGRATE pipeline, which is how long the source
	// and the target served no one else, decides the next batch size
	// (MinKeysPerBatch to KeysPerBatch) and the rounds in flight (two, or
	// one when a single source moves slots, to Parallel). Zero: no
	// pacing, KeysPerBatch and Parallel throughout.
	LatencyBudget time.Duration
	// MinKeysPerBatch is the smallest batch the pacer chooses (default 10,
	// redis-cli's).
	MinKeysPerBatch int
	// SlotsPerRound bounds the slots of one round (default 512). A round's
	// MIGRATEs are pipelined in groups of at most the batch size, so the
	// source is never blocked by more than one batch's worth at a time,
	// while its SETSLOT pipelines come once per round: each makes the node
	// rewrite nodes.conf (the target's SETSLOT NODE fsyncs it too) before
	// it serves anyone else (3 ms a pipeline in a paced move on a 2-core
	// machine, 60–70 ms behind the MIGRATEs of an unpaced one), so fewer,
	// larger rounds spare the clients and speed the move.
	SlotsPerRound int
	// Timeout is MIGRATE's I/O timeout for an ordinary batch (default 10 s).
	// A batch that times out is retried key by key, each with a timeout
	// sized from MEMORY USAGE, so a large value gets the time it needs.
	Timeout time.Duration
	// Others are the masters that are neither source nor target of a move:
	// each is told the slot's new owner once the move is done, so that it
	// redirects clients straight away rather than once gossip reaches it.
	// The round does not wait for them (they may be sources of other
	// rounds, their SETSLOT queued behind those rounds' MIGRATE batches);
	// Run does, before it returns.
	Others []Node
	// Progress, when set, is called after every finished slot, from one
	// goroutine at a time.
	Progress func(Progress)
	// Stop, once closed, starts no further slot: the slots in flight finish
	// (a slot is never abandoned half moved by choice).
	Stop <-chan struct{}
	// KeyByKey forces the key-by-key protocol even where every node offers
	// atomic slot migration (CLUSTER MIGRATION, Redis 8.4+).
	KeyByKey bool
	Log      *slog.Logger

	pacer *pacer          // the Run's, set by Run
	tell  *sync.WaitGroup // the Run's SETSLOT NODE to Others in flight
}

// Progress is where a Run stands.
type Progress struct {
	SlotsDone, SlotsTotal int
	Keys                  int64 // keys moved so far
	Elapsed               time.Duration
}

// KeysPerSecond is the rate so far.
func (p Progress) KeysPerSecond() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Keys) / p.Elapsed.Seconds()
}

// ETA estimates the time left from the slots still to move.
func (p Progress) ETA() time.Duration {
	if p.SlotsDone == 0 {
		return 0
	}
	return time.Duration(float64(p.Elapsed) / float64(p.SlotsDone) * float64(p.SlotsTotal-p.SlotsDone))
}

// Result is what a Run did.
type Result struct {
	Slots   int   // slots moved
	Keys    int64 // keys moved
	Elapsed time.Duration
	// Replaced counts keys that already existed on the target with the same
	// value (a MIGRATE that moved them but died before deleting them on the
	// source, or a failover that replayed the source) and were moved with
	// REPLACE.
	Replaced int64
	// Atomic: the server moved the slots itself (CLUSTER MIGRATION).
	Atomic bool
	// Pace says how the key-by-key path paced itself.
	Pace PaceStats
}

// pacedInFlight is the rounds a paced move keeps in flight at the least,
// when as many sources move slots (see Pace.MinInFlight).
const pacedInFlight = 2

// sources counts the distinct source nodes of moves: rounds in flight on
// the same source queue behind each other there, and the second would
// make that source's clients wait for two batches.
func sources(moves []Move) int {
	seen := map[string]bool{}
	for _, m := range moves {
		seen[m.Source.ID] = true
	}
	return len(seen)
}

// ErrStopped means Stop closed before every move ran.
var ErrStopped = errors.New("migration stopped before every slot moved (shutting down); the next pass resumes it")

// BusyKeyError is a key that exists on both sides with different values:
// choosing either would lose the other, so the slot stays open and a
// person decides.
type BusyKeyError struct {
	Slot           int
	Key            string
	Source, Target string
}

func (e *BusyKeyError) Error() string {
	return fmt.Sprintf("slot %d: key %q exists on both %s and %s with different values; the slot is left open (MIGRATING/IMPORTING) for a person to decide which value to keep", e.Slot, e.Key, e.Source, e.Target)
}

func (e *Engine) defaults() {
	if e.KeysPerBatch <= 0 {
		e.KeysPerBatch = 1000
	}
	if e.Parallel <= 0 {
		e.Parallel = 4
	}
	if e.MinKeysPerBatch <= 0 {
		e.MinKeysPerBatch = min(10, e.KeysPerBatch)
	}
	if e.SlotsPerRound <= 0 {
		e.SlotsPerRound = 512
	}
	if e.Timeout <= 0 {
		e.Timeout = 10 * time.Second
	}
}

// Run moves every slot of moves. It stops starting new slots at the first
// error and returns it once the slots in flight have finished; every slot
// it did not finish is either untouched or open in a state that Resume (or
// the next Run over the same move) completes.
func (e *Engine) Run(ctx context.Context, moves []Move) (Result, error) {
	e.defaults()
	start := time.Now()
	conns := newPool(e.Dial)
	defer conns.close()
	if !e.KeyByKey && len(moves) > 0 && e.allAtomic(ctx, conns, moves) {
		res, err := e.runAtomic(ctx, conns, moves)
		res.Atomic = true
		return res, err
	}

	e.tell = &sync.WaitGroup{}
	defer func() { e.tell.Wait(); e.tell = nil }()
	e.pacer = newPacer(Pace{Budget: e.LatencyBudget, MinKeys: e.MinKeysPerBatch, MaxKeys: e.KeysPerBatch, MaxInFlight: e.Parallel, MinInFlight: min(pacedInFlight, sources(moves))})
	defer func() { e.pacer = nil }()
	queue := batches(moves, e.SlotsPerRound)
	var (
		mu       sync.Mutex
		next     int
		firstErr error
		res      Result
		progress = Progress{SlotsTotal: len(moves)}
	)
	take := func() ([]Move, bool) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil || next >= len(queue) || ctx.Err() != nil {
			return nil, false
		}
		if stopped(e.Stop) {
			firstErr = ErrStopped
			return nil, false
		}
		b := queue[next]
		next++
		return b, true
	}
	var keys, replaced atomic.Int64
	var wg sync.WaitGroup
	for range min(e.Parallel, len(queue)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if !e.pacer.acquire() {
					return
				}
				b, ok := take()
				if !ok {
					e.pacer.close()
					return
				}
				release := sync.OnceFunc(e.pacer.release)
				st, done, err := e.moveBatch(ctx, conns, b, release)
				release()
				keys.Add(st.keys)
				replaced.Add(st.replaced)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				res.Slots += done
				progress.SlotsDone += done
				progress.Keys = keys.Load()
				progress.Elapsed = time.Since(start)
				if e.Progress != nil {
					e.Progress(progress)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Keys, res.Replaced, res.Elapsed = keys.Load(), replaced.Load(), time.Since(start)
	res.Pace = e.pacer.result()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return res, firstErr
}

// allAtomic: every source and target offers CLUSTER MIGRATION. A node
// that cannot say is taken not to.
func (e *Engine) allAtomic(ctx context.Context, conns *pool, moves []Move) bool {
	seen := map[string]bool{}
	for _, m := range moves {
		for _, n := range []Node{m.Source, m.Target} {
			if seen[n.Addr] {
				continue
			}
			seen[n.Addr] = true
			caps, err := Detect(ctx, conns.get(n.Addr))
			if err != nil || !caps.Atomic {
				return false
			}
		}
	}
	return true
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// byPair groups moves by source/target pair, pairs in the order they
// first appear, each pair's moves in their order.
func byPair(moves []Move) [][]Move {
	type pair struct{ src, dst string }
	index := map[pair]int{}
	var out [][]Move
	for _, m := range moves {
		p := pair{m.Source.ID, m.Target.ID}
		i, ok := index[p]
		if !ok {
			i = len(out)
			index[p] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], m)
	}
	return out
}

// batches cuts moves into rounds of up to n slots of one pair, taking the
// pairs in turn, so that the rounds in flight at once spread over as many
// pairs (and so nodes) as there are.
func batches(moves []Move, n int) [][]Move {
	groups := byPair(moves)
	var out [][]Move
	for i := 0; ; i += n {
		added := false
		for _, ms := range groups {
			if i < len(ms) {
				out = append(out, ms[i:min(i+n, len(ms))])
				added = true
			}
		}
		if !added {
			return out
		}
	}
}

// pool holds one Conn per node address for the length of a Run.
type pool struct {
	dial  Dialer
	mu    sync.Mutex
	conns map[string]Conn
}

func newPool(d Dialer) *pool { return &pool{dial: d, conns: map[string]Conn{}} }

func (p *pool) get(addr string) Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.conns[addr]
	if !ok {
		c = p.dial(addr)
		p.conns[addr] = c
	}
	return c
}

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
}
