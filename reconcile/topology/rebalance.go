package topology

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// skewTolerance is how far (a fraction of an even share) a master's slot
// count may be off before a rebalance is planned; redis-cli rebalance's
// default threshold is the same 2%.
const skewTolerance = 0.02

// headroom is the fraction of maxmemory the remaining masters may fill
// after a scale-in.
const headroom = 0.9

// Rebalance is the slot moves that give each master to keep an even
// share of the 16384 slots and leave every master to drain with none. A
// drained master's slots go to every remaining master that lacks some,
// never all onto one. Blocked says why a needed rebalance must not start
// (empty when it may); then there are no moves.
type Rebalance struct {
	Moves   []Action
	Drain   []string // node IDs of masters to empty
	Blocked string
}

// PlanRebalance computes the moves. keep are the node IDs of the masters
// the placement keeps, each a master now; every other master holding slots
// is drained. No move is planned for a skew within skewTolerance, unless
// a kept master has no slot at all or a master is to be drained.
func PlanRebalance(o *Observed, keep []string) Rebalance {
	var r Rebalance
	kept := map[string]bool{}
	for _, id := range keep {
		kept[id] = true
	}
	for _, id := range o.NodeIDs() {
		if n := o.Nodes[id]; n.IsMaster() && n.SlotCount() > 0 && !kept[id] {
			r.Drain = append(r.Drain, id)
		}
	}
	if len(keep) == 0 {
		return r
	}
	share := shares(o, keep)
	needed := len(r.Drain) > 0
	for _, id := range keep {
		have, want := o.Nodes[id].SlotCount(), share[id]
		if have == 0 || float64(abs(have-want)) > skewTolerance*float64(want) {
			needed = true
		}
	}
	if !needed {
		return r
	}
	if why := refuseScaleIn(o, keep, r.Drain); why != "" {
		r.Blocked = why
		return r
	}

	// Donors: drained masters first (all their slots), then kept masters
	// above their share; receivers: kept masters below it. Slots leave a
	// donor from the top of its ranges, so each receiver gets few ranges.
	type side struct {
		id    string
		slots []int // donors: the slots to give, in order
		n     int   // receivers: slots still wanted
	}
	var donors, receivers []*side
	for _, id := range r.Drain {
		donors = append(donors, &side{id: id, slots: slotList(o.Nodes[id])})
	}
	for _, id := range keep {
		n := o.Nodes[id]
		switch have, want := n.SlotCount(), share[id]; {
		case have > want:
			all := slotList(n)
			donors = append(donors, &side{id: id, slots: all[want:]})
		case have < want:
			receivers = append(receivers, &side{id: id, n: want - have})
		}
	}
	for _, d := range donors {
		for len(d.slots) > 0 {
			i := slices.IndexFunc(receivers, func(s *side) bool { return s.n > 0 })
			if i < 0 {
				break
			}
			rc := receivers[i]
			k := min(rc.n, len(d.slots))
			give := d.slots[len(d.slots)-k:]
			d.slots = d.slots[:len(d.slots)-k]
			rc.n -= k
			r.Moves = append(r.Moves, moveAction(o, d.id, rc.id, give, kept[d.id]))
		}
	}
	return r
}

func moveAction(o *Observed, from, to string, slots []int, kept bool) Action {
	src, dst := o.Nodes[from], o.Nodes[to]
	slices.Sort(slots)
	a := Action{Kind: MoveSlots, Pod: src.Pod.Name, Node: from, Target: to, TargetPod: dst.Pod.Name, Slots: toRanges(slots)}
	if c := src.SlotCount(); c > 0 {
		a.Keys = src.Keys * int64(len(slots)) / int64(c)
		a.Bytes = src.UsedMemory * int64(len(slots)) / int64(c)
	}
	if kept {
		a.Reason = fmt.Sprintf("rebalance: %s holds more than an even share, %s less", src.Pod.Name, dst.Pod.Name)
	} else {
		a.Reason = fmt.Sprintf("scale-in: drain %s before it is removed", src.Pod.Name)
	}
	return a
}

// shares gives each kept master an even share; the remainder goes to the
// masters holding the most slots now (fewest moves), ties by pod ordinal.
func shares(o *Observed, keep []string) map[string]int {
	order := slices.Clone(keep)
	slices.SortStableFunc(order, func(a, b string) int {
		na, nb := o.Nodes[a], o.Nodes[b]
		return cmp.Or(cmp.Compare(nb.SlotCount(), na.SlotCount()), cmp.Compare(na.Pod.Ordinal, nb.Pod.Ordinal))
	})
	out := map[string]int{}
	for i, id := range order {
		out[id] = SlotCount / len(keep)
		if i < SlotCount%len(keep) {
			out[id]++
		}
	}
	return out
}

// refuseScaleIn says why draining would overfill the remaining masters:
// the drained data must fit in their maxmemory headroom. Masters without
// maxmemory have no limit Redis enforces, and none is checked.
func refuseScaleIn(o *Observed, keep, drain []string) string {
	if len(drain) == 0 {
		return ""
	}
	var moving, room int64
	for _, id := range drain {
		moving += o.Nodes[id].UsedMemory
	}
	for _, id := range keep {
		n := o.Nodes[id]
		if n.MaxMemory == 0 {
			return ""
		}
		room += int64(float64(n.MaxMemory)*headroom) - n.UsedMemory
	}
	if moving <= room {
		return ""
	}
	var names []string
	for _, id := range drain {
		names = append(names, o.Nodes[id].Pod.Name)
	}
	return fmt.Sprintf("scale-in refused before any key moved: %s hold %s, and the %d remaining masters have %s free below %.0f%% of maxmemory; raise maxmemory or keep more masters",
		strings.Join(names, ", "), bytesText(moving), len(keep), bytesText(max(room, 0)), headroom*100)
}

func bytesText(n int64) string {
	const mib = 1 << 20
	if n >= mib {
		return fmt.Sprintf("%.1f MiB", float64(n)/mib)
	}
	return fmt.Sprintf("%d bytes", n)
}

func slotList(n *Node) []int {
	var out []int
	for _, r := range n.Self.Slots {
		for s := r.Start; s <= r.End; s++ {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func toRanges(slots []int) []SlotRange {
	var out []SlotRange
	for _, s := range slots {
		if len(out) > 0 && out[len(out)-1].End == s-1 {
			out[len(out)-1].End = s
		} else {
			out = append(out, SlotRange{Start: s, End: s})
		}
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// BeyondScale names the pods at or above ordinal total (the ones a
// StatefulSet scaled to total removes) whose node still holds data that
// only it has: a master with slots or keys, or a slot open on it. The
// StatefulSet must not shrink while any does.
func BeyondScale(o *Observed, total int) []string {
	var out []string
	for _, p := range sortedPods(o.Pods) {
		if _, silent := o.Unreachable[p.Name]; silent && p.Ordinal >= total {
			out = append(out, p.Name+" (not answering, so not known to be empty)")
		}
	}
	for _, id := range o.NodeIDs() {
		n := o.Nodes[id]
		if n.Pod.Ordinal < total {
			continue
		}
		if n.IsMaster() && (n.SlotCount() > 0 || n.Keys > 0) || len(n.Self.Open) > 0 {
			out = append(out, n.Pod.Name)
		}
	}
	return out
}
