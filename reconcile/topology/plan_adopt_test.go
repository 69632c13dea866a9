package topology

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

// adoptSim is a small model of a Redis Cluster under takeover: what each
// step does to roles, slots and keys, as Redis does it, so a plan can be
// run pass after pass with no server. Gossip is instant: every member
// knows every other.
type adoptSim struct {
	nodes   map[string]*simNode
	members map[string]bool
}

type simNode struct {
	id, pod string
	foreign bool
	ordinal int
	master  string // node ID it replicates, "" for a master
	slots   []SlotRange
	keys    int64
	linked  bool // master_link_status:up
	reset   bool // CLUSTER RESET ran, CLUSTER FORGET not yet: it knows no one, the others still know it
}

// newAdoptSim is an old cluster of oldMasters shards with oldReplicas each,
// keys spread evenly, and managed empty pods new-0..new-(managed-1).
func newAdoptSim(oldMasters, oldReplicas, managed int, keys int64) *adoptSim {
	s := &adoptSim{nodes: map[string]*simNode{}, members: map[string]bool{}}
	ranges := SplitSlots(oldMasters)
	ord := 0
	for m := range oldMasters {
		mid := fmt.Sprintf("%040x", 0xa00+m)
		s.add(&simNode{id: mid, pod: fmt.Sprintf("old-%d", ord), foreign: true, ordinal: ord, slots: []SlotRange{ranges[m]}, keys: keys / int64(oldMasters)})
		s.members[mid] = true
		ord++
		for r := range oldReplicas {
			rid := fmt.Sprintf("%040x", 0xb00+m*10+r)
			s.add(&simNode{id: rid, pod: fmt.Sprintf("old-%d", ord), foreign: true, ordinal: ord, master: mid, linked: true})
			s.members[rid] = true
			ord++
		}
	}
	for i := range managed {
		s.add(&simNode{id: fmt.Sprintf("%040x", 0xc00+i), pod: fmt.Sprintf("new-%d", i), ordinal: i})
	}
	s.syncReplicas()
	return s
}

func (s *adoptSim) add(n *simNode) { s.nodes[n.id] = n }

func (s *adoptSim) syncReplicas() {
	for _, n := range s.nodes {
		if n.master != "" {
			n.keys = s.nodes[n.master].keys
		}
	}
}

func (s *adoptSim) line(n *simNode, self bool) string {
	flags := "master"
	master := "-"
	if n.master != "" {
		flags, master = "slave", n.master
	}
	if self {
		flags = "myself," + flags
	}
	var slots []string
	for _, r := range n.slots {
		slots = append(slots, r.String())
	}
	// A fresh node's epoch is 0; CLUSTER RESET SOFT keeps a node's epoch.
	epoch := boolInt(s.members[n.id] || n.foreign)
	return strings.TrimSpace(fmt.Sprintf("%s 10.0.0.%d:6379@16379 %s %s 0 0 %d connected %s", n.id, n.ordinal+100*boolInt(n.foreign), flags, master, epoch, strings.Join(slots, " ")))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// observe is what the daemon reads: managed pods, then the old ones.
func (s *adoptSim) observe(t *testing.T) *Observed {
	t.Helper()
	var managed, old []Pod
	replies := map[string]Reply{}
	for _, n := range s.nodes {
		var lines []string
		if s.members[n.id] && !n.reset {
			for id := range s.members {
				lines = append(lines, s.line(s.nodes[id], id == n.id))
			}
		} else {
			lines = []string{s.line(n, true)}
		}
		sort.Strings(lines)
		repl := "role:master"
		if n.master != "" {
			repl = "role:slave\nmaster_link_status:down"
			if n.linked {
				repl = "role:slave\nmaster_link_status:up"
			}
		}
		replies[n.pod] = Reply{ClusterNodes: strings.Join(lines, "\n") + "\n", Replication: repl, Keys: n.keys}
		p := Pod{Name: n.pod, Ordinal: n.ordinal, IP: "10.0.0.1", Node: "k8s-" + n.pod, Domain: "k8s-" + n.pod}
		if n.foreign {
			old = append(old, p)
		} else {
			managed = append(managed, p)
		}
	}
	o, err := Observe(managed, replies)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.AddForeign(old, replies); err != nil {
		t.Fatal(err)
	}
	return o
}

// apply runs one step the way Redis would.
func (s *adoptSim) apply(t *testing.T, a Action) {
	t.Helper()
	n := s.nodes[a.Node]
	switch a.Kind {
	case Meet:
		s.members[a.Target] = true
	case Replicate:
		if m := s.nodes[a.Target]; m.master != "" {
			t.Fatalf("%s: Redis refuses to replicate a replica", a)
		}
		if n.master == "" && (len(n.slots) > 0 || n.keys > 0) {
			t.Fatalf("%s: Redis refuses CLUSTER REPLICATE on a master holding data", a)
		}
		n.master, n.linked = a.Target, false
	case Failover:
		m := s.nodes[n.master]
		if !n.linked {
			t.Fatalf("%s: failover of a replica whose link is down", a)
		}
		n.slots, m.slots = m.slots, nil
		n.master, m.master = "", n.id
		for _, r := range s.nodes {
			if r.master == m.id && r.id != n.id {
				r.master = n.id
			}
		}
	case MoveSlots:
		dst := s.nodes[a.Target]
		moved := int64(0)
		for _, r := range a.Slots {
			moved += n.keys * int64(r.Len()) / int64(max(1, slotCount(n.slots)))
			n.slots = cutRange(n.slots, r)
			dst.slots = append(dst.slots, r)
		}
		if len(n.slots) == 0 {
			moved = n.keys
		}
		n.keys -= moved
		dst.keys += moved
	case Release:
		if len(n.slots) > 0 || (n.master == "" && n.keys > 0) {
			t.Fatalf("%s: releases a node holding data (slots %v, %d keys)", a, n.slots, n.keys)
		}
		if n.master != "" && s.nodes[n.master].foreign && n.keys > 0 {
			t.Fatalf("%s: releases a replica holding the keys of an old master", a)
		}
		delete(s.members, n.id)
		n.master, n.keys, n.reset = "", 0, false
	default:
		t.Fatalf("unexpected step %s", a)
	}
}

func slotCount(rs []SlotRange) int {
	c := 0
	for _, r := range rs {
		c += r.Len()
	}
	return c
}

// run plans and applies until the plan is empty, returning the kinds of
// each pass's steps.
func (s *adoptSim) run(t *testing.T, d Desired) []string {
	passes, _ := s.runSteps(t, d)
	return passes
}

// runSteps is run, with every step it took.
func (s *adoptSim) runSteps(t *testing.T, d Desired) ([]string, []string) {
	t.Helper()
	var passes, steps []string
	for pass := 0; pass < 20; pass++ {
		o := s.observe(t)
		p := PlanTopology(d, o)
		if p.Blocked != "" {
			t.Fatalf("pass %d blocked: %s", pass+1, p.Blocked)
		}
		if slices.ContainsFunc(p.Actions, func(a Action) bool { return a.Kind == AddSlots || a.Kind == SetConfigEpoch }) {
			t.Fatalf("pass %d would bootstrap or assign slots while adopting: %v", pass+1, p.Actions)
		}
		var ks []string
		for _, a := range p.Runnable() {
			s.apply(t, a)
			ks = append(ks, string(a.Kind))
			steps = append(steps, a.String())
		}
		s.syncReplicas()
		for _, n := range s.nodes {
			n.linked = n.master != "" // the sync ends before the next pass
		}
		if len(ks) == 0 && len(p.Waiting) == 0 {
			return passes, steps
		}
		passes = append(passes, strings.Join(slices.Compact(ks), ","))
	}
	t.Fatalf("not done after 20 passes: %v", passes)
	return nil, nil
}

func TestAdoptionTakesEveryShardOver(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		oldMasters, oldReplicas int
		masters, replicas       int
		wantPasses              []string
	}{
		{"the blog's 3x1 to 3x1", 3, 1, 3, 1, []string{"meet", "replicate", "failover", "replicate", "release"}},
		{"3x0 to 3x2", 3, 0, 3, 2, []string{"meet", "replicate", "failover", "replicate", "release"}},
		{"4x1 to 3x1: a shard's slots move", 4, 1, 3, 1, []string{"meet", "replicate", "failover", "replicate", "move-slots", "release"}},
		{"3x1 to 4x1: a new shard gets slots", 3, 1, 4, 1, []string{"meet", "replicate", "failover", "replicate", "move-slots", "replicate", "release"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const keys = 12000
			s := newAdoptSim(tc.oldMasters, tc.oldReplicas, tc.masters*(1+tc.replicas), keys)
			d := Desired{Masters: tc.masters, ReplicasPerMaster: tc.replicas, ClientPort: 6379, BusPort: 16379, Adopt: true}
			passes := s.run(t, d)
			if !slices.Equal(passes, tc.wantPasses) {
				t.Errorf("passes:\n got %q\nwant %q", passes, tc.wantPasses)
			}
			// At the end: every slot on a managed master, every key with
			// them, every old node out of the cluster and empty.
			covered, total := 0, int64(0)
			for _, n := range s.nodes {
				if n.foreign {
					if s.members[n.id] || len(n.slots) > 0 || n.keys > 0 {
						t.Errorf("old %s: member %v, slots %v, %d keys", n.pod, s.members[n.id], n.slots, n.keys)
					}
					continue
				}
				if n.master == "" {
					covered += slotCount(n.slots)
					total += n.keys
				} else if s.nodes[n.master].foreign {
					t.Errorf("%s still follows old %s", n.pod, s.nodes[n.master].pod)
				}
			}
			if covered != SlotCount || total != keys {
				t.Errorf("managed masters hold %d slots and %d keys; want %d and %d", covered, total, SlotCount, keys)
			}
			o := s.observe(t)
			if o.Adopting() || len(o.Released) != tc.oldMasters*(1+tc.oldReplicas) {
				t.Errorf("after: adopting %v, released %v", o.Adopting(), o.Released)
			}
			if p := PlanTopology(d, o); len(p.Actions) != 0 || p.Blocked != "" {
				t.Errorf("the adopted cluster is not at rest: %v %s", p.Actions, p.Blocked)
			}
		})
	}
}

// A takeover stopped anywhere resumes: the plan is made again from what is.
func TestAdoptionResumesAfterEveryStep(t *testing.T) {
	d := Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379, Adopt: true}
	for stopAfter := 1; stopAfter <= 12; stopAfter++ {
		s := newAdoptSim(3, 1, 6, 900)
		done := 0
	passes:
		for pass := 0; pass < 10; pass++ {
			p := PlanTopology(d, s.observe(t))
			for _, a := range p.Runnable() {
				if done == stopAfter {
					break passes // the daemon is killed here
				}
				s.apply(t, a)
				done++
			}
			s.syncReplicas()
			for _, n := range s.nodes {
				n.linked = n.master != ""
			}
		}
		s.syncReplicas()
		s.run(t, d) // a new daemon
		for _, n := range s.nodes {
			if n.foreign && s.members[n.id] {
				t.Errorf("stopped after step %d: old %s still in the cluster", stopAfter, n.pod)
			}
		}
	}
}

func TestAdoptionRefuses(t *testing.T) {
	d := Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379, Adopt: true}
	for _, tc := range []struct {
		name   string
		change func(s *adoptSim, o *Observed)
		want   string
	}{
		{"an old node that answers nothing", func(_ *adoptSim, o *Observed) {
			o.ForeignUnreachable = map[string]string{"old-3": "dial tcp: connection refused"}
		}, "adopt: a node of the cluster to take over answers nothing: old-3 (dial tcp: connection refused)"},
		{"a shard with no owner", nil, "adopt: slots 0-5460 have no owner"},
		{"a managed pod holding keys", func(_ *adoptSim, o *Observed) {
			o.Nodes[o.ByPod["new-2"]].Keys = 7
		}, "adopt: managed pod new-2 already holds data (7 keys, 0 slots)"},
		{"an open slot", func(_ *adoptSim, o *Observed) {
			n := o.Foreign[fmt.Sprintf("%040x", 0xa01)]
			n.Self.Open = []OpenSlot{{Slot: 6000, Migrating: true, Peer: fmt.Sprintf("%040x", 0xa02)}}
		}, "adopt: slot 6000 is open on old-2 (migrating to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newAdoptSim(3, 1, 6, 900)
			if tc.name == "a shard with no owner" {
				s.nodes[fmt.Sprintf("%040x", 0xa00)].slots = nil
			}
			o := s.observe(t)
			if tc.change != nil {
				tc.change(s, o)
			}
			p := PlanTopology(d, o)
			if !strings.HasPrefix(p.Blocked, tc.want) || len(p.Actions) != 0 {
				t.Errorf("got blocked %q with %d steps; want %q and none", p.Blocked, len(p.Actions), tc.want)
			}
		})
	}
}

// Without any old node observed, an adopting spec never forms a new
// cluster out of its empty pods.
func TestAdoptionNeverBootstraps(t *testing.T) {
	s := newAdoptSim(3, 1, 6, 900)
	for id, n := range s.nodes {
		if n.foreign {
			delete(s.nodes, id)
			delete(s.members, id)
		}
	}
	p := PlanTopology(Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379, Adopt: true}, s.observe(t))
	if len(p.Actions) != 0 || !strings.Contains(p.Blocked, "the cluster to take over was not observed") {
		t.Errorf("got %v, blocked %q", p.Actions, p.Blocked)
	}
}

// The plan of a takeover, made before it starts, is the takeover: the
// projection lists exactly the steps the passes then take.
func TestProjectAdoptionIsWhatThePassesDo(t *testing.T) {
	for _, shape := range [][4]int{{3, 1, 3, 1}, {4, 1, 3, 1}, {3, 0, 3, 2}} {
		d := Desired{Masters: shape[2], ReplicasPerMaster: shape[3], ClientPort: 6379, BusPort: 16379, Adopt: true}
		s := newAdoptSim(shape[0], shape[1], shape[2]*(1+shape[3]), 12000)
		passes, err := ProjectAdoption(d, s.observe(t))
		if err != nil {
			t.Fatalf("%v: %v", shape, err)
		}
		var projected []string
		for _, p := range passes {
			for _, a := range p.Runnable() {
				projected = append(projected, a.String())
			}
		}
		if last := passes[len(passes)-1]; last.Blocked != "" || len(last.Actions) != 0 {
			t.Errorf("%v: the projection ends blocked (%q) or with steps %v", shape, last.Blocked, last.Actions)
		}
		_, done := s.runSteps(t, d)
		if !slices.Equal(projected, done) {
			t.Errorf("%v: projected steps differ from the steps taken:\nprojected %q\n    taken %q", shape, projected, done)
		}
	}
}

// After the takeover, an old pod that stops answering (restarted, or its
// StatefulSet scaled down by a person) holds nothing up.
func TestAdoptedClusterIgnoresAnOldPodDown(t *testing.T) {
	d := Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379, Adopt: true}
	s := newAdoptSim(3, 1, 6, 900)
	s.run(t, d)
	o := s.observe(t)
	o.ForeignUnreachable["old-2"] = "connection refused"
	if o.Adopting() {
		t.Fatal("an adopted cluster with an old pod down counts as adopting")
	}
	if p := PlanTopology(d, o); p.Blocked != "" || len(p.Actions) != 0 {
		t.Errorf("plan: %v, blocked %q", p.Actions, p.Blocked)
	}
}

// A daemon killed between the reset of an old node and its forget: the
// node knows no one, the others still know it. The next pass releases it
// again (the reset is a no-op) instead of waiting for gossip forever.
func TestAdoptionResumesBetweenResetAndForget(t *testing.T) {
	d := Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379, Adopt: true}
	s := newAdoptSim(3, 1, 6, 900)
	for pass := 0; pass < 10; pass++ {
		p := PlanTopology(d, s.observe(t))
		if i := slices.IndexFunc(p.Actions, func(a Action) bool { return a.Kind == Release }); i >= 0 {
			n := s.nodes[p.Actions[i].Node]
			n.master, n.keys, n.reset = "", 0, true
			break
		}
		for _, a := range p.Runnable() {
			s.apply(t, a)
		}
		s.syncReplicas()
		for _, n := range s.nodes {
			n.linked = n.master != ""
		}
	}
	s.run(t, d)
	if o := s.observe(t); o.Adopting() {
		t.Errorf("still adopting: %d old nodes", len(o.Foreign))
	}
}
