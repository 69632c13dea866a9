package topology

import (
	"errors"
	"fmt"
	stdmaps "maps"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// layout makes pods redis-0, redis-1, ... on the nodes given in order, each
// "node" or "zone/node"; the failure domain is the node (topology key
// kubernetes.io/hostname).
func layout(nodes ...string) []Pod {
	pods := make([]Pod, len(nodes))
	for i, n := range nodes {
		zone, node, ok := strings.Cut(n, "/")
		if !ok {
			zone, node = "", n
		}
		pods[i] = Pod{Name: fmt.Sprintf("redis-%d", i), Ordinal: i, IP: fmt.Sprintf("10.0.0.%d", i+1), Ready: true, Node: node, Domain: node, Zone: zone}
	}
	return pods
}

func notReady(pods []Pod, names ...string) []Pod {
	for i := range pods {
		if slices.Contains(names, pods[i].Name) {
			pods[i].Ready = false
		}
	}
	return pods
}

// slots for n masters holding an even share each.
func even(names ...string) map[string]int {
	m := map[string]int{}
	for _, n := range names {
		m[n] = SlotCount / len(names)
	}
	return m
}

var placeTests = []struct {
	name              string
	pods              []Pod
	masters, replicas int
	zoneAware         bool
	cur               Current
	// wantMasters and wantReplicaOf are checked when set.
	wantMasters   []string
	wantReplicaOf map[string]string
	wantSpare     []string
	wantDegraded  []string
	check         func(t *testing.T, pods []Pod, pl Placement)
}{
	{
		name: "3x1 on 3 nodes: masters on 3 nodes, no replica with its master",
		pods: layout("node-a", "node-b", "node-c", "node-a", "node-b", "node-c"), masters: 3, replicas: 1,
		check: mastersOnDistinct(domainOf),
	},
	{
		name: "3x1 on 1 node: degraded, and says why",
		pods: layout("sandbox-node-a", "sandbox-node-a", "sandbox-node-a", "sandbox-node-a", "sandbox-node-a", "sandbox-node-a"), masters: 3, replicas: 1,
		wantMasters: []string{"redis-0", "redis-1", "redis-2"},
		wantDegraded: []string{
			"3 masters and 1 replica each need 2 failure domains per shard; pods run on 1 Kubernetes node: sandbox-node-a",
			"master redis-0 and its replica redis-3 share Kubernetes node sandbox-node-a",
			"master redis-1 and its replica redis-4 share Kubernetes node sandbox-node-a",
			"master redis-2 and its replica redis-5 share Kubernetes node sandbox-node-a",
		},
	},
	{
		// 2 masters on one node is the best spread 2 nodes allow, so no rule
		// is broken; but losing that node leaves 1 of 3 masters, too few to
		// vote a failover, and Degraded says so.
		name: "3x1 on 2 nodes: replicas apart from masters, 2 masters on one node reported",
		pods: layout("node-a", "node-b", "node-a", "node-b", "node-a", "node-b"), masters: 3, replicas: 1,
		wantMasters: []string{"redis-0", "redis-1", "redis-2"},
		wantDegraded: []string{
			"Kubernetes node node-a holds 2 of 3 masters: losing it leaves no majority of masters to promote their replicas",
		},
	},
	{
		name: "3x1 over 3 zones of 2 nodes, zone-aware: masters in 3 zones, each replica in another zone",
		pods: layout("z1/n1", "z1/n2", "z2/n3", "z2/n4", "z3/n5", "z3/n6"), masters: 3, replicas: 1, zoneAware: true,
		wantMasters: []string{"redis-0", "redis-2", "redis-4"},
		check:       mastersOnDistinct(podZone),
	},
	{
		name: "3x1 over 2 zones of 3 nodes, zone-aware: 2 masters share a zone, none with its replica",
		pods: layout("z1/n1", "z1/n2", "z1/n3", "z2/n4", "z2/n5", "z2/n6"), masters: 3, replicas: 1, zoneAware: true,
		check: mastersOnDistinct(domainOf),
		wantDegraded: []string{
			"zone z1 holds 2 of 3 masters: losing it leaves no majority of masters to promote their replicas",
		},
	},
	{
		name: "3x2 on 3 nodes: each master's replicas on the two other nodes",
		pods: layout("node-a", "node-b", "node-c", "node-a", "node-b", "node-c", "node-a", "node-b", "node-c"), masters: 3, replicas: 2,
		check: func(t *testing.T, pods []Pod, pl Placement) {
			mastersOnDistinct(domainOf)(t, pods, pl)
			nodes := map[string][]string{}
			for _, r := range namesOf(pl.ReplicaOf) {
				nodes[pl.ReplicaOf[r]] = append(nodes[pl.ReplicaOf[r]], domainOf(podNamed(pods, r)))
			}
			for m, ns := range nodes {
				if len(ns) != 2 || ns[0] == ns[1] {
					t.Errorf("replicas of %s on %v, want two different nodes", m, ns)
				}
			}
		},
	},
	{
		name: "a valid layout stays as it is, though a fresh placement would differ",
		pods: layout("node-a", "node-b", "node-c", "node-a", "node-b", "node-c"), masters: 3, replicas: 1,
		cur: Current{
			Masters:   even("redis-3", "redis-4", "redis-5"),
			ReplicaOf: map[string]string{"redis-0": "redis-4", "redis-1": "redis-5", "redis-2": "redis-3"},
		},
		wantMasters:   []string{"redis-3", "redis-4", "redis-5"},
		wantReplicaOf: map[string]string{"redis-0": "redis-4", "redis-1": "redis-5", "redis-2": "redis-3"},
	},
	{
		// redis-0 (node-a) was master, redis-4 (node-b) its replica; a
		// failover promoted redis-4, so node-b holds 2 masters and node-a
		// none. One failover back fixes it; nothing else moves.
		name: "after a failover stacked masters: fail back",
		pods: layout("node-a", "node-b", "node-c", "node-a", "node-b", "node-c"), masters: 3, replicas: 1,
		cur: Current{
			Masters:   even("redis-4", "redis-1", "redis-2"),
			ReplicaOf: map[string]string{"redis-0": "redis-4", "redis-5": "redis-1", "redis-3": "redis-2"},
		},
		wantMasters:   []string{"redis-0", "redis-1", "redis-2"},
		wantReplicaOf: map[string]string{"redis-4": "redis-0", "redis-5": "redis-1", "redis-3": "redis-2"},
	},
	{
		// redis-5 follows redis-2 on the same node. Masters keep their
		// slots; two replicas trade masters, the fewest moves that fix it.
		name: "a replica on its master's node: masters stay, two replicas swap",
		pods: layout("node-a", "node-b", "node-c", "node-a", "node-b", "node-c"), masters: 3, replicas: 1,
		cur: Current{
			Masters:   even("redis-0", "redis-1", "redis-2"),
			ReplicaOf: map[string]string{"redis-3": "redis-1", "redis-4": "redis-0", "redis-5": "redis-2"},
		},
		wantMasters: []string{"redis-0", "redis-1", "redis-2"},
		check:       moved(2, map[string]string{"redis-3": "redis-1", "redis-4": "redis-0", "redis-5": "redis-2"}),
	},
	{
		// Every shard has both pods on one node (pods were rescheduled):
		// all three replicas must move, and no master.
		name: "every replica on its master's node: masters stay, every replica moves",
		pods: layout("node-a", "node-b", "node-c", "node-a", "node-b", "node-c"), masters: 3, replicas: 1,
		cur: Current{
			Masters:   even("redis-0", "redis-1", "redis-5"),
			ReplicaOf: map[string]string{"redis-3": "redis-0", "redis-4": "redis-1", "redis-2": "redis-5"},
		},
		wantMasters: []string{"redis-0", "redis-1", "redis-5"},
		check:       moved(3, map[string]string{"redis-3": "redis-0", "redis-4": "redis-1", "redis-2": "redis-5"}),
	},
	{
		// The fourth master goes to node-d, which has none, not to redis-6
		// on node-a; the shards in place do not move.
		name: "scale-out 3 to 4 masters: the new master on the node lacking one",
		pods: layout("node-a", "node-b", "node-c", "node-a", "node-b", "node-c", "node-a", "node-d"), masters: 4, replicas: 1,
		cur: Current{
			Masters:   even("redis-0", "redis-1", "redis-2"),
			ReplicaOf: map[string]string{"redis-3": "redis-1", "redis-4": "redis-2", "redis-5": "redis-0"},
		},
		wantMasters:   []string{"redis-0", "redis-1", "redis-2", "redis-7"},
		wantReplicaOf: map[string]string{"redis-3": "redis-1", "redis-4": "redis-2", "redis-5": "redis-0", "redis-6": "redis-7"},
	},
	{
		// The StatefulSet shrinks to 6 pods: redis-6 and redis-7 go; of the
		// 4 masters, redis-2 holds the fewest slots and is demoted.
		name: "scale-in 4 to 3 masters: the highest ordinals are spare, the smallest master is demoted",
		pods: layout("node-a", "node-b", "node-c", "node-d", "node-a", "node-b", "node-c", "node-d"), masters: 3, replicas: 1,
		cur: Current{
			Masters:   map[string]int{"redis-0": 5000, "redis-1": 5000, "redis-2": 1384, "redis-3": 5000},
			ReplicaOf: map[string]string{"redis-4": "redis-1", "redis-5": "redis-2", "redis-6": "redis-3", "redis-7": "redis-0"},
		},
		wantMasters: []string{"redis-0", "redis-1", "redis-3"},
		wantSpare:   []string{"redis-6", "redis-7"},
		check: func(t *testing.T, pods []Pod, pl Placement) {
			if got, want := pl.ReplicaOf["redis-4"], "redis-1"; got != want {
				t.Errorf("redis-4 follows %s, want %s (its master stays)", got, want)
			}
		},
	},
	{
		name: "fewer pods than masters x (1 + replicas): missing replicas reported",
		pods: layout("node-a", "node-b", "node-c", "node-a", "node-b"), masters: 3, replicas: 1,
		check: mastersOnDistinct(domainOf),
		wantDegraded: []string{
			"1 replica of 3 missing: 5 pods for 3 masters and 1 replica each (6 needed)",
		},
	},
	{
		name: "a new master is a Ready pod",
		pods: notReady(layout("node-a", "node-b", "node-c", "node-a", "node-b", "node-c"), "redis-0"), masters: 3, replicas: 1,
		wantMasters: []string{"redis-1", "redis-2", "redis-3"},
		check: func(t *testing.T, pods []Pod, pl Placement) {
			if _, ok := pl.ReplicaOf["redis-0"]; !ok {
				t.Errorf("redis-0 has no role; a pod that is not Ready still gets one")
			}
		},
	},
	{
		name: "a master that is not Ready stays a master",
		pods: notReady(layout("node-a", "node-b", "node-c", "node-a", "node-b", "node-c"), "redis-0"), masters: 3, replicas: 1,
		cur: Current{
			Masters:   even("redis-0", "redis-1", "redis-2"),
			ReplicaOf: map[string]string{"redis-3": "redis-1", "redis-4": "redis-2", "redis-5": "redis-0"},
		},
		wantMasters:   []string{"redis-0", "redis-1", "redis-2"},
		wantReplicaOf: map[string]string{"redis-3": "redis-1", "redis-4": "redis-2", "redis-5": "redis-0"},
	},
	{
		name: "a pod not scheduled yet gets a role and breaks no rule",
		pods: append(layout("node-a", "node-b", "node-c", "node-a", "node-b"), Pod{Name: "redis-5", Ordinal: 5}), masters: 3, replicas: 1,
		check: mastersOnDistinct(domainOf),
	},
}

func TestPlace(t *testing.T) {
	for _, tt := range placeTests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := Place(tt.pods, tt.masters, tt.replicas, tt.zoneAware, tt.cur)
			if err != nil {
				t.Fatal(err)
			}
			checkWellFormed(t, tt.pods, tt.masters, tt.replicas, pl)
			if tt.wantMasters != nil && !slices.Equal(pl.Masters, tt.wantMasters) {
				t.Errorf("masters = %v, want %v", pl.Masters, tt.wantMasters)
			}
			if tt.wantReplicaOf != nil && !reflect.DeepEqual(pl.ReplicaOf, tt.wantReplicaOf) {
				t.Errorf("replicas = %v, want %v", pl.ReplicaOf, tt.wantReplicaOf)
			}
			if !slices.Equal(pl.Spare, tt.wantSpare) {
				t.Errorf("spare = %v, want %v", pl.Spare, tt.wantSpare)
			}
			if !slices.Equal(pl.Degraded, tt.wantDegraded) {
				t.Errorf("degraded:\n%s\nwant:\n%s", strings.Join(pl.Degraded, "\n"), strings.Join(tt.wantDegraded, "\n"))
			}
			if tt.check != nil {
				tt.check(t, tt.pods, pl)
			}
		})
	}
}

func TestPlaceTooFewPods(t *testing.T) {
	_, err := Place(layout("node-a", "node-b"), 3, 1, false, Current{})
	if !errors.Is(err, ErrTooFewPods) {
		t.Fatalf("err = %v, want ErrTooFewPods", err)
	}
}

func TestPlaceDeterministic(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, tt := range placeTests {
		want, err := Place(tt.pods, tt.masters, tt.replicas, tt.zoneAware, tt.cur)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			pods := slices.Clone(tt.pods)
			rng.Shuffle(len(pods), func(i, j int) { pods[i], pods[j] = pods[j], pods[i] })
			got, err := Place(pods, tt.masters, tt.replicas, tt.zoneAware, tt.cur)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: shuffled pods give\n%+v\nwant\n%+v", tt.name, got, want)
			}
		}
	}
}

// TestPlaceProperties checks random small clusters: Place never fails with
// pods enough, gives every pod one role, and finds a placement without
// violations whenever one exists (found by brute force). Its result, taken
// as the current layout, comes back unchanged, and so does any current
// layout without violations.
func TestPlaceProperties(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for i := range 3000 {
		n := 1 + rng.Intn(7)
		masters := 1 + rng.Intn(min(n, 3))
		replicas := rng.Intn(3)
		zoneAware := rng.Intn(2) == 0
		pods := randomPods(rng, n)
		cur := randomCurrent(rng, pods)
		name := fmt.Sprintf("#%d: %d masters, %d replicas, zoneAware %v, pods %v, current %v", i, masters, replicas, zoneAware, pods, cur)

		pl, err := Place(pods, masters, replicas, zoneAware, cur)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkWellFormed(t, pods, masters, replicas, pl)
		placed := pods[:min(n, masters*(1+replicas))]
		if v := pl.Violations(pods, zoneAware); len(v) > 0 {
			if better, ok := bruteForce(placed, masters, zoneAware); ok {
				t.Fatalf("%s:\nPlace gives %+v, breaking %q;\nthis one breaks no rule: %+v", name, pl, v, better)
			}
		}
		again, err := Place(pods, masters, replicas, zoneAware, currentOf(pl))
		if err != nil || !slices.Equal(again.Masters, pl.Masters) || !reflect.DeepEqual(again.ReplicaOf, pl.ReplicaOf) {
			t.Fatalf("%s:\nPlace is not a fixed point: %+v, then %+v", name, pl, again)
		}
		if valid, ok := bruteForce(placed, masters, zoneAware); ok && len(placed) == n {
			got, _ := Place(pods, masters, replicas, zoneAware, currentOf(valid))
			if !slices.Equal(got.Masters, valid.Masters) || !reflect.DeepEqual(got.ReplicaOf, valid.ReplicaOf) {
				t.Fatalf("%s:\nthe valid layout %+v changed to %+v", name, valid, got)
			}
		}
	}
}

// TestPlaceSearch checks the walk over master counts against every count
// vector, on clusters too large for the brute force above: it reaches the
// least rule cost there is, and when every pod is scheduled, the least cost
// in changes too. (Pods not scheduled yet count for no spread, and with
// several of them holding data the walk can stop short on changes.)
func TestPlaceSearch(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for i := range 300 {
		n := 4 + rng.Intn(10)
		masters := 1 + rng.Intn(n/2)
		replicas := 1 + rng.Intn(3)
		pods := randomPods(rng, n)
		placed := pods[:min(n, masters*(1+replicas))]
		pr := newProblem(placed, masters, rng.Intn(2) == 0, randomCurrent(rng, pods))
		total := func(m counts) cost { return pr.rules(m).plus(pr.chooseMasters(m).cost) }
		got := pr.chooseCounts()
		bestRules, best := pr.rules(got), total(got)
		eachCounts(pr, func(m counts) {
			if r := pr.rules(m); r.less(bestRules) {
				bestRules = r
			}
			if c := total(m); c.less(best) {
				best = c
			}
		})
		if pr.rules(got) != bestRules {
			t.Fatalf("#%d: %d masters, %d replicas, pods %v: the walk reaches rule cost %v, %v exists", i, masters, replicas, placed, pr.rules(got), bestRules)
		}
		if scheduled := !slices.ContainsFunc(placed, func(p Pod) bool { return p.Node == "" }); scheduled && total(got) != best {
			t.Fatalf("#%d: %d masters, %d replicas, pods %v: the walk reaches cost %v, %v exists", i, masters, replicas, placed, total(got), best)
		}
	}
}

// TestPlaceMovePrices checks that the residual flow prices moving a master
// from one class to another exactly as choosing the masters anew does.
func TestPlaceMovePrices(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for i := range 300 {
		n := 4 + rng.Intn(12)
		masters := 1 + rng.Intn(n/2)
		pods := randomPods(rng, n)
		placed := pods[:min(n, masters*(1+rng.Intn(4)))]
		pr := newProblem(placed, masters, rng.Intn(2) == 0, randomCurrent(rng, pods))
		m := pr.startCounts()
		mc := pr.chooseMasters(m)
		moves := mc.moves()
		pr.neighbours(m, func(c counts, a, b int) {
			if got, want := mc.cost.plus(moves[a][b]), pr.chooseMasters(c).cost; got != want {
				t.Fatalf("#%d: pods %v, counts %v, a master from class %d to %d: priced %v, costs %v", i, placed, m, a, b, got, want)
			}
		})
	}
}

// TestPlaceConflictFree checks the shortcut that tells, without a flow,
// whether replicas can all run apart from their masters.
func TestPlaceConflictFree(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for i := range 2000 {
		n := 2 + rng.Intn(12)
		masters := 1 + rng.Intn(n/2)
		pods := randomPods(rng, n)
		placed := pods[:min(n, masters*(1+rng.Intn(4)))]
		pr := newProblem(placed, masters, rng.Intn(2) == 0, Current{})
		if pr.group == nil {
			continue
		}
		eachCounts(pr, func(m counts) {
			c := pr.clashes(m)
			if got, want := pr.conflictFree(m), c[tierDomain] == 0 && c[tierZone] == 0; got != want {
				t.Fatalf("#%d: pods %v, counts %v: conflictFree %v, the flow finds %v", i, placed, m, got, c)
			}
		})
	}
}

// eachCounts calls fn with every count vector of the problem.
func eachCounts(pr *problem, fn func(counts)) {
	m := make(counts, len(pr.classes))
	var each func(c, left int)
	each = func(c, left int) {
		if c == len(m) {
			if left == 0 {
				fn(slices.Clone(m))
			}
			return
		}
		for k := 0; k <= min(left, len(pr.classes[c].pods)); k++ {
			m[c] = k
			each(c+1, left-k)
		}
		m[c] = 0
	}
	each(0, pr.masters)
}

var violationTests = []struct {
	name      string
	pods      []Pod
	zoneAware bool
	pl        Placement
	want      []string
}{
	{
		name: "none",
		pods: layout("node-a", "node-b", "node-a", "node-b"),
		pl:   Placement{Masters: []string{"redis-0", "redis-1"}, ReplicaOf: map[string]string{"redis-2": "redis-1", "redis-3": "redis-0"}},
	},
	{
		name: "a replica on its master's node",
		pods: layout("node-a", "node-b", "node-a", "node-b"),
		pl:   Placement{Masters: []string{"redis-0", "redis-1"}, ReplicaOf: map[string]string{"redis-2": "redis-0", "redis-3": "redis-1"}},
		want: []string{
			"master redis-0 and its replica redis-2 share Kubernetes node node-a",
			"master redis-1 and its replica redis-3 share Kubernetes node node-b",
		},
	},
	{
		name: "masters stacked on one node while another has none",
		pods: layout("node-a", "node-a", "node-b", "node-b"),
		pl:   Placement{Masters: []string{"redis-0", "redis-1"}, ReplicaOf: map[string]string{"redis-2": "redis-0", "redis-3": "redis-1"}},
		want: []string{"masters stacked: Kubernetes node node-a holds 2 while node-b holds 0"},
	},
	{
		name: "3 masters on one node and 1 on another is no breach when the other node's only pod is a master",
		pods: layout("node-a", "node-a", "node-a", "node-b", "node-a", "node-a"),
		pl:   Placement{Masters: []string{"redis-0", "redis-1", "redis-2", "redis-3"}, ReplicaOf: map[string]string{"redis-4": "redis-3", "redis-5": "redis-3"}},
	},
	{
		name: "a replica in its master's zone, on another node", zoneAware: true,
		pods: layout("z1/n1", "z2/n2", "z1/n3", "z2/n4"),
		pl:   Placement{Masters: []string{"redis-0", "redis-1"}, ReplicaOf: map[string]string{"redis-2": "redis-0", "redis-3": "redis-1"}},
		want: []string{
			"master redis-0 and its replica redis-2 share zone z1",
			"master redis-1 and its replica redis-3 share zone z2",
		},
	},
	{
		name: "a topology key other than the hostname",
		pods: func() []Pod {
			pods := layout("n1", "n2", "n3", "n4")
			for i, rack := range []string{"rack-1", "rack-2", "rack-1", "rack-2"} {
				pods[i].Domain = rack
			}
			return pods
		}(),
		pl: Placement{Masters: []string{"redis-0", "redis-1"}, ReplicaOf: map[string]string{"redis-2": "redis-0", "redis-3": "redis-1"}},
		want: []string{
			"master redis-0 and its replica redis-2 share failure domain rack-1",
			"master redis-1 and its replica redis-3 share failure domain rack-2",
		},
	},
}

func TestPlacementViolations(t *testing.T) {
	for _, tt := range violationTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.pl.Violations(tt.pods, tt.zoneAware); !slices.Equal(got, tt.want) {
				t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func randomPods(rng *rand.Rand, n int) []Pod {
	nodes := 1 + rng.Intn(4)
	zoneOfNode := make([]string, nodes)
	for i := range zoneOfNode {
		zoneOfNode[i] = fmt.Sprintf("z%d", rng.Intn(3))
	}
	pods := make([]Pod, n)
	for i := range pods {
		node := rng.Intn(nodes)
		pods[i] = Pod{Name: fmt.Sprintf("redis-%d", i), Ordinal: i, Ready: rng.Intn(5) > 0,
			Node: fmt.Sprintf("n%d", node), Domain: fmt.Sprintf("n%d", node), Zone: zoneOfNode[node]}
		if rng.Intn(20) == 0 {
			pods[i].Node, pods[i].Domain, pods[i].Zone = "", "", "" // not scheduled
		}
	}
	return pods
}

func randomCurrent(rng *rand.Rand, pods []Pod) Current {
	cur := Current{Masters: map[string]int{}, ReplicaOf: map[string]string{}}
	var masters []string
	for _, p := range pods {
		if rng.Intn(3) == 0 {
			cur.Masters[p.Name] = rng.Intn(3) * 5000
			masters = append(masters, p.Name)
		}
	}
	for _, p := range pods {
		if _, ok := cur.Masters[p.Name]; !ok && len(masters) > 0 && rng.Intn(4) > 0 {
			cur.ReplicaOf[p.Name] = masters[rng.Intn(len(masters))]
		}
	}
	return cur
}

func currentOf(pl Placement) Current {
	cur := Current{Masters: map[string]int{}, ReplicaOf: pl.ReplicaOf}
	for i, m := range pl.Masters {
		cur.Masters[m] = i * 100
	}
	return cur
}

// bruteForce tries every choice of masters and every even share of
// replicas, for a placement that breaks no rule.
func bruteForce(pods []Pod, masters int, zoneAware bool) (Placement, bool) {
	n := len(pods)
	floor, ceil := (n-masters)/masters, (n-masters+masters-1)/masters
	var found Placement
	var ok bool
	var tryReplicas func(pl Placement, rest []Pod, load map[string]int) bool
	tryReplicas = func(pl Placement, rest []Pod, load map[string]int) bool {
		if len(rest) == 0 {
			for _, m := range pl.Masters {
				if load[m] < floor {
					return false
				}
			}
			if len(pl.Violations(pods, zoneAware)) == 0 {
				found, ok = Placement{Masters: pl.Masters, ReplicaOf: stdmaps.Clone(pl.ReplicaOf)}, true
				return true
			}
			return false
		}
		for _, m := range pl.Masters {
			if load[m] == ceil {
				continue
			}
			pl.ReplicaOf[rest[0].Name] = m
			load[m]++
			if tryReplicas(pl, rest[1:], load) {
				return true
			}
			load[m]--
			delete(pl.ReplicaOf, rest[0].Name)
		}
		return false
	}
	for set := 0; set < 1<<n && !ok; set++ {
		var ms []string
		var rest []Pod
		for i, p := range pods {
			if set&(1<<i) != 0 {
				ms = append(ms, p.Name)
			} else {
				rest = append(rest, p)
			}
		}
		if len(ms) == masters {
			tryReplicas(Placement{Masters: ms, ReplicaOf: map[string]string{}}, rest, map[string]int{})
		}
	}
	return found, ok
}

// checkWellFormed: every pod has exactly one role, there are as many masters
// as asked, every replica follows a master, shares are even, and the spare
// pods are the highest ordinals.
func checkWellFormed(t *testing.T, pods []Pod, masters, replicas int, pl Placement) {
	t.Helper()
	roles := map[string]int{}
	for _, m := range pl.Masters {
		roles[m]++
	}
	load := map[string]int{}
	for r, m := range pl.ReplicaOf {
		roles[r]++
		if !slices.Contains(pl.Masters, m) {
			t.Errorf("%s follows %s, which is not a master", r, m)
		}
		load[m]++
	}
	for _, s := range pl.Spare {
		roles[s]++
	}
	for _, p := range pods {
		if roles[p.Name] != 1 {
			t.Errorf("%s has %d roles, want 1", p.Name, roles[p.Name])
		}
	}
	if len(roles) != len(pods) {
		t.Errorf("%d pods have roles, want %d", len(roles), len(pods))
	}
	if len(pl.Masters) != masters {
		t.Errorf("%d masters, want %d", len(pl.Masters), masters)
	}
	placed := min(len(pods), masters*(1+replicas))
	floor, ceil := (placed-masters)/masters, (placed-masters+masters-1)/masters
	for _, m := range pl.Masters {
		if load[m] < floor || load[m] > ceil {
			t.Errorf("%s has %d replicas, want %d to %d", m, load[m], floor, ceil)
		}
	}
	sorted := slices.Clone(pods)
	slices.SortFunc(sorted, byOrdinal)
	for _, p := range sorted[placed:] {
		if !slices.Contains(pl.Spare, p.Name) {
			t.Errorf("%s is beyond the %d pods needed but not spare", p.Name, placed)
		}
	}
}

func podNamed(pods []Pod, name string) Pod {
	for _, p := range pods {
		if p.Name == name {
			return p
		}
	}
	return Pod{}
}

// mastersOnDistinct checks that no two masters share a domain (or zone), and
// that no rule is broken.
func mastersOnDistinct(key func(Pod) string) func(t *testing.T, pods []Pod, pl Placement) {
	return func(t *testing.T, pods []Pod, pl Placement) {
		t.Helper()
		seen := map[string]string{}
		for _, m := range pl.Masters {
			k := key(podNamed(pods, m))
			if other, ok := seen[k]; ok && k != "" {
				t.Errorf("masters %s and %s both on %s", other, m, k)
			}
			seen[k] = m
		}
		if v := pl.Violations(pods, true); len(v) > 0 {
			t.Errorf("violations: %q", v)
		}
	}
}

// moved checks that exactly n replicas follow another master than before,
// and that no rule is broken.
func moved(n int, before map[string]string) func(t *testing.T, pods []Pod, pl Placement) {
	return func(t *testing.T, pods []Pod, pl Placement) {
		t.Helper()
		got := 0
		for r, m := range before {
			if pl.ReplicaOf[r] != m {
				got++
			}
		}
		if got != n {
			t.Errorf("%d replicas moved (%v, was %v), want %d", got, pl.ReplicaOf, before, n)
		}
		if v := pl.Violations(pods, true); len(v) > 0 {
			t.Errorf("violations: %q", v)
		}
	}
}

// TestKeptReplicasIsTheFlows checks the shortcut of assignReplicas against
// the flow on random clusters, most of them at rest (the current layout is
// Place's own): wherever keptReplicas answers, the flow answers the same.
func TestKeptReplicasIsTheFlows(t *testing.T) {
	rng := rand.New(rand.NewSource(19))
	answered := 0
	for i := range 2000 {
		n := 1 + rng.Intn(12)
		masters := 1 + rng.Intn(min(n, 4))
		replicas := rng.Intn(3)
		zoneAware := rng.Intn(2) == 0
		pods := randomPods(rng, n)
		cur := randomCurrent(rng, pods)
		if rng.Intn(4) > 0 {
			pl, err := Place(pods, masters, replicas, zoneAware, cur)
			if err != nil {
				t.Fatal(err)
			}
			cur = currentOf(pl)
		}
		placed := pods[:min(n, masters*(1+replicas))]
		pr := newProblem(placed, masters, zoneAware, cur)
		chosen, inherits := pr.chooseMasters(pr.chooseCounts()).masters(len(placed))
		got, ok := pr.keptReplicas(chosen, inherits)
		if !ok {
			continue
		}
		answered++
		if want := pr.flowReplicas(chosen, inherits); !reflect.DeepEqual(got, want) {
			t.Fatalf("#%d: %d masters, %d replicas, zoneAware %v, pods %v, current %v:\nkeptReplicas %v, the flow %v",
				i, masters, replicas, zoneAware, pods, cur, got, want)
		}
	}
	if answered < 500 {
		t.Errorf("keptReplicas answered %d of 2000 times: the test checks too little", answered)
	}
}
