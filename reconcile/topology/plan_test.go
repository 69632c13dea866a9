package topology

import (
	"fmt"
	"strings"
	"testing"
)

// cluster builds an Observed from pods (name@ip on node) and each pod's
// CLUSTER NODES, as if every pod answered.
func observed(t *testing.T, pods []Pod, views map[string]string, keys map[string]int64) *Observed {
	t.Helper()
	replies := map[string]Reply{}
	for _, p := range pods {
		replies[p.Name] = Reply{ClusterNodes: views[p.Name], Keys: keys[p.Name], Replication: "master_link_status:up"}
	}
	o, err := Observe(pods, replies)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func id(n int) string { return fmt.Sprintf("%040d", n) }

// line renders one CLUSTER NODES line for node n.
func line(n int, ip string, flags string, master int, slots string) string {
	m := "-"
	if master > 0 {
		m = id(master)
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s:6379@16379 %s %s 0 0 1 connected %s", id(n), ip, flags, m, slots))
}

func podsOn(nodes ...string) []Pod {
	var out []Pod
	for i, n := range nodes {
		out = append(out, Pod{Name: fmt.Sprintf("cache-%d", i), Ordinal: i, IP: fmt.Sprintf("10.0.0.%d", i+1), Ready: true, Node: n, Domain: n})
	}
	return out
}

// healthy is a converged 3x1 cluster on nodes a, b, c: masters 1-3 on
// pods 0-2, replicas 4-6 on pods 3-5 following masters 2, 3, 1.
func healthy(viewer int, override map[int]string) string {
	lines := []string{
		line(1, "10.0.0.1", "master", 0, "0-5460"),
		line(2, "10.0.0.2", "master", 0, "5461-10922"),
		line(3, "10.0.0.3", "master", 0, "10923-16383"),
		line(4, "10.0.0.4", "slave", 2, ""),
		line(5, "10.0.0.5", "slave", 3, ""),
		line(6, "10.0.0.6", "slave", 1, ""),
	}
	for n, l := range override {
		lines[n-1] = l
	}
	lines[viewer-1] = strings.Replace(lines[viewer-1], " master ", " myself,master ", 1)
	lines[viewer-1] = strings.Replace(lines[viewer-1], " slave ", " myself,slave ", 1)
	return strings.Join(lines, "\n") + "\n"
}

func kinds(p Plan) []string {
	var out []string
	for _, a := range p.Actions {
		out = append(out, string(a.Kind)+" "+a.Pod)
	}
	return out
}

func TestPlanHealthyClusterDoesNothing(t *testing.T) {
	pods := podsOn("a", "b", "c", "a", "b", "c")
	views := map[string]string{}
	for i := range pods {
		views[pods[i].Name] = healthy(i+1, nil)
	}
	p := PlanTopology(Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379}, observed(t, pods, views, nil))
	if len(p.Actions) != 0 || p.Blocked != "" {
		t.Errorf("healthy cluster: actions %v blocked %q, want none", kinds(p), p.Blocked)
	}
}

func TestPlanForgetsNodeGoneForGood(t *testing.T) {
	pods := podsOn("a", "b", "c", "a", "b", "c")
	// Pod cache-5 lost its PVC: it runs a new node 7, and everyone still
	// knows the old node 6 as failed.
	views := map[string]string{}
	failed := line(6, "10.0.0.9", "slave,fail", 1, "")
	for i := 0; i < 5; i++ {
		views[pods[i].Name] = healthy(i+1, map[int]string{6: failed})
	}
	views["cache-5"] = line(7, "10.0.0.6", "myself,master", 0, "") + "\n"
	p := PlanTopology(Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379}, observed(t, pods, views, nil))
	got := strings.Join(kinds(p), ", ")
	for _, want := range []string{"meet cache-", "replicate cache-5", "forget "} {
		if !strings.Contains(got, want) {
			t.Errorf("plan %q lacks %q", got, want)
		}
	}
}

func TestPlanReportsSlotSkew(t *testing.T) {
	pods := podsOn("a", "b", "c", "a", "b", "c")
	skewed := map[int]string{
		1: line(1, "10.0.0.1", "master", 0, "0-8000"),
		2: line(2, "10.0.0.2", "master", 0, "8001-10922"),
	}
	views := map[string]string{}
	for i := range pods {
		views[pods[i].Name] = healthy(i+1, skewed)
	}
	p := PlanTopology(Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379}, observed(t, pods, views, nil))
	var got string
	for _, d := range p.Drift {
		if d.Kind == DriftSkew {
			got = d.Detail
		}
	}
	if !strings.Contains(got, "cache-0 has 8001 slots") || !strings.Contains(got, "cache-1 has 2922 slots") || strings.Contains(got, "cache-2") {
		t.Errorf("slot skew drift: %q", got)
	}
	// The rebalance evens it out: cache-0's surplus goes to cache-1, and
	// cache-2, within its share, is left alone.
	if len(p.Actions) != 1 || p.Actions[0].Kind != MoveSlots || p.Actions[0].TargetPod != "cache-1" {
		t.Fatalf("skew plans %v, want one move-slots cache-0 -> cache-1", kinds(p))
	}
	if got, want := p.Actions[0].SlotCount(), 8001-5462; got != want {
		t.Errorf("moves %d slots, want %d", got, want)
	}
}

// TestPlanRoleSwapWaitsForTheLink: after a failover (a roll, a lost node)
// shard 1's master is cache-5 and cache-0, where placement wants it, is its
// replica. The swap back is a planned failover, only once cache-0's link
// is up; until then the plan says it waits, so that a pass does not end
// converged with the swap owed.
func TestPlanRoleSwapWaitsForTheLink(t *testing.T) {
	pods := podsOn("a", "b", "c", "a", "b", "c")
	swapped := map[int]string{
		1: line(1, "10.0.0.1", "slave", 6, ""),
		6: line(6, "10.0.0.6", "master", 0, "0-5460"),
	}
	d := Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379}
	for _, tc := range []struct {
		link        string
		wantActions string
		wantWaiting string
	}{
		{link: "up", wantActions: "failover cache-0"},
		{link: "down", wantWaiting: "failover cache-0: waits for its replication link to cache-5"},
	} {
		t.Run("link "+tc.link, func(t *testing.T) {
			replies := map[string]Reply{}
			for i, p := range pods {
				replies[p.Name] = Reply{ClusterNodes: healthy(i+1, swapped), Replication: "master_link_status:up"}
			}
			replies["cache-0"] = Reply{ClusterNodes: healthy(1, swapped), Replication: "role:slave\r\nmaster_link_status:" + tc.link}
			o, err := Observe(pods, replies)
			if err != nil {
				t.Fatal(err)
			}
			p := PlanTopology(d, o)
			if got := strings.Join(kinds(p), ", "); got != tc.wantActions {
				t.Errorf("actions %q, want %q", got, tc.wantActions)
			}
			if got := strings.Join(p.Waiting, "; "); got != tc.wantWaiting {
				t.Errorf("waiting %q, want %q", got, tc.wantWaiting)
			}
			role := false
			for _, dr := range p.Drift {
				role = role || dr.Kind == DriftRole && dr.Subject == "cache-0"
			}
			if !role {
				t.Errorf("no role drift for cache-0 in %+v", p.Drift)
			}
		})
	}
}

// A node no pod runs any more is forgotten unless the policy keeps it;
// slots whose owner is gone are taken over only when the policy allows,
// and a blocked step stays in the plan, never runnable (invariant 3).
func TestDestructivePolicy(t *testing.T) {
	d := Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379}
	// Pod cache-5 lost its volume: it runs a new, empty node 7; node 6
	// (its old ID, a replica) is gone.
	gone := line(6, "10.0.0.99", "slave,fail", 1, "")
	views := map[string]string{}
	for i := 1; i <= 5; i++ {
		views[fmt.Sprintf("cache-%d", i-1)] = healthy(i, map[int]string{6: gone})
	}
	views["cache-5"] = line(7, "10.0.0.6", "myself,master", 0, "") + "\n"
	o := observed(t, podsOn("a", "b", "c", "a", "b", "c"), views, nil)

	forgets := func(p Plan) (runnable, blocked int) {
		for _, a := range p.Actions {
			if a.Kind == Forget && a.Target == id(6) {
				if a.Blocked != "" {
					blocked++
				} else {
					runnable++
				}
			}
		}
		return
	}
	if r, b := forgets(PlanTopology(d, o)); r != 1 || b != 0 {
		t.Errorf("default policy: forget runnable %d blocked %d, want 1 and 0", r, b)
	}
	keep := d
	keep.Policy.KeepGoneNodes = true
	p := PlanTopology(keep, o)
	if r, b := forgets(p); r != 0 || b != 1 {
		t.Errorf("forgetNodes false: forget runnable %d blocked %d, want 0 and 1", r, b)
	}
	for _, a := range p.Runnable() {
		if a.Kind == Forget {
			t.Errorf("a blocked forget is runnable: %s", a)
		}
	}
	if b := p.BlockedSteps(); len(b) != 1 || !strings.Contains(b[0].String(), "[blocked: spec.reconcile.destructive.forgetNodes is false") {
		t.Errorf("blocked steps %v", b)
	}

	// Master 3 is gone with its slots and its replica (node 5) too: every
	// pod answers, none runs them.
	views = map[string]string{}
	lost := map[int]string{3: line(3, "10.0.0.93", "master,fail", 0, "10923-16383"), 5: line(5, "10.0.0.95", "slave,fail", 3, "")}
	for _, i := range []int{1, 2, 4, 6} {
		views[fmt.Sprintf("cache-%d", i-1)] = healthy(i, lost)
	}
	views["cache-2"] = line(8, "10.0.0.3", "myself,master", 0, "") + "\n"
	views["cache-4"] = line(9, "10.0.0.5", "myself,master", 0, "") + "\n"
	o = observed(t, podsOn("a", "b", "c", "a", "b", "c"), views, nil)
	p = PlanTopology(d, o)
	var blockedTakeOver bool
	for _, a := range p.Actions {
		if a.Kind == Forget && a.Target == id(3) {
			blockedTakeOver = a.Blocked != "" && strings.Contains(a.Blocked, "takeOverSlots is false")
		}
	}
	if !blockedTakeOver {
		t.Errorf("the gone slot owner is not a blocked take-over by default: %v", p.Actions)
	}
	allow := d
	allow.Policy.TakeOverSlots = true
	p = PlanTopology(allow, o)
	var forget bool
	for _, a := range p.Runnable() {
		forget = forget || a.Kind == Forget && a.Target == id(3) && a.Destructive
	}
	if !forget {
		t.Errorf("takeOverSlots: the gone owner is not forgotten: %v", p.Actions)
	}

	// Once forgotten, its slots have no owner: they go to a live master.
	views = map[string]string{}
	for _, i := range []int{1, 2, 4, 6} {
		v := healthy(i, nil)
		var kept []string
		for _, l := range strings.Split(strings.TrimSpace(v), "\n") {
			if !strings.HasPrefix(l, id(3)) && !strings.HasPrefix(l, id(5)) {
				kept = append(kept, l)
			}
		}
		views[fmt.Sprintf("cache-%d", i-1)] = strings.Join(kept, "\n") + "\n"
	}
	views["cache-2"] = line(8, "10.0.0.3", "myself,master", 0, "") + "\n"
	views["cache-4"] = line(9, "10.0.0.5", "myself,master", 0, "") + "\n"
	o = observed(t, podsOn("a", "b", "c", "a", "b", "c"), views, nil)
	for _, tc := range []struct {
		policy   Policy
		runnable bool
	}{{Policy{}, false}, {Policy{TakeOverSlots: true}, true}} {
		dd := d
		dd.Policy = tc.policy
		p := PlanTopology(dd, o)
		var add *Action
		for i, a := range p.Actions {
			if a.Kind == AddSlots {
				add = &p.Actions[i]
			}
		}
		if add == nil || add.Slots[0] != (SlotRange{10923, 16383}) || !add.Destructive || (add.Blocked == "") != tc.runnable {
			t.Errorf("policy %+v: take-over %+v, want slots 10923-16383, runnable %v", tc.policy, add, tc.runnable)
		}
	}
}
