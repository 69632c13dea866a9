package reconcile_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"

	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// admin is a plain client to one pod: the test's own admin commands.
func admin(p corev1.Pod) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: p.Status.PodIP + ":6379", DisableIdentity: true})
}

// roles reads CLUSTER NODES through one pod and maps pod IPs to nodes.
func (h *harness) roles(via corev1.Pod) []topology.ClusterNode {
	h.t.Helper()
	c := admin(via)
	defer c.Close()
	text, err := c.ClusterNodes(context.Background()).Result()
	if err != nil {
		h.t.Fatal(err)
	}
	nodes, err := topology.ParseClusterNodes(text)
	if err != nil {
		h.t.Fatal(err)
	}
	return nodes
}

func TestNodeKillFailsOverAndPlacementComesBack(t *testing.T) {
	h := newHarness(t, "nodekill")
	h.converge()
	h.check()
	h.writeKeys(200)

	pods := h.pods()
	byIP := map[string]corev1.Pod{}
	for _, p := range pods {
		byIP[p.Status.PodIP] = p
	}
	var master corev1.Pod
	var masterID string
	for _, n := range h.roles(pods[h.c.Metadata.Name+"-0"]) {
		if n.Has("master") && len(n.Slots) > 0 {
			master, masterID = byIP[n.IP], n.ID
			break
		}
	}
	node := master.Spec.NodeName
	t.Logf("killing %s, which runs master %s", node, master.Name)
	sandboxtest.Sandbox(t, "node", "kill", node)

	var witness corev1.Pod
	for _, p := range pods {
		if p.Spec.NodeName != node {
			witness = p
			break
		}
	}
	sandboxtest.Eventually(t, 90*time.Second, "Redis fails over the killed master's slots", func() error {
		for _, n := range h.roles(witness) {
			if n.ID == masterID && len(n.Slots) == 0 {
				return nil
			}
		}
		c := admin(witness)
		defer c.Close()
		text, _ := c.ClusterNodes(context.Background()).Result()
		return fmt.Errorf("master %s still owns its slots:\n%s", masterID[:8], text)
	})

	sandboxtest.Sandbox(t, "node", "start", node)
	sandboxtest.Eventually(t, 2*time.Minute, "pods on the restarted node running again", func() error {
		for _, p := range h.pods() {
			if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || !podReady(p) {
				return fmt.Errorf("%s: %s", p.Name, p.Status.Phase)
			}
		}
		return nil
	})
	h.converge()
	h.check()
	h.readKeys(200)
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestInterruptedMigrationIsFinished(t *testing.T) {
	h := newHarness(t, "openslot")
	h.converge()
	ctx := context.Background()
	pods := h.pods()
	byIP := map[string]corev1.Pod{}
	for _, p := range pods {
		byIP[p.Status.PodIP] = p
	}
	data := h.data()
	defer data.Close()
	for i := range 100 {
		if err := data.Set(ctx, fmt.Sprintf("{user42}:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	first := admin(pods[h.c.Metadata.Name+"-0"])
	slot, err := first.ClusterKeySlot(ctx, "{user42}").Result()
	first.Close()
	if err != nil {
		t.Fatal(err)
	}
	var src, dst topology.ClusterNode
	for _, n := range h.roles(pods[h.c.Metadata.Name+"-0"]) {
		if !n.Has("master") {
			continue
		}
		owns := false
		for _, r := range n.Slots {
			owns = owns || (int(slot) >= r.Start && int(slot) <= r.End)
		}
		if owns {
			src = n
		} else if dst.ID == "" && len(n.Slots) > 0 {
			dst = n // a serving master (a fresh replica can look like an empty master for a moment)
		}
	}
	srcC, dstC := admin(byIP[src.IP]), admin(byIP[dst.IP])
	defer srcC.Close()
	defer dstC.Close()
	// A migration interrupted half-way: both sides open, 40 keys moved.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(dstC.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", src.ID).Err())
	must(srcC.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst.ID).Err())
	keys, err := srcC.ClusterGetKeysInSlot(ctx, int(slot), 40).Result()
	must(err)
	args := []any{"MIGRATE", dst.IP, 6379, "", 0, 5000, "KEYS"}
	for _, k := range keys {
		args = append(args, k)
	}
	must(srcC.Do(ctx, args...).Err())

	executed := h.converge()
	fixed := false
	for _, a := range executed {
		fixed = fixed || a.Kind == topology.FixOpenSlot
	}
	if !fixed {
		t.Errorf("no fix-open-slot executed: %v", executed)
	}
	h.check()
	if n, err := dstC.ClusterCountKeysInSlot(ctx, int(slot)).Result(); err != nil || n != 100 {
		t.Errorf("keys of slot %d on the target: %d (%v), want all 100", slot, n, err)
	}
	if n, err := srcC.ClusterCountKeysInSlot(ctx, int(slot)).Result(); err != nil || n != 0 {
		t.Errorf("keys of slot %d left on the source: %d (%v), want 0", slot, n, err)
	}
	for i := range 100 {
		if got, err := data.Get(ctx, fmt.Sprintf("{user42}:%d", i)).Int(); err != nil || got != i {
			t.Fatalf("{user42}:%d after the fix: %d, %v", i, got, err)
		}
	}
}
