package topology

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// Redis's cluster spec designs for "up to ~1000 nodes": these tests and
// benchmarks parse and plan a cluster of that size, 500 masters with one
// replica each, on 102 Kubernetes nodes in 3 zones.
const (
	largeMasters  = 500
	largeReplicas = 1
	largeK8sNodes = 102
)

// largeCluster is a converged cluster generated, deterministically, the
// way Redis would show it: every node's CLUSTER NODES is the same lines
// with its own flagged myself.
type largeCluster struct {
	d     Desired
	pods  []Pod
	lines []ClusterNode // one per pod, by ordinal; none flagged myself
}

// newLargeCluster lays out masters × (1 + replicas) pods the way Place
// would: pod i on Kubernetes node i mod k8sNodes, zone node mod 3. The
// masters are pods 0 to masters-1 (as many per node and per zone as any
// other, give or take one) with redis-cli's even split of the slots; the
// r-th replica of master i is pod (r+1)·masters + i, which lands on another
// node and zone as long as masters mod k8sNodes is not a multiple of 3.
func newLargeCluster(masters, replicas, k8sNodes int) *largeCluster {
	c := &largeCluster{d: Desired{Masters: masters, ReplicasPerMaster: replicas, ZoneAware: true, ClientPort: 6379, BusPort: 16379}}
	total := masters * (1 + replicas)
	slots := SplitSlots(masters)
	for i := range total {
		node := i % k8sNodes
		p := Pod{Name: fmt.Sprintf("cache-%d", i), Ordinal: i, IP: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), Ready: true,
			Node: fmt.Sprintf("node-%03d", node), Domain: fmt.Sprintf("node-%03d", node), Zone: fmt.Sprintf("zone-%c", 'a'+node%3)}
		c.pods = append(c.pods, p)
		n := ClusterNode{ID: largeID(i), Addr: p.IP + ":6379@16379", IP: p.IP, Port: 6379, BusPort: 16379,
			PongRecv: 1796515200000 + int64(i), LinkState: "connected"}
		// A master has config epoch shard+1; a replica shows its master's.
		if shard := i % masters; i < masters {
			n.Flags, n.ConfigEpoch, n.Slots = []string{"master"}, int64(shard+1), []SlotRange{slots[shard]}
		} else {
			n.Flags, n.MasterID, n.ConfigEpoch = []string{"slave"}, largeID(shard), int64(shard+1)
		}
		c.lines = append(c.lines, n)
	}
	return c
}

// largeID is pod i's node ID: 40 hex characters, as Redis makes them.
func largeID(i int) string {
	sum := sha1.Sum([]byte(fmt.Sprintf("large/cache-%d", i)))
	return hex.EncodeToString(sum[:])
}

// view is pod ordinal viewer's CLUSTER NODES, with edit applied to every
// line first (nil: none).
func (c *largeCluster) view(viewer int, edit func(*ClusterNode)) string {
	var b strings.Builder
	for i, n := range c.lines {
		n.Flags = append([]string(nil), n.Flags...)
		n.Slots = append([]SlotRange(nil), n.Slots...)
		if edit != nil {
			edit(&n)
		}
		if i == viewer {
			n.Flags = append([]string{"myself"}, n.Flags...)
			n.PongRecv = 0 // Redis prints 0 for itself
		}
		b.WriteString(n.Line())
		b.WriteByte('\n')
	}
	return b.String()
}

// observe is every pod's reply, as Observe reads them, with edit applied
// to every view and keys per pod (nil: none).
func (c *largeCluster) observe(tb testing.TB, edit func(viewer int, n *ClusterNode)) *Observed {
	tb.Helper()
	o, err := Observe(c.pods, c.replies(edit))
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

// replies is every pod's reply, by pod name, with edit applied to every
// view (nil: none).
func (c *largeCluster) replies(edit func(viewer int, n *ClusterNode)) map[string]Reply {
	replies := make(map[string]Reply, len(c.pods))
	for i, p := range c.pods {
		var e func(*ClusterNode)
		if edit != nil {
			e = func(n *ClusterNode) { edit(i, n) }
		}
		r := Reply{ClusterNodes: c.view(i, e), Replication: "role:master\r\n"}
		if c.lines[i].MasterID != "" {
			r.Replication = "role:slave\r\nmaster_link_status:up\r\n"
		}
		replies[p.Name] = r
	}
	return replies
}

func large1000(testing.TB) *largeCluster {
	return newLargeCluster(largeMasters, largeReplicas, largeK8sNodes)
}

// TestParseClusterNodes1000 parses one node's CLUSTER NODES of a 1000-node
// cluster: every node is there, as printed, and the masters' slots cover
// the 16384 slots once each.
func TestParseClusterNodes1000(t *testing.T) {
	c := large1000(t)
	text := c.view(7, nil)
	nodes, err := ParseClusterNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(nodes), largeMasters*(1+largeReplicas); got != want {
		t.Fatalf("parsed %d nodes, want %d", got, want)
	}
	if got, want := strings.Join(lineTexts(nodes), "\n")+"\n", text; got != want {
		t.Errorf("the nodes do not print back as the reply (-want +got):\n%s", lineDiff(want, got))
	}
	if me, ok := Myself(nodes); !ok || me.ID != c.lines[7].ID {
		t.Errorf("myself is %q, want %s", me.ID, c.lines[7].ID)
	}
	var owner [SlotCount]int // how many masters claim each slot
	masters, replicas := 0, 0
	for _, n := range nodes {
		switch {
		case n.Has("master"):
			masters++
			for _, r := range n.Slots {
				for s := r.Start; s <= r.End; s++ {
					owner[s]++
				}
			}
		case n.Has("slave"):
			replicas++
		}
	}
	if masters != largeMasters || replicas != largeMasters*largeReplicas {
		t.Errorf("%d masters and %d replicas, want %d and %d", masters, replicas, largeMasters, largeMasters*largeReplicas)
	}
	for s, k := range owner {
		if k != 1 {
			t.Errorf("slot %d has %d owners, want 1", s, k)
			break
		}
	}
}

func lineTexts(nodes []ClusterNode) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Line()
	}
	return out
}

// TestPlan1000 plans a 1000-node cluster from every pod's CLUSTER NODES:
// converged, it plans nothing; a slot moved by hand or left open is fixed
// by the one step a person would take.
func TestPlan1000(t *testing.T) {
	c := large1000(t)
	// masterPod is the pod of the master holding slot s; its shard's replica
	// pods do not matter here.
	masterPod := func(s int) (int, ClusterNode) {
		for i, n := range c.lines {
			for _, r := range n.Slots {
				if r.Start <= s && s <= r.End {
					return i, n
				}
			}
		}
		t.Fatalf("no master holds slot %d", s)
		return 0, ClusterNode{}
	}
	a, aLine := masterPod(0)                      // holds 0-32: 33 slots
	b, bLine := masterPod(aLine.Slots[0].End + 1) // the next shard: 33 slots too
	name := func(i int) string { return c.pods[i].Name }

	t.Run("converged", func(t *testing.T) {
		p := PlanTopology(c.d, c.observe(t, nil))
		if got := renderPlanSteps(p); got != "" {
			t.Errorf("a converged 1000-node cluster plans:\n%s", got)
		}
		if got, want := len(p.Placement.Masters), largeMasters; got != want {
			t.Errorf("placement has %d masters, want %d", got, want)
		}
	})

	t.Run("slot moved by hand", func(t *testing.T) {
		// CLUSTER SETSLOT 0 NODE <b> on every node, its keys migrated first:
		// a has one slot less than its share, b one more. The rebalance
		// gives b's highest slot back to a.
		moved := func(_ int, n *ClusterNode) {
			switch n.ID {
			case aLine.ID:
				n.Slots = []SlotRange{{1, aLine.Slots[0].End}}
			case bLine.ID:
				n.Slots = []SlotRange{{0, 0}, bLine.Slots[0]}
			}
		}
		p := PlanTopology(c.d, c.observe(t, moved))
		top := bLine.Slots[0].End
		want := fmt.Sprintf("move-slots %s -> %s 1 slots (%d), ~0 keys: rebalance: %s holds more than an even share, %s less\n",
			name(b), name(a), top, name(b), name(a)) +
			fmt.Sprintf("drift: slot-skew cluster: an even share is 33 slots per master: %s has 34 slots\n", name(b))
		if got := renderPlanSteps(p); got != want {
			t.Errorf("plan (-want +got):\n%s", lineDiff(want, got))
		}
	})

	t.Run("migration left open", func(t *testing.T) {
		// CLUSTER SETSLOT 5 MIGRATING <b> on a, IMPORTING <a> on b, and
		// nothing after: each node shows only its own side.
		open := func(viewer int, n *ClusterNode) {
			switch {
			case viewer == a && n.ID == aLine.ID:
				n.Open = []OpenSlot{{Slot: 5, Migrating: true, Peer: bLine.ID}}
			case viewer == b && n.ID == bLine.ID:
				n.Open = []OpenSlot{{Slot: 5, Peer: aLine.ID}}
			}
		}
		p := PlanTopology(c.d, c.observe(t, open))
		want := fmt.Sprintf("fix-open-slot %s slot 5 -> %s: slot 5 is MIGRATING to %s: finish moving its keys, then assign it\n",
			name(a), name(b), short(bLine.ID)) +
			fmt.Sprintf("drift: open-slot %s: slot 5 migrating to %s\n", name(a), short(bLine.ID))
		if got := renderPlanSteps(p); got != want {
			t.Errorf("plan (-want +got):\n%s", lineDiff(want, got))
		}
	})
}

// renderPlanSteps is renderPlan without the placement line, which for
// 1000 pods is long and says nothing a step does not.
func renderPlanSteps(p Plan) string {
	p.Placement = Placement{}
	return renderPlan(p)
}

// BenchmarkParseClusterNodes1000 parses one node's CLUSTER NODES of a
// 1000-node cluster.
func BenchmarkParseClusterNodes1000(b *testing.B) {
	text := large1000(b).view(0, nil)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseClusterNodes(text); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkObserve1000 builds the observed model of a 1000-node cluster
// from every pod's reply: 1000 CLUSTER NODES of 1000 lines each, which is
// what one pass reads.
func BenchmarkObserve1000(b *testing.B) {
	c := large1000(b)
	replies := make(map[string]Reply, len(c.pods))
	for i, p := range c.pods {
		replies[p.Name] = Reply{ClusterNodes: c.view(i, nil)}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Observe(c.pods, replies); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlan1000 plans a converged 1000-node cluster: what every pass
// at rest costs once the replies are parsed.
func BenchmarkPlan1000(b *testing.B) {
	c := large1000(b)
	o := c.observe(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		if p := PlanTopology(c.d, o); len(p.Actions) > 0 {
			b.Fatalf("converged cluster plans %v", p.Actions)
		}
	}
}

// BenchmarkPass1000 is the topology's part of one pass over a converged
// 1000-node cluster: every pod's CLUSTER NODES parsed (Observe), then the
// plan made.
func BenchmarkPass1000(b *testing.B) {
	c := large1000(b)
	replies := c.replies(nil)
	b.ReportAllocs()
	for b.Loop() {
		o, err := Observe(c.pods, replies)
		if err != nil {
			b.Fatal(err)
		}
		if p := PlanTopology(c.d, o); len(p.Actions) > 0 {
			b.Fatalf("converged cluster plans %v", p.Actions)
		}
	}
}

// TestOwners checks the sweep of Owners against what a person reads off
// the views: the majority wins, a tie goes to the lower node ID, ranges of
// one owner that touch count once per view, and a slot no view claims has
// no owner.
func TestOwners(t *testing.T) {
	claim := func(viewer int, claims map[int][]SlotRange) *Node {
		n := &Node{ID: id(viewer)}
		for _, owner := range []int{1, 2, 3} {
			n.View = append(n.View, ClusterNode{ID: id(owner), Slots: claims[owner]})
		}
		return n
	}
	o := &Observed{Nodes: map[string]*Node{
		// Two views say slot 100 moved to node 2; one still has it on node 1.
		id(4): claim(4, map[int][]SlotRange{1: {{0, 99}, {101, 199}}, 2: {{100, 100}, {200, 299}}, 3: {{300, 399}}}),
		id(5): claim(5, map[int][]SlotRange{1: {{0, 99}, {101, 199}}, 2: {{100, 100}, {200, 299}}, 3: {{300, 399}}}),
		id(6): claim(6, map[int][]SlotRange{1: {{0, 99}, {100, 100}, {101, 199}}, 2: {{200, 299}, {400, 400}}, 3: {{300, 399}}}),
		// Slot 400: node 2 in one view, node 3 in another; node 2's ID is lower.
		id(7): claim(7, map[int][]SlotRange{3: {{400, 400}}}),
	}}
	owners := o.Owners()
	for _, tt := range []struct {
		slot int
		want string
	}{
		{0, id(1)}, {99, id(1)}, {100, id(2)}, {101, id(1)}, {199, id(1)},
		{200, id(2)}, {300, id(3)}, {399, id(3)}, {400, id(2)}, {401, ""}, {SlotCount - 1, ""},
	} {
		if got := owners[tt.slot]; got != tt.want {
			t.Errorf("slot %d: owner %q, want %q", tt.slot, got, tt.want)
		}
	}
}

// TestObserveParsesInParallel: from parallelParseFrom pods Observe parses
// the replies on every CPU; each node's view is what parsing its reply
// alone gives, a pod that could not be asked is unreachable, and of two
// corrupt replies the error names the first pod in the pods' order, as a
// parse one after another would.
func TestObserveParsesInParallel(t *testing.T) {
	c := newLargeCluster(50, 1, 9)
	if len(c.pods) < parallelParseFrom {
		t.Fatalf("%d pods: below parallelParseFrom (%d), the test would not parse in parallel", len(c.pods), parallelParseFrom)
	}
	replies := c.replies(nil)
	replies["cache-7"] = Reply{Err: errors.New("i/o timeout")}
	o, err := Observe(c.pods, replies)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Nodes) != len(c.pods)-1 || o.Unreachable["cache-7"] != "i/o timeout" {
		t.Fatalf("%d nodes, unreachable %v; want %d and cache-7", len(o.Nodes), o.Unreachable, len(c.pods)-1)
	}
	for _, p := range c.pods {
		if p.Name == "cache-7" {
			continue
		}
		want, err := ParseClusterNodes(replies[p.Name].ClusterNodes)
		if err != nil {
			t.Fatal(err)
		}
		if got := o.Nodes[o.ByPod[p.Name]].View; !reflect.DeepEqual(got, want) {
			t.Fatalf("pod %s: the view differs from its reply parsed alone", p.Name)
		}
	}
	for _, name := range []string{"cache-90", "cache-70"} {
		r := replies[name]
		r.ClusterNodes = strings.Replace(r.ClusterNodes, " connected", " sideways", 1)
		replies[name] = r
	}
	_, err = Observe(c.pods, replies)
	if err == nil || !strings.HasPrefix(err.Error(), "pod cache-70: cluster nodes: line 1") {
		t.Fatalf("err %v, want pod cache-70's line 1", err)
	}
}
