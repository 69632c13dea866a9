package topology

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Current is the cluster as it is, by pod name: the roles CLUSTER NODES
// reports.
type Current struct {
	// Masters maps each master's pod to the number of slots it holds: the
	// more slots, the more data a change of master would move.
	Masters map[string]int
	// ReplicaOf maps each replica's pod to its master's pod.
	ReplicaOf map[string]string
}

// Placement is the desired role of every pod.
type Placement struct {
	// Masters are the master pods, one per shard, in shard order (shard i is
	// Masters[i]), which is pod ordinal order.
	Masters []string `json:"masters" yaml:"masters"`
	// ReplicaOf maps each replica's pod to its master's pod.
	ReplicaOf map[string]string `json:"replicaOf" yaml:"replicaOf"`
	// Spare are the pods beyond masters × (1 + replicasPerMaster): the
	// highest ordinals, which a StatefulSet scale-in removes. They get no role.
	Spare []string `json:"spare,omitempty" yaml:"spare,omitempty"`
	// Degraded says, for people, where the placement falls short and why:
	// rules these pods do not allow meeting, replicas missing, a failure
	// domain whose loss leaves too few masters to fail over. Empty when
	// none applies.
	Degraded []string `json:"degraded,omitempty" yaml:"degraded,omitempty"`
}

// ErrTooFewPods means there are fewer pods than masters: no placement exists.
var ErrTooFewPods = errors.New("fewer pods than masters")

// Place gives every pod a role: masters × replicasPerMaster over pods, each
// replica on another failure domain (Pod.Domain, else Pod.Node; and Pod.Zone
// when zoneAware) than its master, masters spread evenly over zones, then
// domains. Where the pods allow no such placement it returns the best one
// and says why in Degraded. The pods beyond masters × (1 + replicasPerMaster)
// by ordinal are Spare; with fewer pods, each master gets an even share.
//
// It is stable: a current master stays a master and a current replica stays
// with its master's data unless a rule demands otherwise and the pods allow
// it, because each move costs a failover or a full resync. Each concern
// comes before the next: the rules; then slots that would have to move,
// shards that would lose their master, new masters on pods that are not
// Ready, replicas resynced, failovers; last, the replicas of one master
// spread over zones and domains. Pods that are not Ready still get a role.
// Same input, same output: nothing depends on the order of pods or of map
// iteration.
//
// The error is ErrTooFewPods when there are fewer pods than masters.
func Place(pods []Pod, masters, replicasPerMaster int, zoneAware bool, cur Current) (Placement, error) {
	if masters < 1 || replicasPerMaster < 0 {
		return Placement{}, fmt.Errorf("place %d masters with %d replicas each: need at least one master", masters, replicasPerMaster)
	}
	if len(pods) < masters {
		return Placement{}, fmt.Errorf("place %d masters on %d pods: %w", masters, len(pods), ErrTooFewPods)
	}
	sorted := slices.Clone(pods)
	slices.SortFunc(sorted, byOrdinal)
	seen := map[string]bool{}
	for _, p := range sorted {
		if seen[p.Name] {
			return Placement{}, fmt.Errorf("place pods: pod %s is listed twice", p.Name)
		}
		seen[p.Name] = true
	}
	want := masters * (1 + replicasPerMaster)
	placed := sorted[:min(want, len(sorted))]

	pr := newProblem(placed, masters, zoneAware, cur)
	chosen, inherits := pr.chooseMasters(pr.chooseCounts()).masters(len(placed))
	pl := Placement{ReplicaOf: map[string]string{}}
	for _, x := range chosen {
		pl.Masters = append(pl.Masters, placed[x].Name)
	}
	for r, x := range pr.assignReplicas(chosen, inherits) {
		pl.ReplicaOf[placed[r].Name] = placed[x].Name
	}
	for _, p := range sorted[len(placed):] {
		pl.Spare = append(pl.Spare, p.Name)
	}
	pl.Degraded = degraded(pl, placed, masters, replicasPerMaster, zoneAware, len(pods))
	return pl, nil
}

// byOrdinal orders pods as a StatefulSet numbers them.
func byOrdinal(a, b Pod) int {
	return cmp.Or(cmp.Compare(a.Ordinal, b.Ordinal), cmp.Compare(a.Name, b.Name))
}

// domainOf is the pod's failure domain: the value of the placement topology
// key on its node, else the node itself (two pods on one machine always fail
// together), "" while it is not scheduled.
func domainOf(p Pod) string {
	if p.Domain != "" {
		return p.Domain
	}
	return p.Node
}

func zoneOf(p Pod, zoneAware bool) string {
	if !zoneAware {
		return ""
	}
	return p.Zone
}

func podZone(p Pod) string { return p.Zone }

// Violations checks the placement against the rules, one line per breach:
// a master sharing its failure domain (or, when zoneAware, its zone) with
// one of its replicas; masters stacked, a domain (or zone) holding two more
// masters than another that has a pod to spare. An unknown domain or zone
// (a pod not scheduled yet) breaks no rule.
//
// Stacking is not "any two masters on one domain": with 3 masters on 2
// nodes, 2 on one node is the best spread there is, and Degraded says what
// that costs (losing the node leaves no majority of masters).
func (p Placement) Violations(pods []Pod, zoneAware bool) []string {
	var out []string
	for _, v := range p.violations(pods, zoneAware) {
		out = append(out, v.text)
	}
	return out
}

type violationKind int

const (
	sharedDomain violationKind = iota
	sharedZone
	stacked
)

type violation struct {
	kind violationKind
	text string
}

func (p Placement) violations(pods []Pod, zoneAware bool) []violation {
	byName := map[string]Pod{}
	for _, pod := range pods {
		byName[pod.Name] = pod
	}
	noun := domainNoun(pods)
	replicas := map[string][]Pod{}
	for _, r := range namesOf(p.ReplicaOf) {
		if pod, ok := byName[r]; ok {
			replicas[p.ReplicaOf[r]] = append(replicas[p.ReplicaOf[r]], pod)
		}
	}
	var out []violation
	var inPlacement []Pod
	isMaster := map[string]bool{}
	for _, m := range p.Masters {
		master, ok := byName[m]
		if !ok {
			continue
		}
		isMaster[m] = true
		inPlacement = append(inPlacement, master)
		rs := replicas[m]
		slices.SortFunc(rs, byOrdinal)
		for _, r := range rs {
			if d := domainOf(master); d != "" && d == domainOf(r) {
				out = append(out, violation{sharedDomain, fmt.Sprintf("master %s and its replica %s share %s %s", m, r.Name, noun, d)})
			}
			if z := zoneOf(master, zoneAware); z != "" && z == zoneOf(r, zoneAware) {
				out = append(out, violation{sharedZone, fmt.Sprintf("master %s and its replica %s share zone %s", m, r.Name, z)})
			}
		}
	}
	for _, r := range namesOf(p.ReplicaOf) {
		if pod, ok := byName[r]; ok && !isMaster[r] {
			inPlacement = append(inPlacement, pod)
		}
	}
	out = append(out, stacking(inPlacement, isMaster, noun, domainOf)...)
	if zoneAware {
		out = append(out, stacking(inPlacement, isMaster, "zone", podZone)...)
	}
	return out
}

// stacking finds each domain holding at least two masters more than another
// domain which has a pod that is not a master.
func stacking(pods []Pod, isMaster map[string]bool, noun string, key func(Pod) string) []violation {
	masters, size := map[string]int{}, map[string]int{}
	for _, p := range pods {
		if k := key(p); k != "" {
			size[k]++
			if isMaster[p.Name] {
				masters[k]++
			}
		}
	}
	var out []violation
	names := namesOf(size)
	for _, x := range names {
		low := ""
		for _, y := range names {
			if y != x && masters[y] < size[y] && (low == "" || masters[y] < masters[low]) {
				low = y
			}
		}
		if low != "" && masters[x]-masters[low] >= 2 {
			out = append(out, violation{stacked, fmt.Sprintf("masters stacked: %s %s holds %d while %s holds %d", noun, x, masters[x], low, masters[low])})
		}
	}
	return out
}

// domainNoun names failure domains the way people know them: as Kubernetes
// nodes when the topology key is the hostname.
func domainNoun(pods []Pod) string {
	for _, p := range pods {
		if p.Domain != "" && p.Domain != p.Node {
			return "failure domain"
		}
	}
	return "Kubernetes node"
}

// degraded explains where the placement falls short: replicas missing, the
// rules the pods do not allow meeting (a summary of the cause, then each
// breach), and domains whose loss would stop failover.
func degraded(pl Placement, placed []Pod, masters, perMaster int, zoneAware bool, total int) []string {
	var out []string
	if missing := masters*perMaster - len(pl.ReplicaOf); missing > 0 {
		out = append(out, fmt.Sprintf("%s of %d missing: %s for %d masters and %s each (%d needed)",
			plural(missing, "replica"), masters*perMaster, plural(total, "pod"), masters, plural(perMaster, "replica"), masters*(1+perMaster)))
	}
	noun := domainNoun(placed)
	vs := pl.violations(placed, zoneAware)
	need := func(kind violationKind, what, where, noun string, key func(Pod) string) {
		if !slices.ContainsFunc(vs, func(v violation) bool { return v.kind == kind }) {
			return
		}
		out = append(out, fmt.Sprintf("%d masters and %s each need 2 %ss per shard; pods run %s %s",
			masters, plural(perMaster, "replica"), what, where, spread(placed, noun, key)))
	}
	need(sharedDomain, "failure domain", "on", noun, domainOf)
	if zoneAware {
		need(sharedZone, "zone", "in", "zone", podZone)
	}
	for _, v := range vs {
		out = append(out, v.text)
	}
	if perMaster > 0 {
		out = append(out, quorum(pl, placed, noun, domainOf)...)
		if zoneAware {
			out = append(out, quorum(pl, placed, "zone", podZone)...)
		}
	}
	return out
}

// spread lists the domains pods run on: "1 Kubernetes node: node-a", or
// "2 Kubernetes nodes: node-a (4 pods), node-b (2 pods)".
func spread(pods []Pod, noun string, key func(Pod) string) string {
	n := map[string]int{}
	for _, p := range pods {
		if k := key(p); k != "" {
			n[k]++
		}
	}
	names := namesOf(n)
	if len(names) == 1 {
		return fmt.Sprintf("1 %s: %s", noun, names[0])
	}
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s (%s)", k, plural(n[k], "pod"))
	}
	return fmt.Sprintf("%d %ss: %s", len(names), noun, strings.Join(parts, ", "))
}

// quorum names each domain holding so many masters that losing it leaves
// no majority of masters: Redis Cluster promotes a replica only when a
// majority of all masters votes for it, so the shards there stay down.
func quorum(pl Placement, pods []Pod, noun string, key func(Pod) string) []string {
	byName := map[string]Pod{}
	known := map[string]bool{}
	for _, p := range pods {
		byName[p.Name] = p
		if k := key(p); k != "" {
			known[k] = true
		}
	}
	if len(known) < 2 {
		return nil // the summary already says everything runs in one place
	}
	held := map[string]int{}
	for _, m := range pl.Masters {
		if k := key(byName[m]); k != "" {
			held[k]++
		}
	}
	var out []string
	for _, k := range namesOf(held) {
		if n := held[k]; n >= 2 && 2*n >= len(pl.Masters) {
			out = append(out, fmt.Sprintf("%s %s holds %d of %d masters: losing it leaves no majority of masters to promote their replicas", noun, k, n, len(pl.Masters)))
		}
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
