package topology

import (
	"fmt"
	"strings"
	"testing"
)

// liveShard is one master of a hand-built cluster: its pod ordinal, its slot
// ranges, its keys and memory.
type liveShard struct {
	ordinal     int
	slots       []SlotRange
	keys        int64
	used, limit int64
}

func rebalanceCluster(shards ...liveShard) *Observed {
	o := &Observed{Nodes: map[string]*Node{}, ByPod: map[string]string{}, Unreachable: map[string]string{}}
	for _, s := range shards {
		pod := Pod{Name: fmt.Sprintf("cache-%d", s.ordinal), Ordinal: s.ordinal}
		n := &Node{ID: id(s.ordinal + 1), Pod: pod, Keys: s.keys, UsedMemory: s.used, MaxMemory: s.limit,
			Self: ClusterNode{ID: id(s.ordinal + 1), Flags: []string{"myself", "master"}, Slots: s.slots}}
		o.Pods = append(o.Pods, pod)
		o.Nodes[n.ID] = n
		o.ByPod[pod.Name] = n.ID
	}
	return o
}

func ids(ordinals ...int) []string {
	var out []string
	for _, o := range ordinals {
		out = append(out, id(o+1))
	}
	return out
}

// after applies the moves to the slot counts.
func after(o *Observed, moves []Action) map[string]int {
	out := map[string]int{}
	for _, n := range o.Nodes {
		out[n.Pod.Name] = n.SlotCount()
	}
	for _, m := range moves {
		out[m.Pod] -= m.SlotCount()
		out[m.TargetPod] += m.SlotCount()
	}
	return out
}

func TestPlanRebalance(t *testing.T) {
	three := []liveShard{
		{ordinal: 0, slots: []SlotRange{{0, 5460}}, keys: 5461},
		{ordinal: 1, slots: []SlotRange{{5461, 10922}}, keys: 5462},
		{ordinal: 2, slots: []SlotRange{{10923, 16383}}, keys: 5461},
	}
	for _, tc := range []struct {
		name    string
		shards  []liveShard
		keep    []string
		want    map[string]int // slot counts after the moves
		moves   int
		drain   string
		blocked string
	}{
		{
			name:   "balanced: nothing to do",
			shards: three, keep: ids(0, 1, 2),
			want: map[string]int{"cache-0": 5461, "cache-1": 5462, "cache-2": 5461},
		},
		{
			name: "within 2%: nothing to do",
			shards: []liveShard{
				{ordinal: 0, slots: []SlotRange{{0, 5500}}},
				{ordinal: 1, slots: []SlotRange{{5501, 10922}}},
				{ordinal: 2, slots: []SlotRange{{10923, 16383}}},
			},
			keep: ids(0, 1, 2),
			want: map[string]int{"cache-0": 5501, "cache-1": 5422, "cache-2": 5461},
		},
		{
			name:   "scale out: a new empty master gets an even share from every master",
			shards: append(append([]liveShard{}, three...), liveShard{ordinal: 6}),
			keep:   ids(0, 1, 2, 6),
			want:   map[string]int{"cache-0": 4096, "cache-1": 4096, "cache-2": 4096, "cache-6": 4096},
			moves:  3,
		},
		{
			name: "scale in: the drained master's slots spread over all the others",
			shards: []liveShard{
				{ordinal: 0, slots: []SlotRange{{0, 4095}}},
				{ordinal: 1, slots: []SlotRange{{4096, 8191}}},
				{ordinal: 2, slots: []SlotRange{{8192, 12287}}},
				{ordinal: 6, slots: []SlotRange{{12288, 16383}}, keys: 4096},
			},
			keep:  ids(0, 1, 2),
			want:  map[string]int{"cache-0": 5462, "cache-1": 5461, "cache-2": 5461, "cache-6": 0},
			moves: 3, drain: "cache-6",
		},
		{
			name: "scale in that the remaining masters' maxmemory cannot hold is refused",
			shards: []liveShard{
				{ordinal: 0, slots: []SlotRange{{0, 8191}}, used: 80 << 20, limit: 100 << 20},
				{ordinal: 6, slots: []SlotRange{{8192, 16383}}, used: 80 << 20, limit: 100 << 20},
			},
			keep:    ids(0),
			want:    map[string]int{"cache-0": 8192, "cache-6": 8192},
			drain:   "cache-6",
			blocked: "scale-in refused before any key moved: cache-6 hold 80.0 MiB, and the 1 remaining masters have 10.0 MiB free",
		},
		{
			name: "scale in within the headroom goes ahead",
			shards: []liveShard{
				{ordinal: 0, slots: []SlotRange{{0, 8191}}, used: 20 << 20, limit: 100 << 20},
				{ordinal: 6, slots: []SlotRange{{8192, 16383}}, used: 20 << 20, limit: 100 << 20},
			},
			keep:  ids(0),
			want:  map[string]int{"cache-0": 16384, "cache-6": 0},
			moves: 1, drain: "cache-6",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := rebalanceCluster(tc.shards...)
			r := PlanRebalance(o, tc.keep)
			if !strings.HasPrefix(r.Blocked, tc.blocked) || (tc.blocked == "") != (r.Blocked == "") {
				t.Fatalf("blocked %q, want %q", r.Blocked, tc.blocked)
			}
			if len(r.Moves) != tc.moves {
				t.Errorf("%d moves, want %d: %v", len(r.Moves), tc.moves, r.Moves)
			}
			var drained []string
			for _, d := range r.Drain {
				drained = append(drained, o.Nodes[d].Pod.Name)
			}
			if got := strings.Join(drained, ","); got != tc.drain {
				t.Errorf("drain %q, want %q", got, tc.drain)
			}
			got := after(o, r.Moves)
			for pod, want := range tc.want {
				if got[pod] != want {
					t.Errorf("%s has %d slots after the moves, want %d", pod, got[pod], want)
				}
			}
			// No slot moves twice, and each move takes slots its source owns.
			seen := map[int]bool{}
			for _, m := range r.Moves {
				src := o.Nodes[m.Node]
				for _, rg := range m.Slots {
					for s := rg.Start; s <= rg.End; s++ {
						if seen[s] {
							t.Errorf("slot %d moves twice", s)
						}
						seen[s] = true
						if !owns(src, s) {
							t.Errorf("slot %d moves from %s, which does not own it", s, m.Pod)
						}
					}
				}
			}
		})
	}
}

func owns(n *Node, slot int) bool {
	for _, r := range n.Self.Slots {
		if slot >= r.Start && slot <= r.End {
			return true
		}
	}
	return false
}

func TestBeyondScale(t *testing.T) {
	o := rebalanceCluster(
		liveShard{ordinal: 0, slots: []SlotRange{{0, 16383}}},
		liveShard{ordinal: 6, slots: nil},                     // drained master
		liveShard{ordinal: 7, slots: []SlotRange{{100, 100}}}, // still holds a slot
	)
	o.Nodes[id(8)].Self.Slots = nil
	o.Nodes[id(8)].Keys = 3 // a master with keys but no slot: still data
	o.Pods = append(o.Pods, Pod{Name: "cache-8", Ordinal: 8})
	o.Unreachable["cache-8"] = "connection refused"
	got := strings.Join(BeyondScale(o, 6), "; ")
	want := "cache-8 (not answering, so not known to be empty); cache-7"
	if got != want {
		t.Errorf("BeyondScale = %q, want %q", got, want)
	}
}

// Scale out 3x1 -> 4x1: the StatefulSet adds cache-6 and cache-7, both
// met; one becomes the fourth master and gets an even share from the
// three others, the other waits to replicate it once it holds slots.
func TestPlanScaleOut(t *testing.T) {
	pods := podsOn("a", "b", "c", "a", "b", "c", "a", "b")
	fresh := map[int]string{}
	views := map[string]string{}
	extra := line(7, "10.0.0.7", "master", 0, "") + "\n" + line(8, "10.0.0.8", "master", 0, "")
	for i := 0; i < 6; i++ {
		views[pods[i].Name] = healthy(i+1, fresh) + extra + "\n"
	}
	for _, n := range []int{7, 8} {
		v := healthy(1, fresh) + extra + "\n"
		v = strings.Replace(v, "myself,master", "master", 1)
		v = strings.Replace(v, fmt.Sprintf("%s 10.0.0.%d:6379@16379 master", id(n), n), fmt.Sprintf("%s 10.0.0.%d:6379@16379 myself,master", id(n), n), 1)
		views[pods[n-1].Name] = v
	}
	p := PlanTopology(Desired{Masters: 4, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379}, observed(t, pods, views, nil))
	if p.Blocked != "" {
		t.Fatalf("blocked: %s", p.Blocked)
	}
	var target string
	moved := 0
	for _, a := range p.Actions {
		switch a.Kind {
		case MoveSlots:
			if target != "" && a.TargetPod != target {
				t.Errorf("moves to both %s and %s", target, a.TargetPod)
			}
			target = a.TargetPod
			moved += a.SlotCount()
		case Failover, Forget, AddSlots:
			t.Errorf("scale-out plans %s", a)
		}
	}
	if target != "cache-6" && target != "cache-7" {
		t.Fatalf("plan %v: want slots moved to a new pod", kinds(p))
	}
	if moved != 4096 {
		t.Errorf("moves %d slots to %s, want 4096", moved, target)
	}
}

// A plan before a scale-out: the pods do not exist yet; simulated as fresh
// masters everyone knows, the plan shows the slots they will receive.
func TestPlanOnNewPodsShowsTheScaleOut(t *testing.T) {
	pods := podsOn("a", "b", "c", "a", "b", "c")
	views := map[string]string{}
	for i := range pods {
		views[pods[i].Name] = healthy(i+1, nil)
	}
	o := observed(t, pods, views, map[string]int64{"cache-0": 3000, "cache-1": 3000, "cache-2": 3000})
	sim := WithNewPods(o, []Pod{{Name: "cache-6", Ordinal: 6, Domain: "unscheduled-6"}, {Name: "cache-7", Ordinal: 7, Domain: "unscheduled-7"}})
	p := PlanTopology(Desired{Masters: 4, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379}, sim)
	moved, keys := 0, int64(0)
	for _, a := range p.Actions {
		if a.Kind == MoveSlots {
			moved += a.SlotCount()
			keys += a.Keys
		}
		if a.Kind == Meet || a.Kind == AddSlots || a.Kind == Forget {
			t.Errorf("plan on simulated pods: %s", a)
		}
	}
	if moved != 4096 || keys < 2000 || keys > 2500 {
		t.Errorf("moves %d slots, ~%d keys; want 4096 slots, ~2250 keys (a quarter of 9000)", moved, keys)
	}
	if len(o.Nodes) != 6 {
		t.Errorf("the observation was changed: %d nodes", len(o.Nodes))
	}
}
