package topology

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestBootstrapSettings is the bootstrap's decision to shorten Redis's
// waits: the diskless sync delay and the node timeout, on the masters that
// will serve a replica, only when no node holds a key, and back to the
// declared values (or Redis's default delay) after.
func TestBootstrapSettings(t *testing.T) {
	cases := []struct {
		name        string
		masters     int
		replicas    int
		delay       string // declared repl-diskless-sync-delay
		nodeTimeout string // declared cluster-node-timeout
		keysOn      string // a pod holding keys
		// want: "pod setting value[/replicas][ settled]" for each step,
		// lowering then restoring
		want []string
	}{
		{name: "3x1, delay not declared: Redis's default comes back", masters: 3, replicas: 1,
			want: []string{"cache-0 delay 0", "cache-1 delay 0", "cache-2 delay 0", "cache-0 delay 5/1", "cache-1 delay 5/1", "cache-2 delay 5/1"}},
		{name: "declared delay comes back", masters: 3, replicas: 1, delay: "2",
			want: []string{"cache-0 delay 0", "cache-1 delay 0", "cache-2 delay 0", "cache-0 delay 2/1", "cache-1 delay 2/1", "cache-2 delay 2/1"}},
		{name: "two replicas each: restored once both are linked", masters: 2, replicas: 2,
			want: []string{"cache-0 delay 0", "cache-1 delay 0", "cache-0 delay 5/2", "cache-1 delay 5/2"}},
		{name: "node timeout 15 s: 1 s on every node until the cluster has settled", masters: 2, replicas: 1, nodeTimeout: "15000",
			want: []string{"cache-0 delay 0", "cache-1 delay 0", "cache-0 timeout 1000", "cache-1 timeout 1000", "cache-2 timeout 1000", "cache-3 timeout 1000",
				"cache-0 delay 5/1", "cache-1 delay 5/1",
				"cache-0 timeout 15000 settled", "cache-1 timeout 15000 settled", "cache-2 timeout 15000 settled", "cache-3 timeout 15000 settled"}},
		{name: "node timeout 1 s already: left alone", masters: 2, replicas: 1, delay: "0", nodeTimeout: "1000"},
		{name: "declared 0: nothing to lower", masters: 3, replicas: 1, delay: "0"},
		{name: "no replicas: no sync to hasten, the masters' rejoin delay still", masters: 3, replicas: 0, nodeTimeout: "15000",
			want: []string{"cache-0 timeout 1000", "cache-1 timeout 1000", "cache-2 timeout 1000",
				"cache-0 timeout 15000 settled", "cache-1 timeout 15000 settled", "cache-2 timeout 15000 settled"}},
		{name: "a node holds a key: never", masters: 3, replicas: 1, nodeTimeout: "15000", keysOn: "cache-4"},
	}
	short := map[string]string{DisklessSyncDelay: "delay", NodeTimeout: "timeout"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Desired{Masters: c.masters, ReplicasPerMaster: c.replicas, ClientPort: 6379, BusPort: 16379,
				DisklessSyncDelay: c.delay, NodeTimeout: c.nodeTimeout}
			o := Fresh(podsOn(domains(c.masters * (1 + c.replicas))...))
			if c.keysOn != "" {
				o.Nodes[o.ByPod[c.keysOn]].Keys = 3
			}
			pl, err := Place(o.Pods, d.Masters, d.ReplicasPerMaster, false, Current{})
			if err != nil {
				t.Fatal(err)
			}
			lower, restore := bootstrapSettings(d, o, pl)
			var got []string
			for _, a := range append(lower, restore...) {
				if a.Kind != SetConfig || short[a.Setting] == "" || a.Node != o.ByPod[a.Pod] || a.Reason == "" {
					t.Errorf("step %s: want set-config of a known setting on the pod's node, with a reason", a)
				}
				s := a.Pod + " " + short[a.Setting] + " " + a.Value
				if a.AfterReplicas > 0 {
					s += fmt.Sprintf("/%d", a.AfterReplicas)
				}
				if a.AfterSettled {
					s += " settled"
				}
				got = append(got, s)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("steps %q, want %q", got, c.want)
			}
		})
	}
}

// TestBootstrapLowersDelayAroundReplicas: in the bootstrap plan the delay
// drops before any replica can attach (before the meet) and comes back
// after the last replicate.
func TestBootstrapLowersDelayAroundReplicas(t *testing.T) {
	d := Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379}
	p := PlanTopology(d, Fresh(podsOn(domains(6)...)))
	if !p.Bootstrap {
		t.Fatalf("not a bootstrap: %s", p.Blocked)
	}
	first := func(k ActionKind) int { return slices.IndexFunc(p.Actions, func(a Action) bool { return a.Kind == k }) }
	var lowered, restored []int
	for i, a := range p.Actions {
		if a.Kind == SetConfig && a.AfterReplicas == 0 {
			lowered = append(lowered, i)
		} else if a.Kind == SetConfig {
			restored = append(restored, i)
		}
	}
	lastReplicate := -1
	for i, a := range p.Actions {
		if a.Kind == Replicate {
			lastReplicate = i
		}
	}
	if len(lowered) != 3 || len(restored) != 3 {
		t.Fatalf("plan lowers on %d and restores on %d masters, want 3 and 3:\n%s", len(lowered), len(restored), renderActions(p.Actions))
	}
	if lowered[len(lowered)-1] > first(Meet) || restored[0] < lastReplicate {
		t.Errorf("the delay must drop before the meet and come back after the last replicate:\n%s", renderActions(p.Actions))
	}
	if s := p.Actions[restored[0]].String(); !strings.Contains(s, "repl-diskless-sync-delay 5 once 1 replica linked") {
		t.Errorf("restore reads %q", s)
	}
}

// domains names n failure domains in turn: a, b, c, a, b, c...
func domains(n int) []string {
	var out []string
	for i := range n {
		out = append(out, string(rune('a'+i%3)))
	}
	return out
}

// TestBootstrapNodeTimeoutGrowsWithTheCluster: the bootstrap's node
// timeout keeps each node's pings under BootstrapPingRate a second, and a
// cluster large enough that the declared timeout is already that long
// keeps the declared one.
func TestBootstrapNodeTimeoutGrowsWithTheCluster(t *testing.T) {
	for _, c := range []struct {
		masters, replicas int
		want              string // the lowered value, "" for none
	}{
		{3, 1, "1000"}, {12, 1, "1000"}, {15, 1, "1160"}, {45, 1, "3560"}, {30, 2, "3560"},
		{189, 1, ""}, // 378 nodes: 15.08 s would be longer than the declared 15 s
	} {
		d := Desired{Masters: c.masters, ReplicasPerMaster: c.replicas, ClientPort: 6379, BusPort: 16379, NodeTimeout: "15000", DisklessSyncDelay: "0"}
		n := c.masters * (1 + c.replicas)
		o := Fresh(podsOn(domains(n)...))
		pl, err := Place(o.Pods, d.Masters, d.ReplicasPerMaster, false, Current{})
		if err != nil {
			t.Fatal(err)
		}
		lower, _ := bootstrapSettings(d, o, pl)
		got := ""
		for _, a := range lower {
			if a.Setting != NodeTimeout {
				continue
			}
			got = a.Value
			if rate := float64(n-1) / (float64(mustAtoi(t, a.Value)) / 2000); rate > BootstrapPingRate {
				t.Errorf("%d nodes: timeout %s ms makes %.0f pings a second per node", n, a.Value, rate)
			}
		}
		if got != c.want {
			t.Errorf("%d nodes: bootstrap node timeout %q, want %q", n, got, c.want)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
