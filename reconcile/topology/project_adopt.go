package topology

import (
	"fmt"
	"slices"
)

// maxProjectedPasses bounds ProjectAdoption: a takeover takes five or six
// passes (join, follow, hand over, settle, move, release).
const maxProjectedPasses = 12

// ProjectAdoption is the whole takeover of a running cluster planned
// before it starts: the adoption planner run pass after pass on a model of
// the cluster, each step applied as Redis applies it (a meet makes the
// node a member, a replicate makes it follow, a planned failover swaps a
// replica and its master, slots move with their keys pro rata, a release
// resets and forgets an old node) and every sync assumed done before the
// next pass. A pull-request plan shows it, since planning the live
// cluster alone shows only the first pass. o is not changed; the returned
// passes hold each pass's steps, the last one blocked or with none left.
// An error says a step did what Redis would refuse: the planner's bug,
// never run.
func ProjectAdoption(d Desired, o *Observed) ([]Plan, error) {
	m := newModel(o)
	var passes []Plan
	for range maxProjectedPasses {
		p := PlanTopology(d, m.observed())
		passes = append(passes, p)
		run := p.Runnable()
		if p.Blocked != "" || len(run) == 0 && len(p.Waiting) == 0 {
			return passes, nil
		}
		if len(run) == 0 && len(passes) > 1 && len(passes[len(passes)-2].Runnable()) == 0 {
			// Waiting twice with nothing done: what it waits for (a pod
			// that does not answer) is not in the model's hands.
			return passes, nil
		}
		for _, a := range run {
			if err := m.apply(a); err != nil {
				return passes, err
			}
		}
		m.settle()
	}
	return passes, fmt.Errorf("the takeover does not end within %d passes", maxProjectedPasses)
}

// model is a cluster under takeover as values: every node's own line,
// which nodes are members of the cluster, and keys.
type model struct {
	base    *Observed
	nodes   map[string]*Node // by ID: managed and old, each a copy
	members map[string]bool
	gone    []string // old pods released
}

func newModel(o *Observed) *model {
	m := &model{base: o, nodes: map[string]*Node{}, members: map[string]bool{}, gone: slices.Clone(o.Released)}
	all := o.WithForeign()
	for id, n := range all.Nodes {
		c := *n
		c.Self.Slots = slices.Clone(n.Self.Slots)
		c.Self.Flags = slices.Clone(n.Self.Flags)
		m.nodes[id] = &c
		if len(n.View) > 1 || n.Foreign {
			m.members[id] = true
		}
	}
	return m
}

// observed is the model as the daemon would read it.
func (m *model) observed() *Observed {
	o := &Observed{Pods: m.base.Pods, Nodes: map[string]*Node{}, ByPod: map[string]string{}, Unreachable: m.base.Unreachable,
		Foreign: map[string]*Node{}, ForeignUnreachable: m.base.ForeignUnreachable, Released: slices.Clone(m.gone)}
	var lines []ClusterNode
	for id := range m.members {
		l := m.nodes[id].Self
		l.Flags = slices.DeleteFunc(slices.Clone(l.Flags), func(f string) bool { return f == "myself" })
		lines = append(lines, l)
	}
	for id, n := range m.nodes {
		c := *n
		c.View = []ClusterNode{n.Self}
		if m.members[id] {
			for _, l := range lines {
				if l.ID != id {
					c.View = append(c.View, l)
				}
			}
		}
		if n.Foreign {
			o.Foreign[id] = &c
		} else {
			o.Nodes[id] = &c
			o.ByPod[n.Pod.Name] = id
		}
	}
	return o
}

func (m *model) setRole(n *Node, master string) {
	n.Self.MasterID = master
	n.Self.Flags = []string{"myself", "master"}
	if master != "" {
		n.Self.Flags = []string{"myself", "slave"}
	}
}

// apply does what Redis does on a.
func (m *model) apply(a Action) error {
	n := m.nodes[a.Node]
	if n == nil && a.Kind != Forget {
		return fmt.Errorf("%s: node %s not in the model", a, short(a.Node))
	}
	switch a.Kind {
	case Meet:
		m.members[a.Target], m.members[a.Node] = true, true
	case Replicate:
		t := m.nodes[a.Target]
		if t == nil || !t.IsMaster() {
			return fmt.Errorf("%s: Redis replicates only a master", a)
		}
		if n.IsMaster() && (n.SlotCount() > 0 || n.Keys > 0) {
			return fmt.Errorf("%s: Redis refuses CLUSTER REPLICATE on a master holding data", a)
		}
		m.setRole(n, a.Target)
		n.MasterLinkUp = false
	case Failover:
		old := m.nodes[n.Self.MasterID]
		if old == nil || n.IsMaster() {
			return fmt.Errorf("%s: not a replica of a known master", a)
		}
		n.Self.Slots, old.Self.Slots = old.Self.Slots, nil
		m.setRole(n, "")
		for _, r := range m.nodes {
			if r.Self.MasterID == old.ID && r.ID != n.ID {
				m.setRole(r, n.ID)
			}
		}
		m.setRole(old, n.ID)
	case MoveSlots:
		t := m.nodes[a.Target]
		total := n.SlotCount()
		moved := int64(0)
		for _, r := range a.Slots {
			if total > 0 {
				moved += n.Keys * int64(r.Len()) / int64(total)
			}
			n.Self.Slots = cutRange(n.Self.Slots, r)
			t.Self.Slots = append(t.Self.Slots, r)
		}
		if n.SlotCount() == 0 {
			moved = n.Keys
		}
		n.Keys -= moved
		t.Keys += moved
	case Release:
		if n.SlotCount() > 0 || n.IsMaster() && n.Keys > 0 {
			return fmt.Errorf("%s: releases a node holding data", a)
		}
		delete(m.members, n.ID)
		delete(m.nodes, n.ID)
		m.gone = append(m.gone, n.Pod.Name)
	case Forget:
		delete(m.members, a.Target)
	case FixOpenSlot:
		// The engine finishes it: the slot ends on its target.
		for _, x := range m.nodes {
			x.Self.Open = nil
		}
	default:
		return fmt.Errorf("%s: not a step of a takeover", a)
	}
	return nil
}

// settle is the time between two passes: gossip done, every replica
// synced and holding its master's keys.
func (m *model) settle() {
	for _, n := range m.nodes {
		if t := m.nodes[n.Self.MasterID]; t != nil && n.Self.Has("slave") {
			n.MasterLinkUp, n.Keys = true, t.Keys
		}
	}
}

func cutRange(rs []SlotRange, cut SlotRange) []SlotRange {
	var out []SlotRange
	for _, r := range rs {
		if cut.End < r.Start || cut.Start > r.End {
			out = append(out, r)
			continue
		}
		if r.Start < cut.Start {
			out = append(out, SlotRange{r.Start, cut.Start - 1})
		}
		if r.End > cut.End {
			out = append(out, SlotRange{cut.End + 1, r.End})
		}
	}
	return out
}
