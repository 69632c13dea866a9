package daemon_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-gitops/redis-gitops/internal/giteatest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
)

// TestScansOfABusyClusterCommitNothing: invariant 10. A cluster taking
// writes, with nothing else changed, is scanned on its schedule; the key
// counts every scan reads differ from the committed report's, and still
// no status commit is made, nor any other write.
func TestScansOfABusyClusterCommitNothing(t *testing.T) {
	srv := giteatest.Shared(t)
	ns := sandboxtest.Namespace(t, "news")
	repo := srv.CreateRepo(t, "news-"+ns)
	schedule := "  reconcile:\n    schedule: \"@every 10s\"\n"
	srv.PutFile(t, repo, "main", "clusters/cache.yaml", clusterSpec(ns, "cache", 3, 0, "", schedule), "add cache")
	d := startDaemon(t, "daemon-news", repo, ns, "--interval", "1s")
	waitStatus(t, srv, repo, ns, "cache", 3*time.Minute, "3x0 ready", ready)

	readyScans := `cluster="` + ns + `/cache",result="ready"`
	waitScans := func(n float64) {
		t.Helper()
		from := d.metric("redis_gitops_reconciles_total", readyScans)
		sandboxtest.Eventually(t, time.Minute, fmt.Sprintf("%v more scheduled scans", n), func() error {
			if got := d.metric("redis_gitops_reconciles_total", readyScans); got < from+n {
				return fmt.Errorf("%v scans, want %v", got, from+n)
			}
			return nil
		})
	}
	waitScans(2) // the pass that acted is followed by one that did not: its report is news, pushed by now
	committed, _ := statusOf(t, srv, repo, ns, "cache")
	commits := commitsBy(srv.Commits(t, repo, "main"), "bot@redis-gitops.test")
	before := d.writes()

	c := dataClient(t, ns, "cache")
	defer c.Close()
	ctx := t.Context()
	var written atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			p := c.Pipeline()
			for j := range 50 {
				p.Set(ctx, fmt.Sprintf("news:%d:%d", i, j), "v", 0)
			}
			if _, err := p.Exec(ctx); err == nil {
				written.Add(50)
			}
		}
	}()
	stopWriter := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriter()

	waitScans(3)
	stopWriter()

	var committedKeys int64
	for _, m := range committed.Topology.Masters {
		committedKeys += m.Keys
	}
	var live atomic.Int64
	if err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		live.Add(n)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d keys written during the scans; %d live, %d in the committed report", written.Load(), live.Load(), committedKeys)
	if written.Load() == 0 || live.Load() == committedKeys {
		t.Fatal("the key counts did not move: the test proves nothing")
	}
	if got := commitsBy(srv.Commits(t, repo, "main"), "bot@redis-gitops.test"); got != commits {
		t.Errorf("%d status commits during scans that found only new keys", got-commits)
	}
	if after := d.writes(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("writes during scans that found only new keys: before %v, after %v", before, after)
	}
}
