package topology

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// planAdoption takes over a running cluster (spec.adopt) with the steps a
// person would take by hand, one phase per pass, each decided again from
// what is observed (a takeover stopped anywhere resumes from where the
// cluster is):
//
//  1. join: every managed node is met into the old cluster;
//  2. follow: for each old shard, one managed pod (its heir) becomes a
//     replica of the old master and syncs;
//  3. hand over: a planned CLUSTER FAILOVER on the heir, once its link is
//     up, makes it the shard's master (the old master becomes its
//     replica; clients follow MOVED);
//  4. settle: slots still on old masters (more old shards than declared
//     masters) move to the managed masters, and the other managed pods
//     follow their masters as placement wants;
//  5. release: once no old node holds a slot and every managed master has
//     its replicas linked, each old node is reset (CLUSTER RESET SOFT: a
//     replica drops its copy, its master serves every key) and forgotten
//     by every other node, as redis-cli --cluster del-node does.
//
// o is the whole cluster (Observed.WithForeign). Nothing but replication
// and cluster commands runs on an old node.
func planAdoption(d Desired, o *Observed, want int, p Plan) Plan {
	f := newFacts(d, o, want)
	if why := refuseAdoption(f); why != "" {
		p.Blocked = why
		p.Drift = append(p.Drift, Drift{Kind: DriftAdopting, Subject: "cluster", Detail: why})
		return p
	}
	p.Drift = append(p.Drift, adoptionDrift(f)...)
	m := planMembership(f)
	// Only managed nodes join: an old node the cluster does not know is
	// not brought (back) into it.
	m.actions = slices.DeleteFunc(m.actions, func(a Action) bool {
		return a.Kind == Meet && o.Nodes[a.Target] != nil && o.Nodes[a.Target].Foreign && !knows(f.anchor, a.Target)
	})
	if len(m.actions) > 0 || !everyoneKnowsEveryone(withoutReset(o)) {
		p.add(m)
		if len(m.actions) == 0 {
			p.Waiting = append(p.Waiting, "join: the managed nodes are still being introduced to the old cluster by gossip")
		}
		return p
	}
	if open := planOpenSlots(f); len(open.actions) > 0 {
		p.add(open)
		return p
	}
	if f.placeErr != nil {
		p.Blocked = f.placeErr.Error()
		return p
	}
	p.Placement = f.pl
	if h := planHeirs(f); len(h.actions) > 0 || len(h.waiting) > 0 || h.blocked != "" {
		p.add(h)
		sortActions(p.Actions)
		return p
	}
	roles := planReplicas(f, nil)
	p.add(roles)
	if mv := planMoves(f, len(roles.actions) > 0); len(mv.actions) > 0 || mv.blocked != "" {
		p.add(mv)
		sortActions(p.Actions)
		return p
	}
	if len(roles.actions) > 0 {
		sortActions(p.Actions)
		return p
	}
	p.add(planRelease(f))
	sortActions(p.Actions)
	return p
}

// refuseAdoption says why the takeover cannot go on ("" when it can).
// Before any step, these refuse the adoption; once it has begun they hold
// it, and the cluster keeps serving as it is.
func refuseAdoption(f *facts) string {
	if len(f.o.ForeignUnreachable) > 0 {
		var parts []string
		for _, name := range sortedKeys(f.o.ForeignUnreachable) {
			parts = append(parts, fmt.Sprintf("%s (%s)", name, f.o.ForeignUnreachable[name]))
		}
		return "adopt: a node of the cluster to take over answers nothing: " + strings.Join(parts, "; ") + "; every node must answer before and during the takeover"
	}
	if len(f.uncovered) > 0 {
		return fmt.Sprintf("adopt: slots %s have no owner in the cluster to take over; cover them first (redis-cli --cluster fix), the daemon will not guess where their keys went", formatRanges(f.uncovered))
	}
	for _, id := range f.ids {
		n := f.o.Nodes[id]
		for _, v := range n.View {
			if _, seen := f.o.Nodes[v.ID]; !seen && !v.Has("handshake") {
				return fmt.Sprintf("adopt: %s knows node %s at %s, which is neither a managed pod nor a pod of the StatefulSet to take over; the daemon takes over only nodes it can reach (add it to that StatefulSet, or CLUSTER FORGET it if it is gone)", n.Pod.Name, short(v.ID), v.Addr)
			}
			if r := f.o.Nodes[v.ID]; r != nil && r.Foreign && len(r.View) <= 1 {
				continue // reset by a release whose forget did not run: it goes next
			}
			if v.Has("fail") || v.Has("noaddr") {
				return fmt.Sprintf("adopt: %s flags node %s (%s) as failed; heal the old cluster first", n.Pod.Name, short(v.ID), strings.Join(v.Flags, ","))
			}
		}
	}
	if !takeoverBegun(f.o) {
		for _, id := range f.ids {
			if n := f.o.Nodes[id]; n.Foreign && len(n.Self.Open) > 0 {
				os := n.Self.Open[0]
				dir := "importing from"
				if os.Migrating {
					dir = "migrating to"
				}
				return fmt.Sprintf("adopt: slot %d is open on %s (%s %s): a migration is unfinished; finish or close it first (redis-cli --cluster fix)", os.Slot, n.Pod.Name, dir, short(os.Peer))
			}
		}
	}
	if takeoverBegun(f.o) {
		return ""
	}
	for _, id := range f.ids {
		if n := f.o.Nodes[id]; !n.Foreign && (n.Keys > 0 || n.SlotCount() > 0) {
			return fmt.Sprintf("adopt: managed pod %s already holds data (%d keys, %d slots) of another cluster; the takeover starts only from empty managed pods", n.Pod.Name, n.Keys, n.SlotCount())
		}
	}
	if why := disagreements(&Observed{Nodes: f.o.Foreign}); why != "" {
		return "adopt: the old cluster's nodes disagree on slot owners (" + why + "); it must be at rest before the takeover starts"
	}
	return ""
}

// takeoverBegun: some old node knows a managed node, or a managed node
// owns slots or follows a master: the managed pods are part of the cluster.
func takeoverBegun(o *Observed) bool {
	for _, n := range o.Nodes {
		if !n.Foreign && (n.SlotCount() > 0 || n.Self.Has("slave") || len(n.View) > 1) {
			return true
		}
	}
	return false
}

// heir pairs an old master holding slots with the managed pod that takes
// its shard over.
type heir struct {
	old, heir *Node
}

// heirs pairs every old master holding slots, by its first slot, with a
// managed node: one that already follows it (a takeover resumed), else the
// next placement master not paired yet. Old masters beyond the declared
// masters get no heir: their slots move instead.
func heirs(f *facts) []heir {
	var olds []*Node
	for _, id := range f.ids {
		if n := f.o.Nodes[id]; n.Foreign && n.IsMaster() && n.SlotCount() > 0 {
			olds = append(olds, n)
		}
	}
	sort.Slice(olds, func(i, j int) bool { return olds[i].Self.Slots[0].Start < olds[j].Self.Slots[0].Start })
	taken := map[string]bool{}
	out := make([]heir, 0, len(olds))
	for _, old := range olds {
		var h *Node
		for _, id := range f.ids {
			if n := f.o.Nodes[id]; !n.Foreign && !taken[id] && n.Self.MasterID == old.ID && n.Self.Has("slave") {
				h = n
				break
			}
		}
		out = append(out, heir{old: old, heir: h})
		if h != nil {
			taken[h.ID] = true
		}
	}
	free := []*Node{}
	for _, podName := range f.pl.Masters {
		if n := f.o.Nodes[f.o.ByPod[podName]]; n != nil && !taken[n.ID] && n.IsMaster() && n.SlotCount() == 0 && n.Keys == 0 {
			free = append(free, n)
		}
	}
	for i := range out {
		if out[i].heir == nil && len(free) > 0 {
			out[i].heir, free = free[0], free[1:]
		}
	}
	return out
}

// planHeirs makes each heir follow its old master, then fails the shard
// over to it once its link is up (CLUSTER FAILOVER waits for the replica
// to reach the master's offset, so no acknowledged write is lost).
func planHeirs(f *facts) steps {
	var s steps
	for _, h := range heirs(f) {
		switch {
		case h.heir == nil:
			continue // more old shards than declared masters: its slots move
		case h.heir.IsMaster():
			s.actions = append(s.actions, Action{Kind: Replicate, Pod: h.heir.Pod.Name, Node: h.heir.ID, Target: h.old.ID, TargetPod: h.old.Pod.Name,
				Reason: fmt.Sprintf("adopt: follow the old master %s (slots %s) to take its shard over", h.old.Pod.Name, formatRanges(h.old.Self.Slots))})
		case !h.heir.MasterLinkUp:
			s.waiting = append(s.waiting, fmt.Sprintf("adopt: %s syncs from the old master %s before the failover", h.heir.Pod.Name, h.old.Pod.Name))
		default:
			s.actions = append(s.actions, Action{Kind: Failover, Pod: h.heir.Pod.Name, Node: h.heir.ID, Target: h.old.ID, TargetPod: h.old.Pod.Name,
				Reason: fmt.Sprintf("adopt: hand slots %s over from the old master %s with a planned failover (it becomes a replica; clients follow MOVED)", formatRanges(h.old.Self.Slots), h.old.Pod.Name)})
		}
	}
	return s
}

// planRelease resets and forgets each old node that holds nothing the
// cluster needs: no slot, and either no key or only a replica's copy of a
// managed master. It waits until every managed master has the replicas
// placement gives it, linked, so the cluster never has less redundancy
// than before the takeover.
func planRelease(f *facts) steps {
	var s steps
	for _, m := range f.pl.Masters {
		mid := f.o.ByPod[m]
		linked := 0
		for _, id := range f.ids {
			if n := f.o.Nodes[id]; !n.Foreign && n.Self.MasterID == mid && n.Self.Has("slave") && n.MasterLinkUp {
				linked++
			}
		}
		if linked < f.d.ReplicasPerMaster {
			s.waiting = append(s.waiting, fmt.Sprintf("adopt: %s has %d of its %d replicas linked; the old nodes are released after", m, linked, f.d.ReplicasPerMaster))
			return s
		}
	}
	for _, id := range f.ids {
		n := f.o.Nodes[id]
		if !n.Foreign {
			continue
		}
		if why := unreleasable(f.o, n); why != "" {
			s.drift = append(s.drift, Drift{Kind: DriftAdopting, Subject: n.Pod.Name, Detail: "not released: " + why})
			continue
		}
		s.actions = append(s.actions, Action{Kind: Release, Pod: n.Pod.Name, Node: n.ID, Target: n.ID, TargetPod: n.Pod.Name, Destructive: true,
			Reason: "adopt: the old node holds no slot and the managed pods serve its shard: CLUSTER RESET SOFT on it (a replica drops its copy), then CLUSTER FORGET on every other node"})
	}
	return s
}

// unreleasable says why an old node may not be reset yet ("" if it may).
func unreleasable(o *Observed, n *Node) string {
	if n.SlotCount() > 0 {
		return fmt.Sprintf("owns %d slots", n.SlotCount())
	}
	if n.Keys == 0 {
		return ""
	}
	if !n.Self.Has("slave") {
		return fmt.Sprintf("a master with no slot that holds %d keys: they belong to no slot it serves; look at it by hand", n.Keys)
	}
	m := o.Nodes[n.Self.MasterID]
	if m == nil || m.Foreign || !m.IsMaster() || m.SlotCount() == 0 {
		return "a replica whose master is not a serving managed master"
	}
	return ""
}

// adoptionDrift says where the takeover stands, old node by old node.
func adoptionDrift(f *facts) []Drift {
	var out []Drift
	for _, id := range f.ids {
		n := f.o.Nodes[id]
		if !n.Foreign {
			continue
		}
		role := "master of slots " + formatRanges(n.Self.Slots)
		switch {
		case n.Self.Has("slave"):
			role = "replica of " + short(n.Self.MasterID)
			if m := f.o.Nodes[n.Self.MasterID]; m != nil {
				role = "replica of " + m.Pod.Name
			}
		case n.SlotCount() == 0:
			role = "master without slots"
		}
		out = append(out, Drift{Kind: DriftAdopting, Subject: n.Pod.Name, Detail: fmt.Sprintf("old node %s, %s, %d keys: to be taken over", short(id), role, n.Keys)})
	}
	return out
}

// knows: id is in n's view.
func knows(n *Node, id string) bool {
	return slices.ContainsFunc(n.View, func(v ClusterNode) bool { return v.ID == id })
}

// withoutReset is o without the old nodes already reset by a release
// whose forget did not run (the daemon stopped between the two): they know
// no one and will not be met again, so the cluster is joined without them,
// and planRelease forgets them.
func withoutReset(o *Observed) *Observed {
	var reset []string
	for id, n := range o.Nodes {
		if n.Foreign && len(n.View) <= 1 && n.SlotCount() == 0 && n.Keys == 0 {
			reset = append(reset, id)
		}
	}
	if len(reset) == 0 {
		return o
	}
	c := *o
	c.Nodes = make(map[string]*Node, len(o.Nodes))
	for id, n := range o.Nodes {
		if !slices.Contains(reset, id) {
			c.Nodes[id] = n
		}
	}
	return &c
}
