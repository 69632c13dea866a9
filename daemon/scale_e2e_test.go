package daemon_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-gitops/redis-gitops/internal/clustertest"
	"github.com/redis-gitops/redis-gitops/internal/giteatest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

func dataClient(t testing.TB, ns, name string) *redis.ClusterClient {
	var addrs []string
	for _, p := range clusterPods(t, ns, name) {
		addrs = append(addrs, p.Status.PodIP+":6379")
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16})
}

// TestDaemonKilledDuringScaleOut: masters 3 -> 4 is pushed, the daemon is
// SIGKILLed while slots are moving, and another daemon started afterwards
// finishes the move (the slot left open first), with no key lost.
func TestDaemonKilledDuringScaleOut(t *testing.T) {
	srv := giteatest.Shared(t)
	ns := sandboxtest.Namespace(t, "killed")
	repo := srv.CreateRepo(t, "killed-"+ns)
	// Small batches and one slot at a time: a migration slow enough to be
	// caught half-way.
	slow := "  migration:\n    keysPerBatch: 5\n    parallelSlots: 1\n"
	srv.PutFile(t, repo, "main", "clusters/cache.yaml", clusterSpec(ns, "cache", 3, 0, "", slow), "add cache")
	first := startDaemon(t, "daemon-first", repo, ns, "--interval", "1s")
	waitStatus(t, srv, repo, ns, "cache", 3*time.Minute, "3x0 ready", ready)

	const keys = 60000
	c := dataClient(t, ns, "cache")
	defer c.Close()
	clustertest.Fill(t, c, keys)

	srv.PutFile(t, repo, "main", "clusters/cache.yaml", clusterSpec(ns, "cache", 4, 0, "", slow), "scale out to 4 masters")
	label := `cluster="` + ns + `/cache",state="done"`
	var done float64
	sandboxtest.Eventually(t, 3*time.Minute, "the migration under way", func() error {
		if done = first.metric("redis_gitops_migration_slots", label); done < 50 {
			return fmt.Errorf("%v slots done", done)
		}
		return nil
	})
	first.stop(syscall.SIGKILL)
	t.Logf("daemon killed after %v of 4096 slots", done)
	if done >= 4096 {
		t.Fatal("the migration finished before the kill: the test proves nothing")
	}
	for _, p := range clusterPods(t, ns, "cache") {
		out := sandboxtest.Kubectl(t, nil, "-n", ns, "exec", p.Name, "--", "redis-cli", "cluster", "nodes")
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "myself") && (strings.Contains(line, "->-") || strings.Contains(line, "-<-")) {
				t.Logf("left open by the kill, on %s: %s", p.Name, line)
			}
		}
	}

	second := startDaemon(t, "daemon-second", repo, ns, "--interval", "1s")
	waitStatus(t, srv, repo, ns, "cache", 5*time.Minute, "4x0 ready after the restart", func(r report.Report) error {
		if err := ready(r); err != nil {
			return err
		}
		if len(r.Topology.Masters) != 4 {
			return fmt.Errorf("not 4 masters yet")
		}
		return nil
	})
	if logs := second.logs(); !strings.Contains(logs, "migration done") {
		t.Errorf("the second daemon did not finish the migration:\n%s", logs)
	}
	checkCluster(t, ns, "cache", 4, 0)
	evenShares(t, ns, "cache", 4)
	clustertest.ReadAll(t, c, keys)
}

// evenShares: every master holds an even share of the slots, within 2%.
func evenShares(t testing.TB, ns, name string, masters int) {
	t.Helper()
	pods := clusterPods(t, ns, name)
	text := sandboxtest.Kubectl(t, nil, "-n", ns, "exec", pods[0].Name, "--", "redis-cli", "cluster", "nodes")
	nodes, err := topology.ParseClusterNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	share := float64(topology.SlotCount) / float64(masters)
	for _, n := range nodes {
		if !n.Has("master") {
			continue
		}
		count := 0
		for _, r := range n.Slots {
			count += r.Len()
		}
		if d := float64(count) - share; d > 0.02*share || d < -0.02*share {
			t.Errorf("%s holds %d slots; an even share is %.0f\n%s", n.IP, count, share, text)
		}
	}
}
