package topology

// The placement is a few small assignment problems (which pods hold which
// shard's data, which replica follows which master); a min-cost flow solves
// each exactly. Costs are vectors compared tier by tier, so that no number of
// lesser costs ever outweighs one greater: no weights to tune.

// tier is one component of a placement cost, most important first.
type tier int

const (
	tierQuota         tier = iota // -1 per unit of a share every master must get
	tierDomain                    // a replica in its master's failure domain
	tierZone                      // a replica in its master's zone
	tierZoneSpread                // how unevenly masters spread over zones
	tierDomainSpread              // how unevenly masters spread over domains
	tierSlots                     // slots whose data must move to another master
	tierShards                    // current shards left with no master
	tierNotReady                  // new masters on pods that are not Ready
	tierResync                    // pods whose data is thrown away: a full resync
	tierFailover                  // replicas promoted in place of their master
	tierReplicaZone               // pairs of replicas of one master in one zone
	tierReplicaDomain             // pairs of replicas of one master in one domain
	numTiers
)

// cost is compared lexicographically, tier by tier.
type cost [numTiers]int64

func costOf(t tier, n int64) cost {
	var c cost
	c[t] = n
	return c
}

func (a cost) plus(b cost) cost {
	for i := range a {
		a[i] += b[i]
	}
	return a
}

func (a cost) minus(b cost) cost { return a.plus(b.times(-1)) }

func (a cost) times(n int64) cost {
	for i := range a {
		a[i] *= n
	}
	return a
}

func (a cost) less(b cost) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

type flowEdge struct {
	to, cap int
	cost    cost
}

// flowNet is a flow network; edge i and i^1 are an edge and its residual.
type flowNet struct {
	edges []flowEdge
	out   [][]int
	// shortest's work space.
	dist   []cost
	via    []int
	queued []bool
	queue  []int
}

func (f *flowNet) node() int {
	f.out = append(f.out, nil)
	return len(f.out) - 1
}

// edge adds an edge and returns its index, for flow.
func (f *flowNet) edge(from, to, capacity int, c cost) int {
	i := len(f.edges)
	f.edges = append(f.edges, flowEdge{to: to, cap: capacity, cost: c}, flowEdge{to: from, cost: c.times(-1)})
	f.out[from] = append(f.out[from], i)
	f.out[to] = append(f.out[to], i+1)
	return i
}

// push sends n more through edge i.
func (f *flowNet) push(i, n int) {
	f.edges[i].cap -= n
	f.edges[i^1].cap += n
}

// total is the cost of what runs through the edges.
func (f *flowNet) total() cost {
	var t cost
	for i := 0; i < len(f.edges); i += 2 {
		if k := f.flow(i); k > 0 {
			t = t.plus(f.edges[i].cost.times(int64(k)))
		}
	}
	return t
}

// flow is what runs through edge i.
func (f *flowNet) flow(i int) int { return f.edges[i^1].cap }

// minCostFlow sends as much as it can from s to t, at the least total cost:
// successive shortest paths. The networks here are acyclic with no negative
// cycle, which every augmentation along a shortest path preserves. The
// order of edges is fixed, so the result is too.
func (f *flowNet) minCostFlow(s, t int) (int, cost) {
	var total cost
	sent := 0
	for {
		dist, via := f.shortest(s)
		if via[t] < 0 {
			return sent, total
		}
		push := -1
		for v := t; v != s; v = f.edges[via[v]^1].to {
			if c := f.edges[via[v]].cap; push < 0 || c < push {
				push = c
			}
		}
		for v := t; v != s; v = f.edges[via[v]^1].to {
			f.edges[via[v]].cap -= push
			f.edges[via[v]^1].cap += push
		}
		sent += push
		total = total.plus(dist[t].times(int64(push)))
	}
}

// shortest finds the cheapest paths from s over edges with room left, with
// the edge each node is reached by (-1: unreached; s: its own). Costs may be
// negative, so Bellman-Ford in queue form. The slices are f's own, valid
// until the next call: a placement runs hundreds of these on one network.
func (f *flowNet) shortest(s int) (dist []cost, via []int) {
	n := len(f.out)
	if len(f.dist) != n {
		f.dist, f.via, f.queued = make([]cost, n), make([]int, n), make([]bool, n)
	}
	dist, via, queued := f.dist, f.via, f.queued
	clear(dist)
	clear(queued)
	for i := range via {
		via[i] = -1
	}
	via[s] = s
	queue := append(f.queue[:0], s)
	queued[s] = true
	for head := 0; head < len(queue); head++ {
		u := queue[head]
		queued[u] = false
		for _, i := range f.out[u] {
			e := &f.edges[i]
			if e.cap == 0 {
				continue
			}
			d := dist[u].plus(e.cost)
			if via[e.to] >= 0 && !d.less(dist[e.to]) {
				continue
			}
			dist[e.to], via[e.to] = d, i
			if !queued[e.to] {
				queued[e.to] = true
				queue = append(queue, e.to)
			}
		}
	}
	f.queue = queue
	return dist, via
}
