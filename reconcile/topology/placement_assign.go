package topology

import "slices"

// masterChoice is the masters chosen for counts, with the flow that chose
// them, which also prices moving a master from one class to another.
type masterChoice struct {
	f         flowNet
	classNode []int
	cost      cost // the stability tiers
	links     []masterLink
	prices    [][]cost // moves, once asked
}

// masterLink is an edge that makes pod a master: inheriting shard's data,
// or with no shard (-1).
type masterLink struct{ edge, pod, shard int }

// chooseMasters chooses m[c] masters in each class c. As many current shards
// as possible keep their data on a master, most slots first: on their master
// if its class has room, else on one of their replicas (a failover), Ready
// ones first. The other places go to pods with no data to lose, Ready ones
// first. A flow: each shard sends one unit to the member that inherits it,
// each other master comes straight from the source, and every class takes
// exactly its count.
//
// The last choice is kept: a search asks for the same counts several times
// in a row (its start, its first move, its detour, then Place), and at 1000
// pods each flow costs a quarter of a second.
func (pr *problem) chooseMasters(m counts) *masterChoice {
	key := m.key()
	if pr.lastChoice != nil && pr.lastChoiceKey == key {
		return pr.lastChoice
	}
	mc := pr.flowMasters(m)
	pr.lastChoice, pr.lastChoiceKey = mc, key
	return mc
}

// flowMasters is chooseMasters by min-cost flow.
func (pr *problem) flowMasters(m counts) *masterChoice {
	mc := &masterChoice{classNode: make([]int, len(m))}
	f := &mc.f
	src, sink := f.node(), f.node()
	toSink := make([]int, len(m)) // by class
	for c := range m {
		mc.classNode[c] = f.node()
		toSink[c] = f.edge(mc.classNode[c], sink, m[c], costOf(tierQuota, -1))
	}
	podNode, toClass := make([]int, len(pr.pods)), make([]int, len(pr.pods))
	for p, pod := range pr.pods {
		podNode[p] = f.node()
		toClass[p] = f.edge(podNode[p], mc.classNode[pr.class[p]], 1, cost{})
		var c cost
		if !pod.Ready {
			c[tierNotReady] = 1
		}
		if pr.shardOf[p] >= 0 {
			c[tierResync] = 1 // a new master's data is thrown away
		}
		mc.links = append(mc.links, masterLink{f.edge(src, podNode[p], 1, c), p, -1})
	}
	// kept is, by shard, its edge from src and its link to its master.
	kept := make([][2]int, len(pr.shards))
	var lost cost // every shard's data moved: what keeping a shard saves from
	for s, sh := range pr.shards {
		keep := costOf(tierSlots, -int64(sh.slots)).plus(costOf(tierShards, -1))
		lost = lost.minus(keep)
		n := f.node()
		kept[s][0] = f.edge(src, n, 1, cost{})
		for _, p := range sh.members {
			c := keep
			if p != sh.master {
				c[tierFailover] = 1
				if !pr.pods[p].Ready {
					c[tierNotReady] = 1
				}
			}
			e := f.edge(n, podNode[p], 1, c)
			if p == sh.master {
				kept[s][1] = e
			}
			mc.links = append(mc.links, masterLink{e, p, s})
		}
	}
	var total cost
	if pr.keptFits(m) {
		// Every shard stays on its master and that fills every class: each
		// tier of the cost is at its least (all data kept, no failover, no
		// resync, none of the flow's other tiers), so this is the one
		// min-cost flow, and the one successive shortest paths would find.
		// Set it, edge by edge, as the flow would leave it.
		for s, sh := range pr.shards {
			for _, e := range []int{kept[s][0], kept[s][1], toClass[sh.master], toSink[pr.class[sh.master]]} {
				f.push(e, 1)
			}
		}
		total = f.total()
	} else {
		_, total = f.minCostFlow(src, sink)
	}
	total[tierQuota] = 0 // the pull that fills every class
	mc.cost = total.plus(lost)
	return mc
}

// keptFits tells whether every current shard can stay on its master with
// m: each master is among the pods, and each class has exactly as many
// masters as current masters.
func (pr *problem) keptFits(m counts) bool {
	have := make(counts, len(m))
	for _, sh := range pr.shards {
		if sh.master < 0 {
			return false
		}
		have[pr.class[sh.master]]++
	}
	return slices.Equal(have, m)
}

// masters are the chosen pods, by ordinal, and the shard each inherits (-1
// for none), by pod.
func (mc *masterChoice) masters(n int) (masters, inherits []int) {
	inherits = make([]int, n)
	chosen := make([]bool, n)
	for i := range inherits {
		inherits[i] = -1
	}
	for _, l := range mc.links {
		if mc.f.flow(l.edge) > 0 {
			chosen[l.pod] = true
			if l.shard >= 0 {
				inherits[l.pod] = l.shard
			}
		}
	}
	for p, ok := range chosen {
		if ok {
			masters = append(masters, p)
		}
	}
	return masters, inherits
}

// moves prices moving one master from class a to class b, for every a and b:
// the shortest path from a to b in the residual flow, which reroutes exactly
// one unit (sensitivity of a min-cost flow to a unit change of demand).
func (mc *masterChoice) moves() [][]cost {
	if mc.prices != nil {
		return mc.prices
	}
	out := make([][]cost, len(mc.classNode))
	for a, from := range mc.classNode {
		dist, _ := mc.f.shortest(from)
		out[a] = make([]cost, len(mc.classNode))
		for b, to := range mc.classNode {
			out[a][b] = dist[to]
		}
	}
	mc.prices = out
	return out
}

// assignReplicas gives every other pod a master: each master its even share,
// as few replicas as possible in their master's domain or zone, as few
// current replicas as possible moved to another shard, and the replicas of
// one master spread over zones and domains (the anti-affinity score of
// redis-cli --cluster create, made exact). The spreading costs rise with
// each replica a master already has in a zone or domain, which a flow
// handles as a chain of unit edges of rising cost.
func (pr *problem) assignReplicas(masters, inherits []int) map[int]int {
	if out, ok := pr.keptReplicas(masters, inherits); ok {
		return out
	}
	return pr.flowReplicas(masters, inherits)
}

// flowReplicas is assignReplicas by min-cost flow.
func (pr *problem) flowReplicas(masters, inherits []int) map[int]int {
	isMaster := make([]bool, len(pr.pods))
	for _, x := range masters {
		isMaster[x] = true
	}
	freeInClass := make([]int, len(pr.classes))
	freeInZone := map[int]int{}
	for p := range pr.pods {
		if !isMaster[p] {
			freeInClass[pr.class[p]]++
			freeInZone[pr.zone[p]]++
		}
	}
	chain := func(f *flowNet, from, to, n int, t tier, spread bool) {
		for k := range min(n, pr.ceil) {
			var c cost
			if spread {
				c[t] = int64(k)
			}
			f.edge(from, to, 1, c)
		}
	}

	var f flowNet
	src, sink := f.node(), f.node()
	into := make(map[[2]int]int) // (master, class) -> node
	for _, x := range masters {
		xn := f.node()
		f.edge(xn, sink, pr.floor, costOf(tierQuota, -1))
		f.edge(xn, sink, pr.ceil-pr.floor, cost{})
		zoneNode := map[int]int{}
		for c, cl := range pr.classes {
			if freeInClass[c] == 0 {
				continue
			}
			zn, ok := zoneNode[cl.zone]
			if !ok {
				zn = f.node()
				zoneNode[cl.zone] = zn
				chain(&f, zn, xn, freeInZone[cl.zone], tierReplicaZone, cl.zone >= 0)
			}
			cn := f.node()
			chain(&f, cn, zn, freeInClass[c], tierReplicaDomain, cl.domain >= 0)
			into[[2]int{x, c}] = cn
		}
	}
	type link struct{ edge, replica, master int }
	var links []link
	for p := range pr.pods {
		if isMaster[p] {
			continue
		}
		pn := f.node()
		f.edge(src, pn, 1, cost{})
		for _, x := range masters {
			c := pr.clash(pr.domain[p], pr.zone[p], pr.domain[x], pr.zone[x])
			if s := pr.shardOf[p]; s >= 0 && inherits[x] != s {
				c[tierResync] = 1
			}
			links = append(links, link{f.edge(pn, into[[2]int{x, pr.class[p]}], 1, c), p, x})
		}
	}
	f.minCostFlow(src, sink)
	out := map[int]int{}
	for _, l := range links {
		if f.flow(l.edge) > 0 {
			out[l.replica] = l.master
		}
	}
	return out
}

// keptReplicas is assignReplicas's answer, found without the flow, when
// every replica can stay with its shard's data at no cost: each pod that is
// not a master holds a current shard's data, a master inherits that shard,
// follows it from another domain and zone, no master has two replicas in one
// class or zone, and each master has floor to ceil replicas. That keeps
// every tier the flow prices at its least (the quota full, no clash, no
// spread, no resync), and any other assignment resyncs some replica, so the
// flow would return it too. It is the cluster at rest, planned every pass:
// the flow's pods × masters edges and one search per replica cost seconds
// at 1000 nodes.
func (pr *problem) keptReplicas(masters, inherits []int) (map[int]int, bool) {
	isMaster := make([]bool, len(pr.pods))
	heir := map[int]int{} // shard -> the master inheriting it
	for _, x := range masters {
		isMaster[x] = true
		if s := inherits[x]; s >= 0 {
			heir[s] = x
		}
	}
	out := map[int]int{}
	count := map[int]int{}
	inClass, inZone := map[[2]int]bool{}, map[[2]int]bool{}
	for p := range pr.pods {
		if isMaster[p] {
			continue
		}
		x, ok := heir[pr.shardOf[p]] // no shard (-1): no heir
		if !ok || pr.clash(pr.domain[p], pr.zone[p], pr.domain[x], pr.zone[x]) != (cost{}) {
			return nil, false
		}
		if d := pr.domain[p]; d >= 0 {
			if inClass[[2]int{x, pr.class[p]}] {
				return nil, false
			}
			inClass[[2]int{x, pr.class[p]}] = true
		}
		if z := pr.zone[p]; z >= 0 {
			if inZone[[2]int{x, z}] {
				return nil, false
			}
			inZone[[2]int{x, z}] = true
		}
		out[p] = x
		count[x]++
	}
	for _, x := range masters {
		if count[x] < pr.floor || count[x] > pr.ceil {
			return nil, false
		}
	}
	return out, true
}
