package reconcile_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// largeRow is one line of the large-cluster table.
type largeRow struct {
	nodes     int
	ready     time.Duration // StatefulSet applied -> every pod Ready (the sandbox, not the reconciler)
	bootstrap time.Duration // every pod Ready -> cluster_state:ok, every replica linked
	// pass: every pod Ready -> the reconciler's pass ends, which it does
	// once every node also knows every other and its role.
	pass time.Duration
	// cli is the same bootstrap by redis-cli --cluster create
	// --cluster-replicas 1, on identical fresh pods of another namespace.
	cli time.Duration
	// bootstrapRetries counts the passes that stopped on an error before
	// the one that finished (the daemon runs the next pass by itself).
	bootstrapRetries int
	noopPass         time.Duration
	noopRedis        int64 // Redis commands of the no-op pass
	noopAPI          int64 // Kubernetes API requests of the no-op pass
	busBytes         float64
	// election: a master's redis-server stopped (SIGSTOP: a hung machine,
	// or one cut off) -> its first slot served by the replica it elected.
	election    time.Duration
	failover    time.Duration // a master's pod deleted -> its first slot served again
	servedBy    string        // "its replica" (a failover) or "itself" (the pod came back first)
	heapInUseMB float64
}

// BenchmarkLargeCluster measures how one cluster behaves as it grows, for
// each size of REDIS_GITOPS_BENCH_SIZES (Redis nodes, masters with one
// replica each, the default nodeTimeout of 15 s; default "6,30"):
// bootstrap by this reconciler and by redis-cli --cluster create on
// identical fresh pods (a ratio: from every pod Ready to every node saying
// cluster_state:ok with its replicas linked, judged by a watcher running
// alongside each), when the reconciler's pass ends (later: it waits for
// every node to know every other and its role), a no-op pass (time, Redis commands, API
// requests), cluster-bus bytes per node per second at rest (the pod's own
// network namespace counters, /proc/net/dev, over 10 s), the time from a
// master stopped to its slots served by the replica it elected, and from a
// master's pod deleted to its slots served again, and the heap in use.
// Each size's namespaces are deleted before the next size starts. Run by
// `make bench`; sizes above 90 take the sandbox minutes to start and are
// asked for explicitly.
func BenchmarkLargeCluster(b *testing.B) {
	sizes := []int{6, 30}
	if env := os.Getenv("REDIS_GITOPS_BENCH_SIZES"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 6 || n%2 != 0 {
				b.Fatalf("REDIS_GITOPS_BENCH_SIZES: %q is not an even number of nodes, at least 6", f)
			}
			sizes = append(sizes, n)
		}
	}
	var rows []largeRow
	for range b.N {
		rows = rows[:0]
		for _, n := range sizes {
			rows = append(rows, largeOnce(b, n))
		}
	}
	lines := []string{"nodes | pods ready | bootstrap | redis-cli | ratio | pass ends | no-op pass | its Redis commands | its API requests | bus bytes/node/s | master stopped -> replica elected, serving | master pod deleted -> slots served | heap in use"}
	for _, r := range rows {
		lines = append(lines, fmt.Sprintf("%5d | %8.1f s | %7.2f s%s | %7.2f s | %.2f | %7.2f s | %8.2f s | %18d | %16d | %16.0f | %6.1f s | %6.1f s (by %s) | %8.1f MB",
			r.nodes, r.ready.Seconds(), r.bootstrap.Seconds(), retries(r.bootstrapRetries), r.cli.Seconds(), r.bootstrap.Seconds()/r.cli.Seconds(), r.pass.Seconds(),
			r.noopPass.Seconds(), r.noopRedis, r.noopAPI, r.busBytes, r.election.Seconds(), r.failover.Seconds(), r.servedBy, r.heapInUseMB))
	}
	for _, l := range lines {
		fmt.Println("large: " + l)
		b.Log(l)
	}
	if len(rows) > 0 {
		last := rows[len(rows)-1]
		b.ReportMetric(last.bootstrap.Seconds(), "s/bootstrap-largest")
		b.ReportMetric(last.bootstrap.Seconds()/last.cli.Seconds(), "ratio/bootstrap-largest")
		b.ReportMetric(last.election.Seconds(), "s/election-largest")
		b.ReportMetric(last.failover.Seconds(), "s/failover-largest")
		b.ReportMetric(last.busBytes, "bus-bytes/node/s-largest")
	}
}

func largeOnce(b *testing.B, nodes int) largeRow {
	row := largeRow{nodes: nodes}
	row.cli = largeCLIBootstrap(b, nodes)
	var redisCmds, apiCalls atomic.Int64
	cfg := sandboxtest.Config()
	cfg.QPS, cfg.Burst = 200, 400
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			apiCalls.Add(1)
			return rt.RoundTrip(r)
		})
	}
	counted, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	h := newHarnessWith(b, fmt.Sprintf("large-%d", nodes), func(h *harness) {
		h.c.Spec.Masters = nodes / 2
		h.c.Spec.Redis.NodeTimeout.Duration = spec.DefaultNodeTimeout
		h.client = counted
		h.redis.Client = counted
		h.redis.PodsTimeout = 10 * time.Minute
		h.redis.Wrap = func(a converge.Admin) converge.Admin { return countingAdmin{a, &redisCmds} }
	})
	waitPodsReady(b, h, nodes)
	row.ready = time.Since(start)
	pods := h.pods()
	start = time.Now()
	served := judge(pods, start)
	// As the daemon would: a pass that stops on an error (a dial timing
	// out on a loaded machine) is followed by another, which resumes.
	for pass := 1; ; pass++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		_, err := h.redis.Converge(ctx, h.c, false)
		cancel()
		if err == nil {
			break
		}
		if pass == 3 {
			b.Fatalf("bootstrap of %d nodes: 3 passes failed; last: %v", nodes, err)
		}
		row.bootstrapRetries++
		b.Logf("bootstrap of %d nodes, pass %d: %v (the next pass resumes)", nodes, pass, err)
	}
	row.pass = time.Since(start)
	if row.bootstrap = <-served; row.bootstrap < 0 {
		b.Fatalf("%d nodes bootstrapped by the reconciler: not ok with replicas linked in 10 min", nodes)
	}

	// A no-op pass: nothing to change, counted.
	redisCmds.Store(0)
	apiCalls.Store(0)
	start = time.Now()
	if executed := h.converge(); len(executed) != 0 {
		b.Fatalf("a no-op pass at %d nodes executed %v", nodes, executed)
	}
	row.noopPass = time.Since(start)
	row.noopRedis, row.noopAPI = redisCmds.Load(), apiCalls.Load()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	row.heapInUseMB = float64(ms.HeapInuse) / (1 << 20)

	row.busBytes = busBytesPerNode(b, h, 10*time.Second)
	row.election = masterStopped(b, h)
	waitLinkedWithin(b, h.pods(), 5*time.Minute)
	row.failover, row.servedBy = masterPodDeleted(b, h)
	deleteNamespace(b, h)
	return row
}

// largeCLIBootstrap is the bootstrap of the blog's way, on pods identical to
// the reconciler's (the same spec, another namespace): redis-cli --cluster
// create --cluster-replicas 1 --cluster-yes, run from this machine, from
// all pods Ready to cluster_state:ok with every replica linked. The
// namespace is deleted before the reconciler's pods start.
func largeCLIBootstrap(b *testing.B, nodes int) time.Duration {
	h := newHarnessWith(b, fmt.Sprintf("large-cli-%d", nodes), func(h *harness) {
		h.c.Spec.Masters = nodes / 2
		h.c.Spec.Redis.NodeTimeout.Duration = spec.DefaultNodeTimeout
	})
	waitPodsReady(b, h, nodes)
	pods := h.pods()
	args := []string{"--cluster", "create", "--cluster-replicas", "1", "--cluster-yes"}
	for _, p := range pods {
		args = append(args, p.Status.PodIP+":6379")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	served := judge(pods, start)
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		b.Fatalf("redis-cli --cluster create of %d nodes: %v\n%s", nodes, err, out)
	}
	took := <-served
	if took < 0 {
		b.Fatalf("%d nodes created by redis-cli: not ok with replicas linked in 10 min", nodes)
	}
	deleteNamespace(b, h)
	return took
}

// judge watches, from start, for the moment every node says
// cluster_state:ok with its replicas linked, and sends the time it took
// (-1 if not within 10 min). It runs while the bootstrap does, for both
// bootstrappers alike.
func judge(pods map[string]corev1.Pod, start time.Time) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() {
		if err := linked(pods, 10*time.Minute); err != nil {
			out <- -1
			return
		}
		out <- time.Since(start)
	}()
	return out
}

func waitPodsReady(b *testing.B, h *harness, nodes int) {
	sandboxtest.Eventually(b, 15*time.Minute, fmt.Sprintf("%d pods Ready", nodes), func() error {
		ready := 0
		for _, p := range h.pods() {
			if podReady(p) {
				ready++
			}
		}
		if ready != nodes {
			return fmt.Errorf("%d of %d", ready, nodes)
		}
		return nil
	})
}

// deleteNamespace deletes the harness's namespace and waits until its pods
// are gone, so that the next size runs on an idle sandbox.
func deleteNamespace(b *testing.B, h *harness) {
	ctx := context.Background()
	if err := h.client.CoreV1().Namespaces().Delete(ctx, h.ns, metav1.DeleteOptions{}); err != nil {
		b.Fatal(err)
	}
	sandboxtest.Eventually(b, 15*time.Minute, "namespace "+h.ns+" without pods", func() error {
		list, err := h.client.CoreV1().Pods(h.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(list.Items) > 0 {
			return fmt.Errorf("%d pods left", len(list.Items))
		}
		return nil
	})
}

// masterStopped stops a master's redis-server with SIGSTOP (the pods'
// processes are this machine's: the sandbox shares its PID namespace), so
// that it neither answers nor closes its connections, as a hung machine or
// one cut off from the network; and returns the time until a replica,
// elected by the masters once they agree the master failed (the node
// timeout, then failure reports spreading by gossip, then the vote),
// serves its first slot. The master goes on again after (SIGCONT) and
// rejoins as a replica.
func masterStopped(b *testing.B, h *harness) time.Duration {
	ctx := context.Background()
	victim, witness, slot, victimID := twoMasters(b, h)
	v := redis.NewClient(&redis.Options{Addr: victim.Status.PodIP + ":6379", DisableIdentity: true})
	info, err := v.Info(ctx, "server").Result()
	v.Close()
	if err != nil {
		b.Fatal(err)
	}
	pid := 0
	for _, line := range strings.Split(info, "\r\n") {
		if f, ok := strings.CutPrefix(line, "process_id:"); ok {
			pid, _ = strconv.Atoi(f)
		}
	}
	if pid <= 1 {
		b.Fatalf("no process_id in %s's INFO server", victim.Name)
	}
	w := redis.NewClient(&redis.Options{Addr: witness.Status.PodIP + ":6379", DisableIdentity: true})
	defer w.Close()
	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		b.Fatalf("SIGSTOP %s (pid %d): %v", victim.Name, pid, err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	for {
		if slots, err := w.ClusterSlots(ctx).Result(); err == nil {
			for _, s := range slots {
				if s.Start > slot || slot > s.End || len(s.Nodes) == 0 || s.Nodes[0].ID == victimID {
					continue
				}
				owner := redis.NewClient(&redis.Options{Addr: s.Nodes[0].Addr, DisableIdentity: true, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
				n, err := owner.ClusterCountKeysInSlot(ctx, slot).Result()
				owner.Close()
				if err == nil && n >= 0 {
					return time.Since(start)
				}
			}
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("slot %d not served by another node 5 min after stopping %s", slot, victim.Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countingAdmin counts the commands sent on an admin connection.
type countingAdmin struct {
	converge.Admin
	n *atomic.Int64
}

func (c countingAdmin) Do(ctx context.Context, args ...any) (any, error) {
	c.n.Add(1)
	return c.Admin.Do(ctx, args...)
}

func (c countingAdmin) Pipe(ctx context.Context, cmds ...[]any) ([]migrate.Reply, error) {
	c.n.Add(int64(len(cmds)))
	return c.Admin.Pipe(ctx, cmds...)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// busBytesPerNode is the bytes a node sends per second at rest, from its
// network namespace's counters (every interface but lo) on three pods over
// window: the cluster bus, and the probes (a few bytes a second).
func busBytesPerNode(b *testing.B, h *harness, window time.Duration) float64 {
	var names []string
	for name := range h.pods() {
		names = append(names, name)
		if len(names) == 3 {
			break
		}
	}
	before := map[string]int64{}
	for _, n := range names {
		before[n] = txBytes(b, h, n)
	}
	time.Sleep(window)
	total := 0.0
	for _, n := range names {
		total += float64(txBytes(b, h, n) - before[n])
	}
	return total / float64(len(names)) / window.Seconds()
}

// txBytes sums the transmitted bytes of a pod's interfaces but lo, from
// /proc/net/dev as the pod sees it.
func txBytes(b *testing.B, h *harness, pod string) int64 {
	out := h.exec(pod, "cat", "/proc/net/dev")
	var sum int64
	for _, line := range strings.Split(out, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		n, err := strconv.ParseInt(f[8], 10, 64) // transmit bytes
		if err != nil {
			continue
		}
		sum += n
	}
	if sum == 0 {
		b.Fatalf("no transmit counters in %s's /proc/net/dev:\n%s", pod, out)
	}
	return sum
}

// twoMasters picks two masters holding slots, as their pods' own CLUSTER
// NODES say: the victim (with its first slot and its node ID) and a
// witness to ask who serves that slot.
func twoMasters(b *testing.B, h *harness) (victim, witness corev1.Pod, slot int, victimID string) {
	for _, p := range h.pods() {
		nodes, err := topology.ParseClusterNodes(h.exec(p.Name, "redis-cli", "cluster", "nodes"))
		if err != nil {
			b.Fatal(err)
		}
		self, _ := topology.Myself(nodes)
		if victim.Name == "" && len(self.Slots) > 0 {
			victim, slot, victimID = p, self.Slots[0].Start, self.ID
		} else if witness.Name == "" && len(self.Slots) > 0 {
			witness = p
		}
		if witness.Name != "" {
			return victim, witness, slot, victimID
		}
	}
	b.Fatal("no two masters holding slots")
	return
}

// masterPodDeleted deletes the pod of a master holding slots and returns
// the time until its first slot is served again, and by whom: its replica
// after an automatic failover (node-timeout), or the master itself if its
// pod came back first (the StatefulSet restarts it on its volume).
func masterPodDeleted(b *testing.B, h *harness) (time.Duration, string) {
	victim, witness, slot, victimID := twoMasters(b, h)
	w := redis.NewClient(&redis.Options{Addr: witness.Status.PodIP + ":6379", DisableIdentity: true})
	defer w.Close()
	ctx := context.Background()
	start := time.Now()
	sandboxtest.Kubectl(b, nil, "-n", h.ns, "delete", "pod", victim.Name, "--grace-period=0", "--force", "--wait=false")
	// The clock runs from the delete; the served check starts once the
	// old process no longer answers.
	old := redis.NewClient(&redis.Options{Addr: victim.Status.PodIP + ":6379", DisableIdentity: true, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
	for old.Ping(ctx).Err() == nil && time.Since(start) < time.Minute {
		time.Sleep(20 * time.Millisecond)
	}
	old.Close()
	for {
		if slots, err := w.ClusterSlots(ctx).Result(); err == nil {
			for _, s := range slots {
				if s.Start > slot || slot > s.End || len(s.Nodes) == 0 {
					continue
				}
				owner := redis.NewClient(&redis.Options{Addr: s.Nodes[0].Addr, DisableIdentity: true, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
				n, err := owner.ClusterCountKeysInSlot(ctx, slot).Result()
				owner.Close()
				if err == nil && n >= 0 {
					by := "its replica"
					if s.Nodes[0].ID == victimID {
						by = "itself"
					}
					return time.Since(start), by
				}
			}
		}
		if time.Since(start) > 3*time.Minute {
			b.Fatalf("slot %d not served 3 min after deleting %s", slot, victim.Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func retries(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d passes failed first)", n)
}
