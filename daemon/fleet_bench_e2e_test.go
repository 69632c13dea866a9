package daemon_test

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/internal/giteatest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
)

// BenchmarkFleet sizes the daemon: N small clusters (3 masters, no
// replicas) in one repo, one commit, one daemon with the default
// --concurrent, --kube-api-qps and Lease timings, on the sandbox and Gitea:
//
//   - push-to-all-ready-s: from the push of the N specs to the daemon
//     having found every cluster Ready;
//   - last-report-s: to the last cluster's Ready report committed in Git;
//   - scan-cpu-ms: the daemon's CPU time over scans-counted no-op scans
//     (each cluster on an "@every 20s" schedule), divided by their count:
//     an upper bound, since it includes what the daemon spends idle
//     (Lease renewals, Secret polls, the Go runtime);
//   - scan-writes: Kubernetes, Redis and Git writes made by those scans
//     (target 0);
//   - rss-mb: the daemon's resident memory once every cluster is Ready.
//
// REDIS_GITOPS_BENCH_FLEET picks the sizes (default "1,10,50,100"),
// REDIS_GITOPS_BENCH_CONCURRENT the daemon's --concurrent.
func BenchmarkFleet(b *testing.B) {
	sizes := []int{1, 10, 50, 100}
	if s := os.Getenv("REDIS_GITOPS_BENCH_FLEET"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("REDIS_GITOPS_BENCH_FLEET=%q: want sizes like 1,10,50", s)
			}
			sizes = append(sizes, n)
		}
	}
	srv := giteatest.Shared(b)
	for _, n := range sizes {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			for range b.N {
				benchFleet(b, srv, n)
			}
		})
	}
}

func benchFleet(b *testing.B, srv *giteatest.Server, n int) {
	ns := sandboxtest.Namespace(b, "fleet")
	repo := srv.CreateRepo(b, "fleet-"+ns)
	var flags []string
	if c := os.Getenv("REDIS_GITOPS_BENCH_CONCURRENT"); c != "" {
		flags = append(flags, "--concurrent", c)
	}
	d := startDaemon(b, "fleet-bench", repo, ns, flags...)
	srv.AddWebhook(b, repo, "http://"+d.addr+"/hooks/gitea", webhookSecret)
	files := map[string]string{}
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("c%03d", i)
		files["clusters/"+names[i]+".yaml"] = clusterSpec(ns, names[i], 3, 0, "", "  reconcile:\n    schedule: \"@every 20s\"\n")
	}
	start := time.Now()
	srv.PutFiles(b, repo, "main", files, fmt.Sprintf("%d clusters", n))
	timeout := 3*time.Minute + time.Duration(n)*10*time.Second
	sandboxtest.Eventually(b, timeout, "every cluster Ready", func() error {
		if got := readyClusters(b, d); got < n {
			return fmt.Errorf("%d of %d Ready", got, n)
		}
		return nil
	})
	allReady := time.Since(start)
	rss := d.metric("process_resident_memory_bytes", "")
	sandboxtest.Eventually(b, 2*time.Minute, "every Ready report in Git", func() error {
		for _, name := range names {
			r, ok := statusOf(b, srv, repo, ns, name)
			if !ok {
				return fmt.Errorf("no report of %s", name)
			}
			if err := ready(r); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return nil
	})
	lastReport := time.Since(start)

	// No-op scans: from a scan boundary, at least two per cluster.
	scans := func() float64 { return d.metricSum("redis_gitops_reconciles_total") }
	first := scans()
	sandboxtest.Eventually(b, time.Minute, "a scheduled scan", func() error {
		if scans() <= first {
			return fmt.Errorf("waiting")
		}
		return nil
	})
	before, cpu0, s0 := d.writes(), d.metric("process_cpu_seconds_total", ""), scans()
	sandboxtest.Eventually(b, 2*time.Minute+time.Duration(n)*time.Second, "two scans per cluster", func() error {
		if got := scans(); got < s0+float64(2*n) {
			return fmt.Errorf("%v of %d scans", got-s0, 2*n)
		}
		return nil
	})
	after, cpu1, s1 := d.writes(), d.metric("process_cpu_seconds_total", ""), scans()
	writes := 0.0
	for k := range after {
		writes += after[k] - before[k]
	}
	b.ReportMetric(allReady.Seconds(), "push-to-all-ready-s")
	b.ReportMetric(lastReport.Seconds(), "last-report-s")
	b.ReportMetric((cpu1-cpu0)*1000/(s1-s0), "scan-cpu-ms")
	b.ReportMetric(writes, "scan-writes")
	b.ReportMetric(s1-s0, "scans-counted")
	b.ReportMetric(rss/(1<<20), "rss-mb")
}

// readyClusters counts the clusters the daemon has found Ready at least
// once.
func readyClusters(t testing.TB, d *daemonProc) int {
	body, err := d.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return len(regexp.MustCompile(`(?m)^redis_gitops_reconciles_total\{cluster="[^"]+",result="ready"\} [1-9]`).FindAllString(body, -1))
}

// metricSum adds every sample of a metric, whatever its labels.
func (d *daemonProc) metricSum(name string) float64 {
	d.t.Helper()
	body, err := d.get("/metrics")
	if err != nil {
		d.t.Fatal(err)
	}
	sum := 0.0
	for _, m := range regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(name)+`(?:\{[^}]*\})? (\S+)$`).FindAllStringSubmatch(body, -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			d.t.Fatal(err)
		}
		sum += v
	}
	return sum
}
