package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-gitops/redis-gitops/internal/redistest"
	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
)

func dial(addr string) migrate.Conn { return converge.MigrationDialer("", nil)(addr) }

func node(n *redistest.Node) migrate.Node {
	return migrate.Node{ID: n.ID, Addr: n.Addr(), Name: "port-" + strconv.Itoa(n.Port)}
}

// scaleOutMoves gives target an even share: the first slots of each
// master's range, as a rebalance onto one new master would.
func scaleOutMoves(masters []*redistest.Node, target *redistest.Node) []migrate.Move {
	var moves []migrate.Move
	share := 16384 / (len(masters) + 1) / len(masters)
	for i, m := range masters {
		lo := i * 16384 / len(masters)
		for s := lo; s < lo+share; s++ {
			moves = append(moves, migrate.Move{Slot: s, Source: node(m), Target: node(target)})
		}
	}
	return moves
}

func clusterClient(nodes []*redistest.Node) *redis.ClusterClient {
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.Addr())
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16, DisableIdentity: true})
}

func fill(t *testing.T, c *redis.ClusterClient, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += 500 {
		p := c.Pipeline()
		for j := i; j < min(i+500, n); j++ {
			p.Set(ctx, fmt.Sprintf("key:%d", j), fmt.Sprintf("value-%d", j), 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
}

// check is redis-cli's own verdict: every slot covered, none open, all
// nodes agreeing.
func check(t *testing.T, n *redistest.Node) {
	t.Helper()
	out, err := exec.Command("redis-cli", "--cluster", "check", n.Addr()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "[OK] All 16384 slots covered") || strings.Contains(string(out), "[WARNING]") {
		t.Fatalf("redis-cli --cluster check: %v\n%s", err, out)
	}
}

// TestMoveSlotsWhileClientsWrite moves a quarter of the slots while a
// client writes, unpaced (the fast profile) and paced by a latency budget
// (the gentle one): nothing acknowledged is lost either way.
func TestMoveSlotsWhileClientsWrite(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget time.Duration
	}{
		{"fast", 0},
		{"gentle", 2 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) { moveSlotsWhileClientsWrite(t, tc.budget) })
	}
}

func moveSlotsWhileClientsWrite(t *testing.T, budget time.Duration) {
	nodes := redistest.Start(t, 4)
	redistest.Cluster(t, nodes[:3], 3)
	redistest.Join(t, nodes[0], nodes, nodes[3])
	c := clusterClient(nodes)
	defer c.Close()
	const preloaded = 20000
	fill(t, c, preloaded)

	// A writer that keeps writing new keys and overwriting old ones for
	// the whole move; every acknowledged write must be readable after.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var acked sync.Map
	var written, failed atomic.Int64
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			k := fmt.Sprintf("key:%d", i%(2*preloaded))
			v := fmt.Sprintf("w-%d", i)
			if err := c.Set(context.Background(), k, v, 0).Err(); err != nil {
				failed.Add(1)
				continue
			}
			acked.Store(k, v)
			written.Add(1)
		}
	})

	moves := scaleOutMoves(nodes[:3], nodes[3])
	var last migrate.Progress
	e := &migrate.Engine{Dial: dial, Parallel: 4, LatencyBudget: budget, Others: []migrate.Node{node(nodes[0]), node(nodes[1]), node(nodes[2]), node(nodes[3])},
		Progress: func(p migrate.Progress) { last = p }}
	res, err := e.Run(context.Background(), moves)
	time.Sleep(200 * time.Millisecond) // some writes after the move too
	stop()
	wg.Wait()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Slots != len(moves) || last.SlotsDone != len(moves) || last.SlotsTotal != len(moves) {
		t.Errorf("moved %d slots (progress %d/%d), want %d", res.Slots, last.SlotsDone, last.SlotsTotal, len(moves))
	}
	if res.Keys == 0 {
		t.Errorf("no key moved")
	}
	if got := failed.Load(); got != 0 {
		t.Errorf("%d writes failed during the move (after the client's retries)", got)
	}
	t.Logf("moved %d slots, %d keys in %s; %d writes acknowledged meanwhile; pacing %+v", res.Slots, res.Keys, res.Elapsed, written.Load(), res.Pace)
	if res.Pace.Batches == 0 {
		t.Errorf("no MIGRATE pipeline was timed for the pacer")
	}
	if budget > 0 && res.Pace.Final.Keys > e.KeysPerBatch {
		t.Errorf("paced batch of %d keys, above KeysPerBatch %d", res.Pace.Final.Keys, e.KeysPerBatch)
	}

	// The target owns exactly the moved slots, and holds their keys.
	redistest.WaitAgree(t, nodes, 4)
	dbsize, err := nodes[3].Client.DBSize(context.Background()).Result()
	if err != nil || dbsize == 0 || dbsize < res.Keys {
		t.Errorf("target DBSIZE %d (%v), moved %d keys", dbsize, err, res.Keys)
	}
	check(t, nodes[0])
	lost := 0
	acked.Range(func(k, v any) bool {
		got, err := c.Get(context.Background(), k.(string)).Result()
		if err != nil || got != v.(string) {
			lost++
		}
		return true
	})
	for i := 0; i < preloaded; i++ {
		k := fmt.Sprintf("key:%d", i)
		if _, ok := acked.Load(k); ok {
			continue
		}
		if got, err := c.Get(context.Background(), k).Result(); err != nil || got != fmt.Sprintf("value-%d", i) {
			lost++
		}
	}
	if lost != 0 {
		t.Fatalf("%d acknowledged writes not readable after the move", lost)
	}
}

// A move interrupted after some of its keys moved (the daemon killed
// mid-slot) is finished by running it again: nothing lost, nothing twice.
func TestResumeHalfMovedSlot(t *testing.T) {
	nodes := redistest.Start(t, 3)
	redistest.Cluster(t, nodes[:2], 2)
	redistest.Join(t, nodes[0], nodes, nodes[2])
	c := clusterClient(nodes)
	defer c.Close()
	ctx := context.Background()
	const slot = 0
	src, dst := nodes[0], nodes[2]
	keys := keysInSlot(slot, 50)
	for _, k := range keys {
		if err := c.Set(ctx, k, "v-"+k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// What a run killed half-way leaves: both sides open, 20 keys moved.
	must(t, dst.Client.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", src.ID).Err())
	must(t, src.Client.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst.ID).Err())
	args := []any{"MIGRATE", "127.0.0.1", dst.Port, "", 0, 5000, "KEYS"}
	for _, k := range keys[:20] {
		args = append(args, k)
	}
	must(t, src.Client.Do(ctx, args...).Err())

	e := &migrate.Engine{Dial: dial, Others: []migrate.Node{node(nodes[1])}}
	res, err := e.Run(ctx, []migrate.Move{{Slot: slot, Source: node(src), Target: node(dst)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Keys != 30 {
		t.Errorf("moved %d keys on resume, want the 30 left", res.Keys)
	}
	redistest.WaitAgree(t, nodes, 3)
	check(t, nodes[0])
	if n, _ := dst.Client.ClusterCountKeysInSlot(ctx, slot).Result(); n != 50 {
		t.Errorf("target holds %d keys of slot %d, want 50", n, slot)
	}
	for _, k := range keys {
		if v, err := c.Get(ctx, k).Result(); err != nil || v != "v-"+k {
			t.Errorf("%s = %q, %v", k, v, err)
		}
	}
}

// A key on both sides: REPLACE when the values are the same (a MIGRATE
// that restored but died before its DEL), a stop with the slot open when
// they differ.
func TestBusyKey(t *testing.T) {
	for _, tc := range []struct {
		name        string
		targetValue string
		wantErr     bool
	}{
		{"same value is replaced", "v-same", false},
		{"different value stops the slot", "v-other", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := redistest.Start(t, 3)
			redistest.Cluster(t, nodes[:2], 2)
			redistest.Join(t, nodes[0], nodes, nodes[2])
			ctx := context.Background()
			const slot = 1
			src, dst := nodes[0], nodes[2]
			keys := keysInSlot(slot, 5)
			for _, k := range keys {
				must(t, src.Client.Set(ctx, k, "v-same", 0).Err())
			}
			// Put keys[2] on the target too, as an earlier MIGRATE would have.
			must(t, dst.Client.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", src.ID).Err())
			dump, err := redis.NewClient(&redis.Options{Addr: src.Addr()}).Dump(ctx, keys[2]).Result()
			must(t, err)
			if tc.targetValue != "v-same" {
				must(t, src.Client.Set(ctx, "tmp{"+keys[2]+"}", tc.targetValue, 0).Err())
				other := redis.NewClient(&redis.Options{Addr: src.Addr()})
				dump, err = other.Dump(ctx, "tmp{"+keys[2]+"}").Result()
				must(t, err)
				must(t, src.Client.Del(ctx, "tmp{"+keys[2]+"}").Err())
			}
			pipe := dst.Client.Pipeline()
			pipe.Do(ctx, "ASKING")
			pipe.Do(ctx, "RESTORE", keys[2], 0, dump)
			_, err = pipe.Exec(ctx)
			must(t, err)

			e := &migrate.Engine{Dial: dial, Others: []migrate.Node{node(nodes[1])}}
			res, err := e.Run(ctx, []migrate.Move{{Slot: slot, Source: node(src), Target: node(dst)}})
			if !tc.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				if res.Replaced != 1 {
					t.Errorf("replaced %d keys, want 1", res.Replaced)
				}
				redistest.WaitAgree(t, nodes, 3)
				check(t, nodes[0])
				return
			}
			var busy *migrate.BusyKeyError
			if !errors.As(err, &busy) || busy.Key != keys[2] {
				t.Fatalf("err = %v, want a BusyKeyError for %s", err, keys[2])
			}
			// Nothing chosen for the person: both values still there, the
			// slot still open on both sides, still owned by the source.
			if v, _ := src.Client.Get(ctx, keys[2]).Result(); v != "v-same" {
				t.Errorf("source value %q", v)
			}
			nodesText, _ := src.Client.ClusterNodes(ctx).Result()
			if !strings.Contains(nodesText, fmt.Sprintf("[%d->-%s]", slot, dst.ID)) {
				t.Errorf("slot %d not left MIGRATING on the source:\n%s", slot, nodesText)
			}
		})
	}
}

// A value too large for the batch timeout is moved on its own, with a
// timeout that fits it.
func TestLargeValueGetsItsOwnTimeout(t *testing.T) {
	nodes := redistest.Start(t, 3)
	redistest.Cluster(t, nodes[:2], 2)
	redistest.Join(t, nodes[0], nodes, nodes[2])
	ctx := context.Background()
	const slot = 2
	src, dst := nodes[0], nodes[2]
	keys := keysInSlot(slot, 3)
	big := strings.Repeat("x", 64<<20)
	must(t, src.Client.Set(ctx, keys[0], big, 0).Err())
	must(t, src.Client.Set(ctx, keys[1], "small", 0).Err())
	e := &migrate.Engine{Dial: dial, Timeout: time.Millisecond, Others: []migrate.Node{node(nodes[1])}}
	res, err := e.Run(ctx, []migrate.Move{{Slot: slot, Source: node(src), Target: node(dst)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Keys != 2 {
		t.Errorf("moved %d keys, want 2", res.Keys)
	}
	if n, _ := dst.Client.StrLen(ctx, keys[0]).Result(); n != int64(len(big)) {
		// The target owns the slot now, so a plain read works.
		t.Errorf("large value on the target has %d bytes, want %d", n, len(big))
	}
}

func keysInSlot(slot, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		k := "k" + strconv.Itoa(i)
		if migrate.KeySlot(k) == slot {
			out = append(out, k)
		}
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestBatchesKeepPairsApartAndInterleaved(t *testing.T) {
	a, b, d := migrate.Node{ID: "a"}, migrate.Node{ID: "b"}, migrate.Node{ID: "d"}
	var moves []migrate.Move
	for s := 0; s < 5; s++ {
		moves = append(moves, migrate.Move{Slot: s, Source: a, Target: d})
	}
	for s := 10; s < 13; s++ {
		moves = append(moves, migrate.Move{Slot: s, Source: b, Target: d})
	}
	var got []string
	for _, r := range migrate.Batches(moves, 2) {
		var slots []string
		for _, m := range r {
			if m.Source.ID != r[0].Source.ID {
				t.Errorf("a round mixes pairs: %v", r)
			}
			slots = append(slots, fmt.Sprint(m.Slot))
		}
		got = append(got, strings.Join(slots, ","))
	}
	if want := "0,1 10,11 2,3 12 4"; strings.Join(got, " ") != want {
		t.Errorf("rounds %q, want %q", strings.Join(got, " "), want)
	}
}

// Draining a master to empty, several rounds in flight: every key moves,
// the source ends with none, and redis-cli finds the cluster whole. (The
// source may turn into a replica as soon as its last slot is gone, while
// other rounds still tell it the new owners; the sandbox's cold CI run hit
// that once, loopback timing rarely does.)
func TestDrainAMasterToEmpty(t *testing.T) {
	nodes := redistest.Start(t, 3)
	redistest.Cluster(t, nodes, 3)
	c := clusterClient(nodes)
	defer c.Close()
	fill(t, c, 6000)
	src := nodes[2]
	var moves []migrate.Move
	for s := 2 * 16384 / 3; s < 16384; s++ {
		moves = append(moves, migrate.Move{Slot: s, Source: node(src), Target: node(nodes[s%2])})
	}
	e := &migrate.Engine{Dial: dial, Parallel: 4, SlotsPerRound: 8, Others: []migrate.Node{node(nodes[0]), node(nodes[1]), node(src)}}
	res, err := e.Run(context.Background(), moves)
	if err != nil {
		t.Fatal(err)
	}
	if res.Slots != len(moves) {
		t.Errorf("moved %d slots, want %d", res.Slots, len(moves))
	}
	if n, _ := src.Client.DBSize(context.Background()).Result(); n != 0 {
		t.Errorf("the drained master still holds %d keys", n)
	}
	check(t, nodes[0])
	for i := 0; i < 6000; i++ {
		if v, err := c.Get(context.Background(), fmt.Sprintf("key:%d", i)).Result(); err != nil || v != fmt.Sprintf("value-%d", i) {
			t.Fatalf("key:%d = %q, %v", i, v, err)
		}
	}
}
