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
//  2. which pods of each class are the masters (chooseMasters): those that keep
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

	// The group of each class, for conflictFree; nil when it cannot tell.
	group  []int
	groups int

	// Rule costs of the counts seen so far: walks cross the same ones often.
	memoRules map[string]cost
	key       []byte // rules' look-up key
	// spread's work space: masters per zone and per domain.
	zoneLoad, domainLoad []int
	// The last chooseMasters, and the key of its counts.
	lastChoice    *masterChoice
	lastChoiceKey string
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
	pr := &problem{pods: pods, zoneAware: zoneAware, masters: masters,
		memoRules: map[string]cost{}}
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
	pr.zoneLoad, pr.domainLoad = make([]int, len(pr.zones)), make([]int, len(pr.domains))
	pr.groupClasses()

	// Shards, by the name of their master, with the members among our pods.
	pr.shardOf = make([]int, len(pods))
	for i := range pr.shardOf {
		pr.shardOf[i] = -1
	}
	followers := map[string][]int{} // by master: its replicas among pods, by name
	for _, r := range namesOf(cur.ReplicaOf) {
		_, isMaster := cur.Masters[r]
		if i, ok := byName[r]; ok && !isMaster {
			followers[cur.ReplicaOf[r]] = append(followers[cur.ReplicaOf[r]], i)
		}
	}
	for _, m := range namesOf(cur.Masters) {
		s := shard{master: -1, slots: cur.Masters[m]}
		if i, ok := byName[m]; ok {
			s.master = i
			s.members = append(s.members, i)
		}
		s.members = append(s.members, followers[m]...)
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
// class while that lowers the cost.
func (pr *problem) chooseCounts() counts {
	start := pr.startCounts()
	return pr.descend(step{start, pr.rules(start), pr.chooseMasters(start).cost}).m
}

// step is a count vector and its cost.
type step struct {
	m                counts
	rules, stability cost
}

func (s step) total() cost { return s.rules.plus(s.stability) }

// descend moves one master at a time, the move that lowers the cost most,
// while there is one. Else it tries two moves at a time where the first
// keeps more data in place (or moves a master to or from pods not scheduled
// yet, which count for no spread, so the cost is not convex that way) and
// the second mends the rules the first broke. The first in a fixed order
// wins ties.
func (pr *problem) descend(at step) step {
	for {
		next, ok := pr.bestMove(at, at)
		if !ok {
			next, ok = pr.bestDetour(at)
		}
		if !ok {
			return at
		}
		at = next
	}
}

// bestMove is the cheapest count vector one move away from from.m, if it
// costs less than bar.
func (pr *problem) bestMove(from, bar step) (best step, found bool) {
	var moves [][]cost
	pr.neighbours(from.m, func(c counts, a, b int) {
		if bar.rules.less(pr.spread(c)) {
			return // worse even with no replica on its master's domain
		}
		rules := pr.rules(c)
		if bar.rules.less(rules) || found && best.rules.less(rules) {
			return
		}
		if moves == nil {
			moves = pr.chooseMasters(from.m).moves()
		}
		s := step{c, rules, from.stability.plus(moves[a][b])}
		if s.total().less(bar.total()) && (!found || s.total().less(best.total())) {
			s.m = slices.Clone(c)
			best, found = s, true
		}
	})
	return best, found
}

// bestDetour is the cheapest count vector two moves away from at.m, if it
// costs less, where the first move alone keeps more data in place or moves a
// master to or from pods not scheduled yet without breaking a rule.
func (pr *problem) bestDetour(at step) (best step, found bool) {
	moves := pr.chooseMasters(at.m).moves()
	pr.neighbours(at.m, func(c counts, a, b int) {
		keeps := moves[a][b].less(cost{})
		unscheduled := pr.classes[a].domain < 0 || pr.classes[b].domain < 0
		if !keeps && !unscheduled {
			return
		}
		mid := step{c, pr.rules(c), at.stability.plus(moves[a][b])}
		if !keeps && at.rules.less(mid.rules) {
			return
		}
		if s, ok := pr.bestMove(mid, at); ok && (!found || s.total().less(best.total())) {
			best, found = s, true
		}
	})
	return best, found
}

// neighbours calls fn with each count vector that moves one master of m
// from class a to another class b with room. The vector is one buffer,
// changed for the next call: fn clones what it keeps.
func (pr *problem) neighbours(m counts, fn func(c counts, a, b int)) {
	c := slices.Clone(m)
	for a := range m {
		if m[a] == 0 {
			continue
		}
		for b := range m {
			if b == a || m[b] == len(pr.classes[b].pods) {
				continue
			}
			c[a]--
			c[b]++
			fn(c, a, b)
			c[a]++
			c[b]--
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
	return pr.loadsInto(m, make([]int, len(pr.zones)), make([]int, len(pr.domains)))
}

// loadsInto is loads into zone and domain, which it clears first.
func (pr *problem) loadsInto(m counts, zone, domain []int) ([]int, []int) {
	clear(zone)
	clear(domain)
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
// share their master's domain or zone, then how unevenly masters spread.
func (pr *problem) rules(m counts) cost {
	pr.key = m.appendKey(pr.key[:0])
	if c, ok := pr.memoRules[string(pr.key)]; ok { // no string made to look up
		return c
	}
	c := pr.spread(m)
	if !pr.conflictFree(m) {
		c = c.plus(pr.clashes(m))
	}
	pr.memoRules[m.key()] = c
	return c
}

// key identifies counts in a map.
func (m counts) key() string { return string(m.appendKey(nil)) }

func (m counts) appendKey(b []byte) []byte {
	for _, k := range m {
		b = append(b, byte(k), byte(k>>8))
	}
	return b
}

// clashes is the fewest replicas that must share their master's domain, then
// zone: a flow from the classes' pods that are not masters to the classes'
// masters, each master taking its even share. Exact, since pods of a class
// are interchangeable.
func (pr *problem) clashes(m counts) cost {
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
	total[tierQuota] = 0 // every master gets its share: a pull, not a cost
	return total
}

// conflictFree tells, without a flow, whether counts let every replica run
// apart from its master, when a group (the zone when zone-aware, else the
// domain) is all a class clashes with. A replica set apart is then a matter
// of each group's supply and demand (Hall's condition, both ways): the
// masters of a group get at least their share from the pods outside it,
// and the pods of a group fit with the masters outside it.
func (pr *problem) conflictFree(m counts) bool {
	if pr.group == nil {
		return false
	}
	supply, masters := make([]int, pr.groups), make([]int, pr.groups)
	total := 0
	for c, k := range m {
		free := len(pr.classes[c].pods) - k
		total += free
		if g := pr.group[c]; g >= 0 {
			supply[g] += free
			masters[g] += k
		}
	}
	for g := range pr.groups {
		if pr.floor*masters[g] > total-supply[g] || supply[g] > pr.ceil*(pr.masters-masters[g]) {
			return false
		}
	}
	return true
}

// groupClasses sets the group of each class for conflictFree, when groups
// capture every clash: zone-aware with each known domain in one known zone,
// or not zone-aware.
func (pr *problem) groupClasses() {
	group := make([]int, len(pr.classes))
	zoneOfDomain := map[int]int{}
	for c, cl := range pr.classes {
		group[c] = cl.domain
		if !pr.zoneAware {
			continue
		}
		group[c] = cl.zone
		if cl.domain < 0 {
			continue
		}
		if z, ok := zoneOfDomain[cl.domain]; cl.zone < 0 || ok && z != cl.zone {
			return // a domain across zones, or without one: the flow decides
		}
		zoneOfDomain[cl.domain] = cl.zone
	}
	pr.group, pr.groups = group, len(pr.domains)
	if pr.zoneAware {
		pr.groups = len(pr.zones)
	}
}

// spread is the part of the rule cost that is about spreading masters: the
// least rule cost counts can have, found without a flow.
func (pr *problem) spread(m counts) cost {
	zoneLoad, domainLoad := pr.loadsInto(m, pr.zoneLoad, pr.domainLoad)
	var c cost
	c[tierZoneSpread] = unevenness(zoneLoad, pr.evenZones)
	c[tierDomainSpread] = unevenness(domainLoad, pr.evenDomains)
	return c
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

func less3(a, b [3]int) bool { return slices.Compare(a[:], b[:]) < 0 }

func namesOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
