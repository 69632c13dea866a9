package reconcile_test

import (
	"context"
	"fmt"
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
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok := true
		for _, p := range pods {
			c := redis.NewClient(&redis.Options{Addr: p.Status.PodIP + ":6379", DisableIdentity: true})
			info, err1 := c.ClusterInfo(ctx).Result()
			repl, err2 := c.Info(ctx, "replication").Result()
			c.Close()
			if err1 != nil || err2 != nil || !strings.Contains(info, "cluster_state:ok") ||
				(strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up")) {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("cluster not ok with replicas linked after 2m")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
