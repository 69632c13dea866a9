package reconcile_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"

	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
)

// BenchmarkBootstrap measures, on identical fresh 3×1 sets of pods in the
// same run, the seconds from all pods Ready to cluster_state:ok with every
// replica linked: this reconciler against `redis-cli --cluster create
// --cluster-replicas 1` (the blog's way). Run with `make bench`.
func BenchmarkBootstrap(b *testing.B) {
	var ours, cli time.Duration
	for i := 0; i < b.N; i++ {
		ours += bootstrapOnce(b, fmt.Sprintf("bench-ours-%d", i), false)
		cli += bootstrapOnce(b, fmt.Sprintf("bench-cli-%d", i), true)
	}
	n := float64(b.N)
	b.ReportMetric(ours.Seconds()/n, "s/reconciler")
	b.ReportMetric(cli.Seconds()/n, "s/redis-cli")
	b.ReportMetric(ours.Seconds()/cli.Seconds(), "ratio")
	b.Logf("bootstrap 3x1, mean of %d: reconciler %.2f s, redis-cli --cluster create %.2f s, ratio %.2f",
		b.N, ours.Seconds()/n, cli.Seconds()/n, ours.Seconds()/cli.Seconds())
}

func bootstrapOnce(b *testing.B, prefix string, withCLI bool) time.Duration {
	h := newHarness(b, prefix)
	sandboxtest.Eventually(b, 3*time.Minute, "6 pods Ready", func() error {
		ready := 0
		for _, p := range h.pods() {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if ready != 6 {
			return fmt.Errorf("%d of 6", ready)
		}
		return nil
	})
	pods := h.pods()
	start := time.Now()
	if withCLI {
		var addrs []string
		for _, p := range pods {
			addrs = append(addrs, p.Status.PodIP+":6379")
		}
		first := pods[h.c.Metadata.Name+"-0"].Name
		h.exec(first, append([]string{"redis-cli", "--cluster", "create", "--cluster-replicas", "1", "--cluster-yes"}, addrs...)...)
	} else {
		h.converge()
	}
	waitLinked(b, pods)
	return time.Since(start)
}

// waitLinked polls every node until it says cluster_state:ok and every
// replica's master link is up.
func waitLinked(b *testing.B, pods map[string]corev1.Pod) {
	waitLinkedWithin(b, pods, 2*time.Minute)
}

// waitLinkedWithin is waitLinked with a deadline.
func waitLinkedWithin(b *testing.B, pods map[string]corev1.Pod, within time.Duration) {
	if err := linked(pods, within); err != nil {
		b.Fatal(err)
	}
}

// linked is the judge of waitLinked. It keeps one connection per node and
// asks again only the nodes not yet there, then all of them once more, at
// an interval that grows with the cluster (20 ms for 6 nodes, 180 ms for
// 90), so that a large cluster is not slowed by its own judge.
func linked(pods map[string]corev1.Pod, within time.Duration) error {
	ctx := context.Background()
	clients := map[string]*redis.Client{}
	for name, p := range pods {
		clients[name] = redis.NewClient(&redis.Options{Addr: p.Status.PodIP + ":6379", DisableIdentity: true, PoolSize: 1})
		defer clients[name].Close()
	}
	there := func(c *redis.Client) bool {
		info, err1 := c.ClusterInfo(ctx).Result()
		repl, err2 := c.Info(ctx, "replication").Result()
		return err1 == nil && err2 == nil && strings.Contains(info, "cluster_state:ok") &&
			(!strings.Contains(repl, "role:slave") || strings.Contains(repl, "master_link_status:up"))
	}
	interval := max(20*time.Millisecond, time.Duration(len(pods))*2*time.Millisecond)
	deadline := time.Now().Add(within)
	pending := maps.Clone(clients)
	for {
		for name, c := range pending {
			if there(c) {
				delete(pending, name)
			}
		}
		if len(pending) == 0 {
			// Once more, all of them: a node can say ok and lose it.
			for name, c := range clients {
				if !there(c) {
					pending[name] = c
				}
			}
			if len(pending) == 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d nodes not ok with replicas linked after %s", len(pending), len(pods), within)
		}
		time.Sleep(interval)
	}
}
