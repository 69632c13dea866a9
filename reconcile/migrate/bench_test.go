package migrate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-gitops/redis-gitops/internal/redistest"
	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
	"github.com/redis-gitops/redis-gitops/spec"
)

// The scale-out benchmark of the issue: 1,000,000 keys of 100 bytes in a
// 3×1 cluster (3 masters, 3 replicas), then one empty master added; the
// keys/s that redis-cli --cluster rebalance --cluster-use-empty-masters
// moves, and this engine, each on an identical fresh cluster in the same
// run, one cluster at a time; the ratio printed last. A paced writer runs
// through each move and gives the p99 latency a client sees.
const (
	benchKeys      = 1_000_000
	benchValueSize = 100
	// benchWriteRate is the writer's pace, writes per second: enough
	// samples for a p99 over a move of a few seconds, little enough not
	// to take a core from the move on a small machine.
	benchWriteRate = 2000
)

// BenchmarkScaleOutMigration is run by make bench with -benchtime 1x.
func BenchmarkScaleOutMigration(b *testing.B) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		b.Fatalf("redis-cli not found (make deps installs it): %v", err)
	}
	b.StopTimer()
	slots := make([]uint16, benchKeys) // the slot of each preloaded key
	for i := range slots {
		slots[i] = uint16(migrate.KeySlot(benchKey(i)))
	}
	for range b.N {
		cli := runScaleOut(b, "redis-cli", slots, func(s *scaleOut) int64 {
			out, err := exec.Command("redis-cli", "--cluster", "rebalance", s.nodes[0].Addr(), "--cluster-use-empty-masters").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Moving") {
				b.Fatalf("redis-cli --cluster rebalance: %v\n%s", err, tail(string(out), 40))
			}
			return -1
		})
		gentle := runScaleOut(b, "engine-default", slots, engineMove(b, spec.DefaultLatencyBudget))
		fast := runScaleOut(b, "engine-fast", slots, engineMove(b, 0))
		// REDIS_GITOPS_BENCH_BUDGETS=1ms,4ms adds a paced run per budget,
		// to choose the default from.
		var extra []outcome
		for _, v := range strings.Split(os.Getenv("REDIS_GITOPS_BENCH_BUDGETS"), ",") {
			if d, err := time.ParseDuration(strings.TrimSpace(v)); err == nil && d > 0 {
				extra = append(extra, runScaleOut(b, "engine-budget-"+d.String(), slots, engineMove(b, d)))
			}
		}

		ratio := func(o outcome) float64 { return o.keysPerSec() / cli.keysPerSec() }
		b.ReportMetric(cli.keysPerSec(), "redis-cli-keys/s")
		b.ReportMetric(gentle.keysPerSec(), "default-keys/s")
		b.ReportMetric(fast.keysPerSec(), "fast-keys/s")
		b.ReportMetric(cli.ms(cli.p99), "redis-cli-p99-ms")
		b.ReportMetric(gentle.ms(gentle.p99), "default-p99-ms")
		b.ReportMetric(fast.ms(fast.p99), "fast-p99-ms")
		b.ReportMetric(float64(cli.failed), "redis-cli-failed-writes")
		b.ReportMetric(ratio(fast), "fast-ratio")
		b.ReportMetric(ratio(gentle), "default-ratio")

		// The summary, ratios last, on stdout and in the benchmark's log
		// (which go test trims to 10 lines without -v: the details of
		// each move went to stdout as it finished).
		row := func(o outcome, target string) string {
			return fmt.Sprintf("migrate: %-22s %7.0f keys/s  ratio %5.1fx (target %s)  writer p50 %5.2fms p99 %6.2fms (%d writes)",
				o.name, o.keysPerSec(), ratio(o), target, o.ms(o.p50), o.ms(o.p99), o.writes)
		}
		lines := []string{
			row(cli, "1x"),
			row(gentle, ">=3x, p99 <=5ms"),
			row(fast, ">=8x"),
		}
		for _, v := range strings.Split(os.Getenv("REDIS_GITOPS_BENCH_VARIANTS"), ",") {
			if v = strings.TrimSpace(v); v != "" {
				extra = append(extra, runScaleOut(b, "v-"+v, slots, variantMove(b, v)))
			}
		}
		for _, o := range extra {
			lines = append(lines, row(o, "-"))
		}
		for _, l := range lines {
			fmt.Println(l)
		}
		for _, l := range lines {
			b.Log(l)
		}
	}
}

// scaleOut is one fresh cluster: nodes[0:3] the masters, nodes[3:6] their
// replicas, nodes[6] the empty master joined last.
type scaleOut struct {
	nodes []*redistest.Node
	fresh *redistest.Node
	times *cmdTimes // the engine's commands, when it is the engine that moves
}

// outcome is one move's figures.
type outcome struct {
	name      string
	moved     int64         // preloaded keys now on the new master
	reported  int64         // keys the mover says it moved (the engine's Result.Keys), -1 if unknown
	freshSize int64         // DBSIZE of the new master after
	slots     int           // slots the new master owns after
	elapsed   time.Duration // the move, wall clock
	p99, p50  time.Duration // write latency during the move
	writes    int           // writes issued during the move
	failed    int           // writes that failed after the client's retries (whole run)
	detail    string
}

func (o outcome) keysPerSec() float64        { return float64(o.moved) / o.elapsed.Seconds() }
func (o outcome) ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (o outcome) summary() string {
	s := fmt.Sprintf("migrate: %s moved %d keys (%d slots) in %s = %.0f keys/s; DBSIZE of the new master %d",
		o.name, o.moved, o.slots, o.elapsed.Round(time.Millisecond), o.keysPerSec(), o.freshSize)
	if o.reported >= 0 {
		s += fmt.Sprintf(", engine says %d keys", o.reported)
	}
	s += fmt.Sprintf("; writes during the move %d, p50 %.2fms p99 %.2fms, %d failed", o.writes, o.ms(o.p50), o.ms(o.p99), o.failed)
	if o.detail != "" {
		s += "\n  " + o.detail
	}
	return s
}

// engineMove moves the slots a rebalance onto the empty master would,
// with the engine as the spec's defaults set it up (keysPerBatch,
// parallelSlots), paced by budget; 0 is the fast profile (unpaced).
func engineMove(b *testing.B, budget time.Duration) func(*scaleOut) int64 {
	return engineMoveWith(b, budget, func(*migrate.Engine) {})
}

func engineMoveWith(b *testing.B, budget time.Duration, tweak func(*migrate.Engine)) func(*scaleOut) int64 {
	return func(s *scaleOut) int64 {
		moves := rebalanceMoves(b, s)
		var others []migrate.Node
		for _, n := range append(slices.Clone(s.nodes[:3]), s.fresh) {
			others = append(others, node(n))
		}
		s.times = &cmdTimes{d: map[string]time.Duration{}, n: map[string]int{}}
		e := &migrate.Engine{
			Dial:          s.times.dialer(dial),
			KeysPerBatch:  spec.DefaultKeysPerBatch,
			Parallel:      spec.DefaultParallelSlots,
			LatencyBudget: budget,
			Others:        others,
		}
		tweak(e)
		res, err := e.Run(context.Background(), moves)
		if err != nil {
			b.Fatalf("engine run: %v", err)
		}
		if res.Slots != len(moves) {
			b.Fatalf("engine moved %d slots, want %d", res.Slots, len(moves))
		}
		p := res.Pace
		fmt.Printf("migrate: pacing (budget %s): %d batches, %d over budget, longest %s, final %d keys × %d in flight (most %d)\n",
			budget, p.Batches, p.OverBudget, p.MaxRound.Round(time.Microsecond), p.Final.Keys, p.Final.InFlight, p.MaxInFlight)
		return res.Keys
	}
}

func variantMove(b *testing.B, v string) func(*scaleOut) int64 {
	budget := spec.DefaultLatencyBudget
	if strings.HasPrefix(v, "fast") {
		budget = 0
	}
	return engineMoveWith(b, budget, func(e *migrate.Engine) {
		for _, f := range strings.Split(v, "+")[1:] {
			switch {
			case strings.HasPrefix(f, "p"):
				e.Parallel, _ = strconv.Atoi(f[1:])
			case strings.HasPrefix(f, "k"):
				e.KeysPerBatch, _ = strconv.Atoi(f[1:])
			case strings.HasPrefix(f, "r"):
				e.SlotsPerRound, _ = strconv.Atoi(f[1:])
			}
		}
	})
}

// runScaleOut builds and fills a fresh cluster, joins the empty master,
// moves slots onto it with move while a writer writes, checks that
// nothing was lost, and tears the cluster down.
func runScaleOut(b *testing.B, name string, slots []uint16, move func(*scaleOut) int64) outcome {
	b.Helper()
	ctx := context.Background()
	setup := time.Now()
	s := newScaleOut(b, slots)
	defer s.teardown()
	fmt.Printf("migrate: %s: cluster built and filled with %d keys in %s\n", name, benchKeys, time.Since(setup).Round(time.Millisecond))

	w := startWriter(s.nodes, name)
	time.Sleep(300 * time.Millisecond) // the writer settles before the move starts
	before := commandStats(b, s.nodes)
	b.StartTimer()
	start := time.Now()
	reported := move(s)
	elapsed := time.Since(start)
	b.StopTimer()
	time.Sleep(300 * time.Millisecond) // and keeps writing a little after
	w.stopAndWait()
	after := commandStats(b, s.nodes)

	o := outcome{name: name, reported: reported, elapsed: elapsed, failed: w.failed}
	o.p50, o.p99, o.writes = w.percentiles(start, start.Add(elapsed))
	if name != "redis-cli" && w.failed != 0 {
		b.Errorf("%s: %d writes failed during the move after the client's retries: %v", name, w.failed, w.errSample)
	} else if w.failed != 0 {
		fmt.Printf("migrate: %s: %d writes failed during the move after the client's retries: %v\n", name, w.failed, w.errSample)
	}

	redistest.WaitAgree(b, s.nodes, len(s.nodes))
	checkCluster(b, s.nodes[0])
	owners := slotOwners(b, s.nodes[0])
	for _, id := range owners {
		if id == s.fresh.ID {
			o.slots++
		}
	}
	for _, sl := range slots {
		if owners[sl] == s.fresh.ID {
			o.moved++
		}
	}
	var err error
	if o.freshSize, err = s.fresh.Client.DBSize(ctx).Result(); err != nil {
		b.Fatalf("%s: dbsize of the new master: %v", name, err)
	}
	if o.moved == 0 || o.freshSize < o.moved {
		b.Fatalf("%s: %d preloaded keys in the new master's slots, its DBSIZE %d", name, o.moved, o.freshSize)
	}
	if reported >= 0 && (reported < o.moved || reported > o.freshSize) {
		b.Errorf("%s: engine says it moved %d keys; %d preloaded keys are in the new master's slots, its DBSIZE is %d", name, reported, o.moved, o.freshSize)
	}
	s.checkNothingLost(b, name, w, slots)
	o.detail = timeBreakdown(before, after, s.times)
	fmt.Println(o.summary())
	return o
}

func newScaleOut(b *testing.B, slots []uint16) *scaleOut {
	b.Helper()
	nodes := redistest.Start(b, 7)
	redistest.Cluster(b, nodes[:6], 3)
	redistest.Join(b, nodes[0], nodes, nodes[6])
	s := &scaleOut{nodes: nodes, fresh: nodes[6]}
	s.fill(b, slots)
	return s
}

// fill writes the preloaded keys with one pipelined writer per master,
// each sending only the keys of its slots, then waits until every replica
// holds as many keys as its master, so that no replication is left over
// for the move to compete with.
func (s *scaleOut) fill(b *testing.B, slots []uint16) {
	b.Helper()
	ctx := context.Background()
	owners := slotOwners(b, s.nodes[0])
	byID := map[string]*redistest.Node{}
	for _, n := range s.nodes {
		byID[n.ID] = n
	}
	work := map[*redistest.Node][]int{}
	for i, sl := range slots {
		n := byID[owners[sl]]
		if n == nil {
			b.Fatalf("fill: slot %d has no known owner", sl)
		}
		work[n] = append(work[n], i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(work))
	for n, keys := range work {
		wg.Go(func() {
			for lo := 0; lo < len(keys); lo += 1000 {
				p := n.Client.Pipeline()
				for _, i := range keys[lo:min(lo+1000, len(keys))] {
					p.Set(ctx, benchKey(i), benchValue("v", i), 0)
				}
				if _, err := p.Exec(ctx); err != nil {
					errs <- fmt.Errorf("fill %s: %w", n.Addr(), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	var total int64
	for _, m := range s.nodes[:3] {
		n, err := m.Client.DBSize(ctx).Result()
		if err != nil {
			b.Fatal(err)
		}
		total += n
	}
	if total != benchKeys {
		b.Fatalf("fill: masters hold %d keys, want %d", total, benchKeys)
	}
	// redistest.Cluster makes nodes[3+i] the replica of nodes[i].
	deadline := time.Now().Add(2 * time.Minute)
	for i, r := range s.nodes[3:6] {
		for {
			want, err1 := s.nodes[i].Client.DBSize(ctx).Result()
			got, err2 := r.Client.DBSize(ctx).Result()
			if err1 == nil && err2 == nil && got == want {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("fill: replica %s holds %d keys, its master %d (%v %v)", r.Addr(), got, want, err1, err2)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (s *scaleOut) teardown() {
	for _, n := range s.nodes {
		n.Kill() // frees the memory now; redistest's cleanup reaps the process
	}
}

// checkNothingLost: the masters hold the preloaded keys plus the
// writer's new ones, and every key reads back with the last value the
// writer had acknowledged for it, or its preloaded value.
func (s *scaleOut) checkNothingLost(b *testing.B, name string, w *writer, slots []uint16) {
	b.Helper()
	ctx := context.Background()
	owners := slotOwners(b, s.nodes[0])
	masters := map[string]bool{}
	for _, id := range owners {
		masters[id] = true
	}
	var total int64
	for _, n := range s.nodes {
		if !masters[n.ID] {
			continue
		}
		size, err := n.Client.DBSize(ctx).Result()
		if err != nil {
			b.Fatalf("%s: dbsize: %v", name, err)
		}
		total += size
	}
	want := int64(benchKeys + w.newKeys)
	// A write that failed on the client's side may still have happened.
	if total < want || total > want+int64(w.failedNew) {
		b.Errorf("%s: the masters hold %d keys, want %d (%d preloaded + %d new keys acknowledged, %d new keys failed)",
			name, total, want, benchKeys, w.newKeys, w.failedNew)
	}

	c := clusterClient(s.nodes)
	defer c.Close()
	var lost, checked int
	var sample []string
	verify := func(keys []string, values func(int) (string, bool)) {
		for lo := 0; lo < len(keys); lo += 5000 {
			p := c.Pipeline()
			batch := keys[lo:min(lo+5000, len(keys))]
			cmds := make([]*redis.StringCmd, len(batch))
			for j, k := range batch {
				cmds[j] = p.Get(ctx, k)
			}
			_, _ = p.Exec(ctx) // each command has its own error
			for j, cmd := range cmds {
				v, ok := values(lo + j)
				if !ok {
					continue
				}
				checked++
				if got, err := cmd.Result(); err != nil || got != v {
					lost++
					if len(sample) < 5 {
						sample = append(sample, fmt.Sprintf("%s = %.20q, %v", batch[j], got, err))
					}
				}
			}
		}
	}
	pre := make([]string, benchKeys)
	for i := range pre {
		pre[i] = benchKey(i)
	}
	verify(pre, func(i int) (string, bool) {
		if v, ok := w.acked[pre[i]]; ok {
			return v, true
		}
		if _, ok := w.failedKeys[pre[i]]; ok {
			return "", false // either value is right
		}
		return benchValue("v", i), true
	})
	var fresh []string
	for k := range w.acked {
		if strings.HasPrefix(k, "w:") {
			fresh = append(fresh, k)
		}
	}
	verify(fresh, func(i int) (string, bool) { return w.acked[fresh[i]], true })
	if lost != 0 {
		b.Errorf("%s: %d of %d keys do not read back their acknowledged value, e.g. %v", name, lost, checked, sample)
	}
}

// writer is the client during a move: a ClusterClient that follows
// redirects, writing at a steady pace, half new keys and half overwrites
// of preloaded ones, and timing each write from send to acknowledgement
// (redirects and retries included).
type writer struct {
	c    *redis.ClusterClient
	stop chan struct{}
	done chan struct{}

	// Owned by the writer's goroutine until done is closed.
	starts     []time.Time
	lats       []time.Duration
	acked      map[string]string // key → last acknowledged value
	failedKeys map[string]struct{}
	newKeys    int // distinct new keys acknowledged
	failedNew  int
	failed     int
	errSample  []string
}

func startWriter(nodes []*redistest.Node, tag string) *writer {
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.Addr())
	}
	w := &writer{
		c: redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: addrs, MaxRedirects: 64, DisableIdentity: true,
			ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		}),
		stop: make(chan struct{}), done: make(chan struct{}),
		acked: map[string]string{}, failedKeys: map[string]struct{}{},
	}
	go w.run(tag)
	return w
}

func (w *writer) run(tag string) {
	defer close(w.done)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	interval := time.Second / benchWriteRate
	next := time.Now()
	for i := 0; ; i++ {
		select {
		case <-w.stop:
			return
		default:
		}
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(interval)
		if now := time.Now(); now.Sub(next) > interval {
			next = now // behind: no burst to catch up
		}
		var k string
		isNew := i%2 == 0
		if isNew {
			k = "w:" + strconv.Itoa(i)
		} else {
			k = benchKey(rng.IntN(benchKeys))
		}
		v := benchValue(tag+"-", i)
		start := time.Now()
		err := w.c.Set(ctx, k, v, 0).Err()
		lat := time.Since(start)
		if err != nil {
			w.failed++
			w.failedKeys[k] = struct{}{}
			if isNew {
				w.failedNew++
			}
			if len(w.errSample) < 5 {
				w.errSample = append(w.errSample, err.Error())
			}
			continue
		}
		w.starts = append(w.starts, start)
		w.lats = append(w.lats, lat)
		if isNew {
			w.newKeys++
		}
		w.acked[k] = v
		delete(w.failedKeys, k) // its value is known again
	}
}

func (w *writer) stopAndWait() {
	close(w.stop)
	<-w.done
	_ = w.c.Close()
}

// percentiles of the acknowledged writes sent between from and to.
func (w *writer) percentiles(from, to time.Time) (p50, p99 time.Duration, n int) {
	var lats []time.Duration
	for i, s := range w.starts {
		if !s.Before(from) && s.Before(to) {
			lats = append(lats, w.lats[i])
		}
	}
	if len(lats) == 0 {
		return 0, 0, 0
	}
	slices.Sort(lats)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(lats))+0.999999) - 1
		return lats[max(0, min(i, len(lats)-1))]
	}
	return at(0.50), at(0.99), len(lats)
}

// rebalanceMoves is what a rebalance onto the empty master moves, read
// from the live cluster: every master's share is 16384/masters (the
// remainder to the masters owning most), and each master owning more
// than its share gives the first slots of its own over to those owning
// less, as redis-cli's rebalance takes them.
func rebalanceMoves(b *testing.B, s *scaleOut) []migrate.Move {
	b.Helper()
	owners := slotOwners(b, s.nodes[0])
	byID := map[string]*redistest.Node{}
	for _, n := range s.nodes {
		byID[n.ID] = n
	}
	owned := map[string][]int{s.fresh.ID: nil}
	for sl, id := range owners {
		owned[id] = append(owned[id], sl)
	}
	ids := make([]string, 0, len(owned))
	for id := range owned {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if len(owned[ids[i]]) != len(owned[ids[j]]) {
			return len(owned[ids[i]]) > len(owned[ids[j]])
		}
		return ids[i] < ids[j]
	})
	share := map[string]int{}
	for i, id := range ids {
		share[id] = 16384 / len(ids)
		if i < 16384%len(ids) {
			share[id]++
		}
	}
	var given []struct {
		slot int
		from string
	}
	for _, id := range ids {
		for _, sl := range owned[id][:max(0, len(owned[id])-share[id])] {
			given = append(given, struct {
				slot int
				from string
			}{sl, id})
		}
	}
	var moves []migrate.Move
	for _, id := range ids {
		for need := share[id] - len(owned[id]); need > 0 && len(given) > 0; need-- {
			g := given[0]
			given = given[1:]
			moves = append(moves, migrate.Move{Slot: g.slot, Source: node(byID[g.from]), Target: node(byID[id])})
		}
	}
	if len(moves) != share[s.fresh.ID] {
		b.Fatalf("rebalance: %d moves, want %d for the new master", len(moves), share[s.fresh.ID])
	}
	return moves
}

// slotOwners is the master ID of every slot, from CLUSTER SLOTS.
func slotOwners(b *testing.B, n *redistest.Node) []string {
	b.Helper()
	ranges, err := n.Client.ClusterSlots(context.Background()).Result()
	if err != nil {
		b.Fatalf("cluster slots: %v", err)
	}
	owners := make([]string, 16384)
	for _, r := range ranges {
		if len(r.Nodes) == 0 {
			continue
		}
		for sl := r.Start; sl <= r.End; sl++ {
			owners[sl] = r.Nodes[0].ID
		}
	}
	for sl, id := range owners {
		if id == "" {
			b.Fatalf("cluster slots: slot %d has no owner", sl)
		}
	}
	return owners
}

// checkCluster is redis-cli's own verdict, as check in engine_test.go.
func checkCluster(tb testing.TB, n *redistest.Node) {
	tb.Helper()
	out, err := exec.Command("redis-cli", "--cluster", "check", n.Addr()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "[OK] All 16384 slots covered") || strings.Contains(string(out), "[WARNING]") {
		tb.Fatalf("redis-cli --cluster check: %v\n%s", err, tail(string(out), 40))
	}
}

func benchKey(i int) string { return "key:" + strconv.Itoa(i) }

// benchValue is a 100-byte value that names its writer and number.
func benchValue(tag string, i int) string {
	v := tag + strconv.Itoa(i) + ":"
	return v + strings.Repeat("x", benchValueSize-len(v))
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// cmdTimes adds up, per kind of command, the time the engine's workers
// spent waiting on each round trip (summed over workers running at once):
// where a move's time goes, from the client's side.
type cmdTimes struct {
	mu sync.Mutex
	d  map[string]time.Duration
	n  map[string]int
}

func (t *cmdTimes) dialer(d migrate.Dialer) migrate.Dialer {
	return func(addr string) migrate.Conn { return timedConn{d(addr), t} }
}

func (t *cmdTimes) add(kind string, d time.Duration) {
	t.mu.Lock()
	t.d[kind] += d
	t.n[kind]++
	t.mu.Unlock()
}

type timedConn struct {
	migrate.Conn
	t *cmdTimes
}

func (c timedConn) Do(ctx context.Context, args ...any) (any, error) {
	start := time.Now()
	v, err := c.Conn.Do(ctx, args...)
	c.t.add(cmdKind(args), time.Since(start))
	return v, err
}

func (c timedConn) Pipe(ctx context.Context, cmds ...[]any) ([]migrate.Reply, error) {
	start := time.Now()
	r, err := c.Conn.Pipe(ctx, cmds...)
	// A pipeline is named by its distinct commands, in order of first use:
	// "pipeline(MIGRATE+CLUSTER GETKEYSINSLOT)".
	var kinds []string
	for _, cmd := range cmds {
		if k := cmdKind(cmd); !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	c.t.add("pipeline("+strings.Join(kinds, "+")+")", time.Since(start))
	return r, err
}

func cmdKind(args []any) string {
	if len(args) == 0 {
		return "?"
	}
	k := strings.ToUpper(fmt.Sprint(args[0]))
	if k == "CLUSTER" && len(args) > 1 {
		k += " " + strings.ToUpper(fmt.Sprint(args[1]))
		if strings.HasSuffix(k, "SETSLOT") && len(args) > 3 {
			k += " " + strings.ToUpper(fmt.Sprint(args[3]))
		}
	}
	return k
}

// commandStats is the servers' own time per command (INFO commandstats,
// microseconds), summed over the nodes.
func commandStats(b *testing.B, nodes []*redistest.Node) map[string][2]int64 {
	b.Helper()
	out := map[string][2]int64{}
	for _, n := range nodes {
		text, err := n.Client.Info(context.Background(), "commandstats").Result()
		if err != nil {
			b.Fatalf("info commandstats: %v", err)
		}
		for _, line := range strings.Split(text, "\n") {
			name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok || !strings.HasPrefix(name, "cmdstat_") {
				continue
			}
			var calls, usec int64
			for _, f := range strings.Split(rest, ",") {
				k, v, _ := strings.Cut(f, "=")
				switch k {
				case "calls":
					calls, _ = strconv.ParseInt(v, 10, 64)
				case "usec":
					usec, _ = strconv.ParseInt(v, 10, 64)
				}
			}
			c := out[strings.TrimPrefix(name, "cmdstat_")]
			out[strings.TrimPrefix(name, "cmdstat_")] = [2]int64{c[0] + calls, c[1] + usec}
		}
	}
	return out
}

// timeBreakdown says where a move's time went: the servers' time in the
// commands that took most of it, and for the engine the time its workers
// waited on each kind of round trip.
func timeBreakdown(before, after map[string][2]int64, t *cmdTimes) string {
	type row struct {
		name        string
		calls, usec int64
	}
	var rows []row
	for name, a := range after {
		bf := before[name]
		if a[1]-bf[1] > 0 {
			rows = append(rows, row{name, a[0] - bf[0], a[1] - bf[1]})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].usec > rows[j].usec })
	var parts []string
	for _, r := range rows[:min(6, len(rows))] {
		parts = append(parts, fmt.Sprintf("%s %d calls %s", r.name, r.calls, (time.Duration(r.usec)*time.Microsecond).Round(time.Millisecond)))
	}
	s := "server time (all nodes): " + strings.Join(parts, ", ")
	if t == nil {
		return s
	}
	type crow struct {
		kind string
		n    int
		d    time.Duration
	}
	var crows []crow
	for k, d := range t.d {
		crows = append(crows, crow{k, t.n[k], d})
	}
	sort.Slice(crows, func(i, j int) bool { return crows[i].d > crows[j].d })
	parts = parts[:0]
	for _, r := range crows[:min(6, len(crows))] {
		parts = append(parts, fmt.Sprintf("%s ×%d %s", r.kind, r.n, r.d.Round(time.Millisecond)))
	}
	return s + "\n  engine round trips (summed over workers): " + strings.Join(parts, ", ")
}
