package plan

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

func scaleOut() Cluster {
	return Cluster{
		Cluster: "prod/cache", Change: Changed, Against: AgainstLive,
		Shape: Shape{MastersBefore: 3, MastersAfter: 4, ReplicasBefore: 1, ReplicasAfter: 1},
		Pods:  Names{Add: []string{"cache-6", "cache-7"}},
		Move:  Move{Slots: 4096, Keys: 2000, Bytes: 3 << 20},
		Actions: []topology.Action{{Kind: topology.MoveSlots, Pod: "cache-0", TargetPod: "cache-6",
			Slots: []topology.SlotRange{{Start: 4096, End: 5460}}, Keys: 700, Bytes: 1 << 20}},
		Objects: []kube.Change{{Object: kube.ObjectRef{Kind: "StatefulSet", Namespace: "prod", Name: "cache"}, Action: kube.Configured,
			Fields: []kube.FieldDiff{{Path: "spec.replicas", Live: 6, Desired: 8}}}},
	}
}

func TestSummaryAndMarkdown(t *testing.T) {
	c := scaleOut()
	if got, want := c.Summary(), "3×1 → 4×1, +2 pods, 4096 slots (~2000 keys) move, 1 objects change"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	md := c.Markdown()
	for _, want := range []string{"`prod/cache` (changed)", "pods to add: cache-6, cache-7", "| cache-0 | cache-6 | 1365 | 4096-5460 | 700 | 1.0 MiB |", "`spec.replicas` | `6` | `8` |"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	r := Result{Clusters: []Cluster{c}}
	if !r.HasChanges() || r.Failed() {
		t.Errorf("HasChanges %v Failed %v", r.HasChanges(), r.Failed())
	}
}

func TestFailedAndMasked(t *testing.T) {
	c := scaleOut()
	c.Blocked = "scale-in refused before any key moved"
	c.Objects[0].Fields = append(c.Objects[0].Fields, kube.FieldDiff{Path: "data.redis.conf", Live: "requirepass hunter2", Desired: "requirepass s3cret"})
	r := Result{Clusters: []Cluster{c}, SpecErrors: []string{"clusters/a.yaml:3:5: spec.masters: must be at least 1"}}
	if !r.Failed() || !strings.HasPrefix(c.Summary(), "blocked: ") {
		t.Errorf("Failed %v, summary %q", r.Failed(), c.Summary())
	}
	md := r.Markdown()
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{md, string(b)} {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "s3cret") {
			t.Errorf("a password leaked:\n%s", out)
		}
	}
	if !strings.Contains(md, "Invalid specs") || !strings.Contains(md, "clusters/a.yaml:3:5") {
		t.Errorf("spec errors missing:\n%s", md)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil || len(back.Clusters) != 1 {
		t.Errorf("JSON does not read back: %v", err)
	}
}

// A cluster's plan is posted on its own (one comment per cluster): it is
// masked by itself, not only inside Result.Markdown.
func TestClusterMarkdownIsMasked(t *testing.T) {
	c := scaleOut()
	c.Warnings = []string{"requirepass s3cret-value leaked into a message"}
	if md := c.Markdown(); strings.Contains(md, "s3cret-value") {
		t.Errorf("a cluster's plan shows a secret:\n%s", md)
	}
}
