package topology

import (
	"fmt"
	"sort"
	"strings"
)

// placementDrift reports where the desired placement itself falls short
// (Placement.Degraded) and the pods it leaves without a role.
func placementDrift(f *facts) steps {
	var s steps
	for _, r := range f.pl.Degraded {
		s.drift = append(s.drift, Drift{Kind: DriftPlacement, Subject: "placement", Detail: r})
	}
	for _, sp := range f.pl.Spare {
		s.drift = append(s.drift, Drift{Kind: DriftSpare, Subject: sp, Detail: "more pods than masters × (1 + replicas)"})
	}
	return s
}

// driftChecks report, for people, what the steps do not change directly:
// our nodes some peer flags failed (Redis clears the flag once the node is
// reachable again), slot counts off an even share, and views that disagree
// on slot owners (gossip settles them; until then planMoves moves nothing).
func driftChecks(f *facts) steps {
	var s steps
	for _, l := range f.failed {
		viewer, v := f.at(l)
		s.drift = append(s.drift, Drift{Kind: DriftFailedNode, Subject: f.o.Nodes[v.ID].Pod.Name, Detail: viewer.Pod.Name + " flags it failed"})
	}
	if skew := slotSkew(f.o, f.d.Masters); skew != "" {
		s.drift = append(s.drift, Drift{Kind: DriftSkew, Subject: "cluster", Detail: skew})
	}
	if f.disagreement != "" {
		s.drift = append(s.drift, Drift{Kind: DriftDisagreement, Subject: "cluster", Detail: f.disagreement})
	}
	return s
}

// slotSkew describes masters whose slot count is more than 2% off an even
// share (redis-cli rebalance's default threshold); empty when balanced. An
// even share is a whole number of slots, SlotCount/masters rounded down or
// up: with 500 masters, 32 and 33 are both even, though 32 is 2.3% below
// the mean of 32.8.
func slotSkew(o *Observed, masters int) string {
	if masters <= 0 {
		return ""
	}
	expected := float64(SlotCount) / float64(masters)
	lo, hi := SlotCount/masters, (SlotCount+masters-1)/masters
	var off []string
	for _, id := range o.NodeIDs() {
		n := o.Nodes[id]
		if !n.IsMaster() || n.SlotCount() == 0 {
			continue
		}
		c := n.SlotCount()
		if dev := float64(max(lo-c, c-hi, 0)) / expected; dev > skewTolerance {
			off = append(off, fmt.Sprintf("%s has %d slots", n.Pod.Name, n.SlotCount()))
		}
	}
	if len(off) == 0 {
		return ""
	}
	return fmt.Sprintf("an even share is %.0f slots per master: %s", expected, strings.Join(off, ", "))
}

// disagreements describes nodes whose view of slot owners differs from the
// majority; empty when all agree.
func disagreements(o *Observed) string {
	return describeDisagreement(groupSlotViews(nodesOf(o, o.NodeIDs())))
}

// describeDisagreement lists the groups of nodes that see the same slot
// owners, when there are several; empty when all agree.
func describeDisagreement(groups []*slotView) string {
	if len(groups) <= 1 {
		return ""
	}
	var out []string
	for _, g := range groups {
		pods := make([]string, len(g.nodes))
		for i, n := range g.nodes {
			pods[i] = n.Pod.Name
		}
		out = append(out, "["+strings.Join(pods, " ")+"]")
	}
	sort.Strings(out)
	return fmt.Sprintf("%d different views of slot ownership: %s", len(groups), strings.Join(out, " "))
}

// nodesOf is the nodes of ids, in that order.
func nodesOf(o *Observed, ids []string) []*Node {
	out := make([]*Node, len(ids))
	for i, id := range ids {
		out[i] = o.Nodes[id]
	}
	return out
}
