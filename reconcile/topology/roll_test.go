package topology

import (
	"strings"
	"testing"
)

func podsOf(names ...string) []Pod {
	var out []Pod
	for i, n := range names {
		out = append(out, Pod{Name: n, Ordinal: i, Domain: "node-" + n})
	}
	return out
}

func TestPlanRollOrdersReplicasThenMastersWithFailovers(t *testing.T) {
	o, err := Converged(Desired{Masters: 3, ReplicasPerMaster: 1}, podsOf("c-0", "c-1", "c-2", "c-3", "c-4", "c-5"))
	if err != nil {
		t.Fatal(err)
	}
	stale := map[string]string{}
	for _, p := range o.Pods {
		stale[p.Name] = "its pod template is older than the StatefulSet's"
	}
	roll := PlanRoll(o, stale)
	var got []string
	for _, a := range roll {
		s := string(a.Kind) + " " + a.Pod
		if a.Kind == Failover {
			s += "->" + a.TargetPod
		}
		got = append(got, s)
	}
	// Placement puts the masters on c-0..c-2 and a replica of each on c-3..c-5.
	want := "restart-pod c-3,restart-pod c-4,restart-pod c-5," +
		"failover c-?->c-0,restart-pod c-0,failover c-?->c-1,restart-pod c-1,failover c-?->c-2,restart-pod c-2"
	if g := strings.Join(got, ","); !matchWild(want, g) {
		t.Fatalf("roll:\n got %s\nwant %s", g, want)
	}
	e := EstimateOf(roll)
	if e.Restarts != 6 || e.Failovers != 3 || len(e.Unavailable) != 0 {
		t.Fatalf("estimate %+v, want 6 restarts, 3 failovers, none unavailable", e)
	}
	if got := NextRollStep(roll); len(got) != 1 || got[0].Pod != "c-3" {
		t.Fatalf("first step %v, want the first replica alone", got)
	}
	if got := NextRollStep(roll[3:]); len(got) != 2 || got[0].Kind != Failover || got[1].Kind != Restart {
		t.Fatalf("a master's step %v, want its failover then its restart", got)
	}
}

func TestPlanRollMasterWithoutInSyncReplicaIsUnavailable(t *testing.T) {
	o, err := Converged(Desired{Masters: 3, ReplicasPerMaster: 1}, podsOf("c-0", "c-1", "c-2", "c-3", "c-4", "c-5"))
	if err != nil {
		t.Fatal(err)
	}
	m := o.Nodes[o.ByPod["c-0"]]
	for _, n := range o.Nodes {
		if n.Self.MasterID == m.ID {
			n.MasterLinkUp = false // still in its first sync
		}
	}
	roll := PlanRoll(o, map[string]string{"c-0": "it runs a setting Redis cannot change at runtime"})
	if len(roll) != 1 || roll[0].Kind != Restart || !roll[0].Unavailable {
		t.Fatalf("roll %v: want one restart marked unavailable", roll)
	}
	if !strings.Contains(roll[0].Reason, "slots are unavailable") {
		t.Fatalf("reason %q does not say the slots are unavailable", roll[0].Reason)
	}
	if e := EstimateOf(roll); len(e.Unavailable) != 1 {
		t.Fatalf("estimate %+v: want c-0 unavailable", e)
	}
	// Without replicas at all, the same.
	o0, _ := Converged(Desired{Masters: 3}, podsOf("c-0", "c-1", "c-2"))
	if roll := PlanRoll(o0, map[string]string{"c-1": "x"}); len(roll) != 1 || !roll[0].Unavailable {
		t.Fatalf("3x0 roll %v: want one unavailable restart", roll)
	}
}

func TestConvergedPlansNothing(t *testing.T) {
	o, err := Converged(Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379}, podsOf("c-0", "c-1", "c-2", "c-3", "c-4", "c-5"))
	if err != nil {
		t.Fatal(err)
	}
	if p := PlanTopology(Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379}, o); len(p.Actions) != 0 || p.Blocked != "" {
		t.Fatalf("a converged cluster plans %v (blocked %q)", p.Actions, p.Blocked)
	}
}

// matchWild compares with '?' matching any one byte.
func matchWild(pattern, s string) bool {
	if len(pattern) != len(s) {
		return false
	}
	for i := range pattern {
		if pattern[i] != '?' && pattern[i] != s[i] {
			return false
		}
	}
	return true
}
