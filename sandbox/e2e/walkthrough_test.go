package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/sandbox/walkthrough"
)

// TestWalkthrough replays ../shared/seed: the blog's ConfigMap, StatefulSet
// and headless Service applied as written, then `redis-cli --cluster create`
// run by hand through kubectl exec, as the post does.
func TestWalkthrough(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "walkthrough")
	start := time.Now()
	if err := walkthrough.Apply(ctx, client, ns); err != nil {
		t.Fatal(err)
	}
	pods, err := walkthrough.WaitReady(ctx, client, ns, walkthrough.Replicas, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("6 pods Ready %.1f s after applying the StatefulSet", time.Since(start).Seconds())

	// Every claim of the volumeClaimTemplate is bound by the default class.
	pvcs, err := client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := countBound(pvcs.Items); got != walkthrough.Replicas {
		t.Fatalf("bound PVCs: got %d, want %d", got, walkthrough.Replicas)
	}

	var addrs []string
	for _, p := range pods {
		addrs = append(addrs, p.Status.PodIP+":6379")
	}
	args := append([]string{"-n", ns, "exec", "redis-cluster-0", "--", "redis-cli", "--cluster", "create", "--cluster-replicas", "1", "--cluster-yes"}, addrs...)
	out := kubectl(t, args...)
	if !strings.Contains(out, "[OK] All 16384 slots covered.") {
		t.Fatalf("cluster create did not cover all slots:\n%s", out)
	}
	eventually(t, time.Minute, "cluster info says cluster_state:ok on every pod", func() error {
		for i := range walkthrough.Replicas {
			info := kubectl(t, "-n", ns, "exec", fmt.Sprintf("redis-cluster-%d", i), "--", "redis-cli", "cluster", "info")
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("redis-cluster-%d: %s", i, firstLine(info))
			}
		}
		return nil
	})
	if got := strings.TrimSpace(kubectl(t, "-n", ns, "exec", "redis-cluster-0", "--", "redis-cli", "-c", "set", "hello", "world")); got != "OK" {
		t.Fatalf("set hello world: got %q", got)
	}
	if got := strings.TrimSpace(kubectl(t, "-n", ns, "exec", "redis-cluster-1", "--", "redis-cli", "-c", "get", "hello")); got != "world" {
		t.Fatalf("get hello through another pod: got %q, want world", got)
	}
	// An independent judge: redis-cli's own check agrees.
	check := kubectl(t, "-n", ns, "exec", "redis-cluster-3", "--", "redis-cli", "--cluster", "check", pods[0].Status.PodIP+":6379")
	if !strings.Contains(check, "[OK] All nodes agree about slots configuration.") {
		t.Fatalf("cluster check:\n%s", check)
	}
	if logs := kubectl(t, "-n", ns, "logs", "redis-cluster-0"); !strings.Contains(logs, "Ready to accept connections") {
		t.Fatalf("kubectl logs redis-cluster-0 lacks redis's startup line:\n%s", logs)
	}

	t.Run("pod re-created by its StatefulSet gets a new IP and keeps its PVC data", func(t *testing.T) {
		const pod = "redis-cluster-2"
		before, err := client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		myID := strings.TrimSpace(kubectl(t, "-n", ns, "exec", pod, "--", "redis-cli", "cluster", "myid"))
		kubectl(t, "-n", ns, "exec", pod, "--", "sh", "-c", "echo kept > /data/marker")
		kubectl(t, "-n", ns, "delete", "pod", pod, "--wait=true")
		var after *corev1.Pod
		eventually(t, 2*time.Minute, pod+" re-created and Ready", func() error {
			p, err := client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.UID == before.UID || !podReady(p) {
				return fmt.Errorf("not yet (uid %s, phase %s)", p.UID, p.Status.Phase)
			}
			after = p
			return nil
		})
		if after.Status.PodIP == before.Status.PodIP {
			t.Errorf("pod IP: got the same %s after re-creation, want a new one", after.Status.PodIP)
		}
		if got := strings.TrimSpace(kubectl(t, "-n", ns, "exec", pod, "--", "cat", "/data/marker")); got != "kept" {
			t.Errorf("/data/marker after re-creation: got %q, want kept", got)
		}
		if got := strings.TrimSpace(kubectl(t, "-n", ns, "exec", pod, "--", "redis-cli", "cluster", "myid")); got != myID {
			t.Errorf("cluster myid after re-creation: got %s, want %s (nodes.conf lives on the PVC)", got, myID)
		}
	})
}

func countBound(pvcs []corev1.PersistentVolumeClaim) int {
	n := 0
	for _, c := range pvcs {
		if c.Status.Phase == corev1.ClaimBound {
			n++
		}
	}
	return n
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
