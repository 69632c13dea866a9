package topology

import (
	"slices"
	"sort"
)

// facts are what every concern of a formed cluster's plan reads, computed
// once per plan.
type facts struct {
	d   Desired
	o   *Observed
	ids []string // observed node IDs, by pod ordinal
	// want is masters × (1 + replicas): the pods the spec asks for.
	want int
	// anchor is the node others are introduced to (pickAnchor).
	anchor *Node
	// owners maps each slot to its owner by majority of views; uncovered
	// are the slots no view gives an owner.
	owners    [SlotCount]string
	uncovered []SlotRange
	// allAnswered: every pod answered and at least want nodes did. Only
	// then can a node no pod runs be known to be gone for good.
	allAnswered bool
	// disagreement describes views that differ on slot owners ("" if none).
	disagreement string
	// pl is the desired placement, from the roles the nodes have now;
	// placeErr is why there is none.
	pl       Placement
	placeErr error
	// What the lines of every view say, read in one pass (scanViews):
	// whether every node knows every other, past the handshake (a view
	// knows everyone when it names each observed node once at least;
	// counted against the nodes numbered once, without a set per view); the
	// lines that know one of ours at an address it no longer announces,
	// that flag one of ours failed, and that name a node no pod runs (not
	// in a handshake). Each list is in the order of ids, then of the view.
	knowsEveryone bool
	moved         []viewLine
	failed        []viewLine
	strangers     []viewLine
}

// viewLine is line i of the view of node ids[viewer].
type viewLine struct{ viewer, line int }

// at is the node a viewLine is in the view of, and the line.
func (f *facts) at(l viewLine) (*Node, ClusterNode) {
	n := f.o.Nodes[f.ids[l.viewer]]
	return n, n.View[l.line]
}

func newFacts(d Desired, o *Observed, want int) *facts {
	f := &facts{d: d, o: o, want: want, ids: o.NodeIDs()}
	views := groupSlotViews(nodesOf(o, f.ids)) // once for both: a million lines at 1000 nodes
	f.owners = ownersOf(views)
	f.anchor = pickAnchor(o, f.ids)
	f.uncovered = uncoveredRanges(f.owners)
	f.allAnswered = len(o.Unreachable) == 0 && len(o.Nodes) >= want
	f.disagreement = describeDisagreement(views)
	f.scanViews()
	f.pl, f.placeErr = Place(o.Pods, d.Masters, d.ReplicasPerMaster, d.ZoneAware, o.Current())
	return f
}

// scanViews reads every line of every view once, for what the concerns
// need of them: at 1000 nodes a million lines, which each concern would
// otherwise look up in o.Nodes on its own.
func (f *facts) scanViews() {
	index := make(map[string]int, len(f.ids)) // node ID -> its place in ids
	for i, id := range f.ids {
		index[id] = i
	}
	seenBy := make([]int, len(f.ids)) // the last viewer (1-based) to know each node
	f.knowsEveryone = true
	for k, vid := range f.ids {
		known := 0
		for i, v := range f.o.Nodes[vid].View {
			p, ours := index[v.ID]
			handshake := v.Has("handshake")
			if !ours {
				if !handshake {
					f.strangers = append(f.strangers, viewLine{k, i})
				}
				continue
			}
			if !handshake && seenBy[p] != k+1 {
				seenBy[p] = k + 1
				known++
			}
			if v.Has("fail") {
				f.failed = append(f.failed, viewLine{k, i})
			}
			if p != k && !handshake {
				if ip, port, _ := f.o.Nodes[v.ID].Announced(f.d); v.IP != ip || v.Port != port && v.Port != 0 {
					f.moved = append(f.moved, viewLine{k, i})
				}
			}
		}
		if known != len(f.ids) {
			f.knowsEveryone = false
		}
	}
}

// steps is what one concern adds to a plan.
type steps struct {
	actions []Action
	drift   []Drift
	waiting []string
	blocked string
}

func (p *Plan) add(s steps) {
	p.Actions = append(p.Actions, s.actions...)
	p.Drift = append(p.Drift, s.drift...)
	p.Waiting = append(p.Waiting, s.waiting...)
	if s.blocked != "" {
		p.Blocked = s.blocked
	}
}

// planFormed heals an existing cluster, one concern at a time, each in its
// own file. The drift lists in this order; the steps run in kindOrder.
func planFormed(d Desired, o *Observed, want int, p Plan) Plan {
	f := newFacts(d, o, want)
	p.add(planMembership(f)) // plan_membership.go
	p.add(planOpenSlots(f))  // plan_openslots.go
	p.add(planUncovered(f))  // plan_forget.go
	if f.placeErr != nil {
		// Without a placement no role, move or forget can be decided; the
		// steps so far are returned as planned, unsorted.
		p.Blocked = f.placeErr.Error()
		return p
	}
	p.Placement = f.pl
	p.add(placementDrift(f)) // plan_drift.go
	p.add(planRoles(f))      // plan_roles.go
	unsettled := hasKind(p.Actions, Meet, FixOpenSlot, Failover)
	p.add(planMoves(f, unsettled)) // plan_rebalance.go
	p.add(planForget(f))           // plan_forget.go
	p.add(driftChecks(f))          // plan_drift.go
	sortActions(p.Actions)
	return p
}

var kindOrder = map[ActionKind]int{SetConfigEpoch: 0, Meet: 1, AddSlots: 2, FixOpenSlot: 3, Failover: 4, Replicate: 5, MoveSlots: 6, Forget: 7, Release: 8, Restart: 9}

func sortActions(as []Action) {
	sort.SliceStable(as, func(i, j int) bool { return kindOrder[as[i].Kind] < kindOrder[as[j].Kind] })
}

func hasKind(as []Action, kinds ...ActionKind) bool {
	for _, a := range as {
		if slices.Contains(kinds, a.Kind) {
			return true
		}
	}
	return false
}

// pickAnchor is the node other nodes are introduced to: a master with the
// most slots, so that it is surely part of the cluster everyone agrees on.
func pickAnchor(o *Observed, ids []string) *Node {
	best := o.Nodes[ids[0]]
	for _, id := range ids {
		n := o.Nodes[id]
		if n.SlotCount() > best.SlotCount() {
			best = n
		}
	}
	return best
}

func uncoveredRanges(owners [SlotCount]string) []SlotRange {
	var out []SlotRange
	for s := 0; s < SlotCount; s++ {
		if owners[s] != "" {
			continue
		}
		if len(out) > 0 && out[len(out)-1].End == s-1 {
			out[len(out)-1].End = s
		} else {
			out = append(out, SlotRange{Start: s, End: s})
		}
	}
	return out
}

func totalKeys(o *Observed) int64 {
	var t int64
	for _, n := range o.Nodes {
		t += n.Keys
	}
	return t
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
