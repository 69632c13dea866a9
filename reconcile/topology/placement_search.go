package topology

import (
	"cmp"
	"slices"
)

// problem is one placement, in three steps, each exact for what it decides:
//
//  1. how many masters each class of pods gets (chooseCounts): pods of one
//     class (same failure domain, same zone) are interchangeable for the
//     rules, so the rules are a property of the counts alone;
//  2. which pods of each class are the masters (pickMasters): those that keep
//     a current shard's data in place;
//  3. which master each other pod follows (assignReplicas).
type problem struct {
	pods      []Pod // the pods that get a role, by ordinal
	zoneAware bool
	masters   int
	// Every master gets floor or ceil replicas: all of replicasPerMaster when
	// there are pods enough, else the pods there are, evenly.
	floor, ceil int

	domains, zones []string // known names; a pod's index is -1 when unknown
	domain, zone   []int    // per pod
	class          []int    // per pod
	classes        []podClass

	shards  []shard
	shardOf []int // per pod: the current shard whose data it holds, or -1

	// The least Σ masters² per zone and per domain, by number of masters.
	evenZones, evenDomains []int64
}

// podClass is the pods of one failure domain and zone.
type podClass struct {
	domain, zone int
	pods         []int // by ordinal
}

// shard is a current master and the replicas following it, as far as they
// are among the pods that get a role.
type shard struct {
	master  int // its master's pod, or -1 when that pod gets no role
	slots   int
	members []int
}

func newProblem(pods []Pod, masters int, zoneAware bool, cur Current) *problem {
	pr := &problem{pods: pods, zoneAware: zoneAware, masters: masters}
	replicas := len(pods) - masters
	pr.floor, pr.ceil = replicas/masters, (replicas+masters-1)/masters

	byName := map[string]int{}
	domainIdx, zoneIdx := map[string]int{}, map[string]int{}
	classIdx := map[[2]int]int{}
	index := func(names *[]string, idx map[string]int, name string) int {
		if name == "" {
			return -1
		}
		i, ok := idx[name]
		if !ok {
			i = len(*names)
			idx[name] = i
			*names = append(*names, name)
		}
		return i
	}
	for i, p := range pods {
		byName[p.Name] = i
		d := index(&pr.domains, domainIdx, domainOf(p))
		z := index(&pr.zones, zoneIdx, zoneOf(p, zoneAware))
		c, ok := classIdx[[2]int{d, z}]
		if !ok {
			c = len(pr.classes)
			classIdx[[2]int{d, z}] = c
			pr.classes = append(pr.classes, podClass{domain: d, zone: z})
		}
		pr.domain, pr.zone, pr.class = append(pr.domain, d), append(pr.zone, z), append(pr.class, c)
		pr.classes[c].pods = append(pr.classes[c].pods, i)
	}

	zoneSize, domainSize := make([]int, len(pr.zones)), make([]int, len(pr.domains))
	for p := range pods {
		if z := pr.zone[p]; z >= 0 {
			zoneSize[z]++
		}
		if d := pr.domain[p]; d >= 0 {
			domainSize[d]++
		}
	}
	pr.evenZones, pr.evenDomains = evenSpread(zoneSize, masters), evenSpread(domainSize, masters)

	// Shards, by the name of their master, with the members among our pods.
	pr.shardOf = make([]int, len(pods))
	for i := range pr.shardOf {
		pr.shardOf[i] = -1
	}
	for _, m := range namesOf(cur.Masters) {
		s := shard{master: -1, slots: cur.Masters[m]}
		if i, ok := byName[m]; ok {
			s.master = i
			s.members = append(s.members, i)
		}
		for _, r := range namesOf(cur.ReplicaOf) {
			_, isMaster := cur.Masters[r]
			if i, ok := byName[r]; ok && cur.ReplicaOf[r] == m && !isMaster {
				s.members = append(s.members, i)
			}
		}
		if len(s.members) == 0 {
			continue
		}
		for _, i := range s.members {
			pr.shardOf[i] = len(pr.shards)
		}
		pr.shards = append(pr.shards, s)
	}
	return pr
}

// counts is the number of masters in each class.
type counts []int

// chooseCounts starts from the current masters (most slots first), adds any
// missing ones where masters are fewest, then moves masters from class to
// class while that lowers the cost. Two walks from there: one takes the
// move that lowers the cost most, the other the move that lowers it while
// keeping the most data in place; the better end wins. (Walking greedily on
// the rules alone can end where a shard's data must move although another
// way to the same rules keeps it.)
func (pr *problem) chooseCounts() counts {
	start := pr.evaluate(pr.startCounts())
	steep, gentle := pr.descend(start, false), pr.descend(start, true)
	if gentle.total().less(steep.total()) {
		return gentle.m
	}
	return steep.m
}

// step is a count vector and its cost.
type step struct {
	m                counts
	rules, stability cost
}

func (s step) total() cost { return s.rules.plus(s.stability) }

func (pr *problem) evaluate(m counts) step {
	return step{m, pr.rules(m), pr.stability(m)}
}

// preferred: the lower cost, or when gentle the lower cost in changes.
func (s step) preferred(than step, gentle bool) bool {
	if gentle && s.stability != than.stability {
		return s.stability.less(than.stability)
	}
	return s.total().less(than.total())
}

// descend moves one master at a time while that lowers the cost, else two
// at a time where the first move keeps more data in place and the second
// mends the rules the first broke. The first in a fixed order wins ties.
func (pr *problem) descend(at step, gentle bool) step {
	for {
		next, ok := pr.bestMove(at, at, gentle)
		if !ok {
			next, ok = pr.bestDetour(at, gentle)
		}
		if !ok {
			return at
		}
		at = next
	}
}

// bestMove is the preferred count vector one move away from from.m that
// costs less than bar.
func (pr *problem) bestMove(from, bar step, gentle bool) (best step, found bool) {
	pr.neighbours(from.m, func(c counts, _, _ int) {
		rules := pr.rules(c)
		if bar.rules.less(rules) {
			return
		}
		s := step{c, rules, pr.stability(c)}
		if s.total().less(bar.total()) && (!found || s.preferred(best, gentle)) {
			best, found = s, true
		}
	})
	return best, found
}

// bestDetour is the preferred count vector two moves away from at.m that
// costs less, where the first move alone costs less in changes, or moves a
// master to or from pods not scheduled yet without breaking a rule (masters
// there count for no spread, so the cost is not convex in that direction).
func (pr *problem) bestDetour(at step, gentle bool) (best step, found bool) {
	pr.neighbours(at.m, func(c counts, a, b int) {
		mid := step{c, pr.rules(c), pr.stability(c)}
		unscheduled := pr.classes[a].domain < 0 || pr.classes[b].domain < 0
		if !mid.stability.less(at.stability) && !(unscheduled && !at.rules.less(mid.rules)) {
			return
		}
		if s, ok := pr.bestMove(mid, at, gentle); ok && (!found || s.preferred(best, gentle)) {
			best, found = s, true
		}
	})
	return best, found
}

// neighbours calls fn with each count vector that moves one master of m
// from class a to another class b with room.
func (pr *problem) neighbours(m counts, fn func(c counts, a, b int)) {
	for a := range m {
		if m[a] == 0 {
			continue
		}
		for b := range m {
			if b == a || m[b] == len(pr.classes[b].pods) {
				continue
			}
			c := slices.Clone(m)
			c[a]--
			c[b]++
			fn(c, a, b)
		}
	}
}

func (pr *problem) startCounts() counts {
	m := make(counts, len(pr.classes))
	var kept []shard
	for _, s := range pr.shards {
		if s.master >= 0 {
			kept = append(kept, s)
		}
	}
	slices.SortStableFunc(kept, func(a, b shard) int { return cmp.Or(cmp.Compare(b.slots, a.slots), cmp.Compare(a.master, b.master)) })
	n := 0
	for _, s := range kept[:min(len(kept), pr.masters)] {
		m[pr.class[s.master]]++
		n++
	}
	for ; n < pr.masters; n++ {
		zoneLoad, domainLoad := pr.loads(m)
		best := -1
		key := func(c int) [3]int {
			k := [3]int{len(pr.pods), len(pr.pods), 0}
			if z := pr.classes[c].zone; z >= 0 {
				k[0] = zoneLoad[z]
			}
			if d := pr.classes[c].domain; d >= 0 {
				k[1] = domainLoad[d]
			}
			if !pr.pods[pr.classes[c].pods[m[c]]].Ready {
				k[2] = 1
			}
			return k
		}
		for c := range m {
			if m[c] < len(pr.classes[c].pods) && (best < 0 || less3(key(c), key(best))) {
				best = c
			}
		}
		m[best]++
	}
	return m
}

// loads are the masters per known zone and per known failure domain.
func (pr *problem) loads(m counts) (zone, domain []int) {
	zone, domain = make([]int, len(pr.zones)), make([]int, len(pr.domains))
	for c, k := range m {
		if z := pr.classes[c].zone; z >= 0 {
			zone[z] += k
		}
		if d := pr.classes[c].domain; d >= 0 {
			domain[d] += k
		}
	}
	return zone, domain
}

// rules is the cost of counts under the rules: the fewest replicas that must
// share their master's domain or zone (a flow between classes, which is exact
// since pods of a class are interchangeable), then how unevenly masters spread.
func (pr *problem) rules(m counts) cost {
	var f flowNet
	src, sink := f.node(), f.node()
	supply, demand := make([]int, len(m)), make([]int, len(m))
	for c := range m {
		supply[c], demand[c] = f.node(), f.node()
		if free := len(pr.classes[c].pods) - m[c]; free > 0 {
			f.edge(src, supply[c], free, cost{})
		}
		if m[c] > 0 {
			f.edge(demand[c], sink, pr.floor*m[c], costOf(tierQuota, -1))
			f.edge(demand[c], sink, (pr.ceil-pr.floor)*m[c], cost{})
		}
	}
	for a := range m {
		for b := range m {
			if len(pr.classes[a].pods) > m[a] && m[b] > 0 {
				f.edge(supply[a], demand[b], len(pr.pods), pr.clash(pr.classes[a].domain, pr.classes[a].zone, pr.classes[b].domain, pr.classes[b].zone))
			}
		}
	}
	_, total := f.minCostFlow(src, sink)
	zoneLoad, domainLoad := pr.loads(m)
	total[tierZoneSpread] = unevenness(zoneLoad, pr.evenZones)
	total[tierDomainSpread] = unevenness(domainLoad, pr.evenDomains)
	return total
}

// unevenness is how far masters are from spreading evenly: Σ masters² over
// the places, less the least that sum can be for as many masters. It is 0
// exactly when no place holds two masters more than one with a pod to spare
// (what Violations calls stacked). Masters on pods not scheduled yet count
// nowhere, so they neither help nor hurt.
func unevenness(load []int, even []int64) int64 {
	var sum int64
	n := 0
	for _, k := range load {
		sum += int64(k * k)
		n += k
	}
	return sum - even[n]
}

// evenSpread is, for each number of masters up to upTo, the least Σ masters²
// over places of the given sizes: fill the emptiest place with room, one
// master at a time.
func evenSpread(size []int, upTo int) []int64 {
	load := make([]int, len(size))
	out := []int64{0}
	var sum int64
	for range upTo {
		best := -1
		for i := range load {
			if load[i] < size[i] && (best < 0 || load[i] < load[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		sum += int64(2*load[best] + 1)
		load[best]++
		out = append(out, sum)
	}
	return out
}

// clash is the rule cost of a replica in (d1, z1) following a master in (d2, z2).
func (pr *problem) clash(d1, z1, d2, z2 int) cost {
	var c cost
	if d1 >= 0 && d1 == d2 {
		c[tierDomain] = 1
	}
	if z1 >= 0 && z1 == z2 {
		c[tierZone] = 1
	}
	return c
}

func (pr *problem) stability(m counts) cost {
	_, _, c := pr.pickMasters(m)
	return c
}

// pickMasters chooses m[c] masters in each class c. First, as many current
// shards as possible keep their data on a master, most slots first: on their
// master if it is in a class that has room, else on one of their replicas (a
// failover), Ready ones first. The other places go to pods with no data a
// kept shard needs, Ready ones first, then by ordinal.
func (pr *problem) pickMasters(m counts) (masters, inherits []int, total cost) {
	var f flowNet
	src, sink := f.node(), f.node()
	classNode := make([]int, len(m))
	for c := range m {
		classNode[c] = f.node()
		f.edge(classNode[c], sink, m[c], cost{})
	}
	type candidate struct{ edge, pod, shard int }
	var cands []candidate
	for s, sh := range pr.shards {
		n := f.node()
		f.edge(src, n, 1, cost{})
		f.edge(n, sink, 1, costOf(tierSlots, int64(sh.slots)).plus(costOf(tierShards, 1)))
		for _, p := range sh.members {
			if m[pr.class[p]] == 0 {
				continue
			}
			var c cost
			if p != sh.master {
				c[tierFailover] = 1
				if !pr.pods[p].Ready {
					c[tierNotReady] = 1
				}
			}
			cands = append(cands, candidate{f.edge(n, classNode[pr.class[p]], 1, c), p, s})
		}
	}
	_, total = f.minCostFlow(src, sink)

	inherits = make([]int, len(pr.pods))
	for i := range inherits {
		inherits[i] = -1
	}
	kept := make([]bool, len(pr.shards))
	used := make([]int, len(m))
	for _, c := range cands {
		if f.flow(c.edge) > 0 {
			inherits[c.pod], kept[c.shard] = c.shard, true
			used[pr.class[c.pod]]++
		}
	}
	for c, cl := range pr.classes {
		var rest []int
		for _, p := range cl.pods {
			if inherits[p] < 0 {
				rest = append(rest, p)
			}
		}
		penalty := func(p int) cost {
			var c cost
			if !pr.pods[p].Ready {
				c[tierNotReady] = 1
			}
			if s := pr.shardOf[p]; s >= 0 && kept[s] {
				c[tierResync] = 1
			}
			return c
		}
		slices.SortStableFunc(rest, func(a, b int) int {
			if pa, pb := penalty(a), penalty(b); pa != pb {
				if pa.less(pb) {
					return -1
				}
				return 1
			}
			return cmp.Compare(a, b)
		})
		for _, p := range rest[:m[c]-used[c]] {
			total = total.plus(penalty(p))
			inherits[p] = -2 // a master with no current shard
		}
	}
	for p, s := range inherits {
		switch {
		case s == -2:
			masters = append(masters, p)
			inherits[p] = -1
		case s >= 0:
			masters = append(masters, p)
		}
	}
	return masters, inherits, total
}

// assignReplicas gives every other pod a master: each master its even share,
// as few replicas as possible in their master's domain or zone, as few
// current replicas as possible moved to another shard, and the replicas of
// one master spread over zones and domains (the anti-affinity score of
// redis-cli --cluster create, made exact). The spreading costs rise with
// each replica a master already has in a zone or domain, which a flow
// handles as a chain of unit edges of rising cost.
func (pr *problem) assignReplicas(masters, inherits []int) map[int]int {
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

func less3(a, b [3]int) bool { return slices.Compare(a[:], b[:]) < 0 }

func namesOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
