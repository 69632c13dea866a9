package reconcile_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/plan"
	"github.com/redis-gitops/redis-gitops/spec"
)

// TestPlanAgainstTheLiveCluster: a plan of "masters: 3 -> 4" on a running
// 3x1 cluster names the pods to add and the slots, keys and bytes to move,
// and writes nothing to Kubernetes or Redis.
func TestPlanAgainstTheLiveCluster(t *testing.T) {
	h := newHarness(t, "plan")
	h.pass()
	h.fill(8000)
	before := h.exec(h.c.Metadata.Name+"-0", "redis-cli", "cluster", "nodes")

	scaled := *h.c
	scaled.Spec.Masters = 4
	p := reconcile.Planner{Applier: &kube.Applier{Client: h.client, Dynamic: sandboxtest.Dynamic(t)}, Redis: h.redis}
	res := p.Plan(context.Background(), []*spec.RedisCluster{h.c}, []*spec.RedisCluster{&scaled}, nil)
	if len(res.Clusters) != 1 {
		t.Fatalf("planned %d clusters, want 1", len(res.Clusters))
	}
	c := res.Clusters[0]
	t.Logf("plan:\n%s", c.Markdown())
	if c.Against != plan.AgainstLive || c.Failed() {
		t.Fatalf("against %s (%s), blocked %q, errors %v", c.Against, c.AgainstNote, c.Blocked, c.Errors)
	}
	if got := strings.Join(c.Pods.Add, ","); got != "cache-6,cache-7" {
		t.Errorf("pods to add %q, want cache-6,cache-7", got)
	}
	if c.Move.Slots != 4096 || c.Move.Keys < 1600 || c.Move.Keys > 2400 || c.Move.Bytes <= 0 {
		t.Errorf("move %+v; want 4096 slots, about 2000 keys (a quarter of 8000) and their bytes", c.Move)
	}
	replicas := false
	for _, o := range c.Objects {
		for _, f := range o.Fields {
			replicas = replicas || (o.Object.Kind == "StatefulSet" && f.Path == "spec.replicas")
		}
	}
	if !replicas {
		t.Errorf("the StatefulSet's spec.replicas change is not in the plan: %+v", c.Objects)
	}
	if got := h.statefulSetReplicas(); got != 6 {
		t.Errorf("planning changed the StatefulSet: %d replicas", got)
	}
	if after := h.exec(h.c.Metadata.Name+"-0", "redis-cli", "cluster", "nodes"); slotsOf(after) != slotsOf(before) {
		t.Errorf("planning changed Redis:\n%s\n%s", before, after)
	}

	// replicasPerMaster 1 -> 0: three pods removed, their PVCs kept.
	fewer := *h.c
	zero := 0
	fewer.Spec.ReplicasPerMaster = &zero
	res = p.Plan(context.Background(), []*spec.RedisCluster{h.c}, []*spec.RedisCluster{&fewer}, nil)
	c = res.Clusters[0]
	if got := strings.Join(c.Pods.Remove, ","); got != "cache-3,cache-4,cache-5" || len(c.PVCs.Keep) != 3 || len(c.Destructive) == 0 {
		t.Errorf("replicas 1 -> 0: remove %q, keep %v, destructive %v", got, c.PVCs.Keep, c.Destructive)
	}
}

// slotsOf keeps the node IDs, roles and slots of CLUSTER NODES (not the
// ping times).
func slotsOf(nodes string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
		f := strings.Fields(line)
		if len(f) >= 8 {
			out = append(out, f[0]+" "+f[2]+" "+f[3]+" "+strings.Join(f[8:], " "))
		}
	}
	return strings.Join(out, "\n")
}
