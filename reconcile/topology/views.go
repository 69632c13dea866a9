package topology

import (
	"hash/maphash"
	"slices"
)

// slotView is a group of nodes whose views claim the same slots: the same
// nodes own the same ranges, whatever order the lines come in. Views
// mostly agree, so what depends only on the claims (Owners,
// disagreements) is worked out once per group, not once per node: at 1000
// nodes that is one view of 1000 lines instead of a million lines.
type slotView struct {
	nodes  []*Node // in the order given
	view   []ClusterNode
	claims []int // the lines of view that claim slots
	hash   uint64
	// byID maps each claiming node to its lines, once a view in another
	// order is compared; used marks the lines one comparison matched.
	byID map[string][]int
	used []int
	gen  int
}

var claimSeed = maphash.MakeSeed()

// groupSlotViews groups nodes by the slots their views claim.
func groupSlotViews(nodes []*Node) []*slotView {
	var groups []*slotView
	byHash := map[uint64][]*slotView{}
	var claims []int
	for _, n := range nodes {
		claims = claims[:0]
		var h uint64
		for i, v := range n.View {
			if len(v.Slots) > 0 {
				claims = append(claims, i)
				h += claimHash(v) // a sum: the order of the lines does not matter
			}
		}
		var g *slotView
		for _, c := range byHash[h] {
			if c.same(n.View, claims) {
				g = c
				break
			}
		}
		if g == nil {
			g = &slotView{view: n.View, claims: slices.Clone(claims), hash: h}
			groups = append(groups, g)
			byHash[h] = append(byHash[h], g)
		}
		g.nodes = append(g.nodes, n)
	}
	return groups
}

// claimHash hashes a line's node ID and slots.
func claimHash(v ClusterNode) uint64 {
	h := maphash.String(claimSeed, v.ID)
	for _, r := range v.Slots {
		h = (h ^ uint64(uint32(r.Start))<<32 ^ uint64(uint32(r.End))) * 0x9e3779b97f4a7c15
		h ^= h >> 29
	}
	return h
}

// same tells whether the lines claims of view claim what g's view does:
// the same multiset of node IDs with their slots.
func (g *slotView) same(view []ClusterNode, claims []int) bool {
	if len(claims) != len(g.claims) {
		return false
	}
	inOrder := true
	for k, i := range claims {
		a, b := g.view[g.claims[k]], view[i]
		if a.ID != b.ID || !slices.Equal(a.Slots, b.Slots) {
			inOrder = false
			break
		}
	}
	if inOrder {
		return true
	}
	if g.byID == nil {
		g.byID = make(map[string][]int, len(g.claims))
		for k, i := range g.claims {
			g.byID[g.view[i].ID] = append(g.byID[g.view[i].ID], k)
		}
		g.used = make([]int, len(g.claims))
	}
	g.gen++
	for _, i := range claims {
		b, found := view[i], false
		for _, k := range g.byID[b.ID] {
			if g.used[k] != g.gen && slices.Equal(g.view[g.claims[k]].Slots, b.Slots) {
				g.used[k], found = g.gen, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// ownersOf is Owners from the groups: each group's claims count once per
// node in it.
func ownersOf(groups []*slotView) [SlotCount]string {
	type vote struct {
		id    string
		delta int
	}
	var at [SlotCount + 1][]vote // votes that start (+) or end (-) at each slot
	for _, g := range groups {
		w := len(g.nodes)
		for _, i := range g.claims {
			peer := g.view[i]
			for _, r := range peer.Slots {
				at[r.Start] = append(at[r.Start], vote{peer.ID, w})
				at[r.End+1] = append(at[r.End+1], vote{peer.ID, -w})
			}
		}
	}
	var owners [SlotCount]string
	count := map[string]int{}
	best := ""
	for s := range SlotCount {
		if len(at[s]) > 0 {
			for _, v := range at[s] {
				if count[v.id] += v.delta; count[v.id] == 0 {
					delete(count, v.id)
				}
			}
			best = ""
			for id, c := range count {
				if bc := count[best]; best == "" || c > bc || c == bc && id < best {
					best = id
				}
			}
		}
		owners[s] = best
	}
	return owners
}
