package topology

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Blocked reasons that only mean "not yet": pods still starting.
const (
	blockedNoNode   = "no Redis node answers yet"
	blockedWaitPods = "bootstrap waits for all %d pods to answer (%d do)"
)

// IsWaiting tells a Blocked reason that only means the pods are still
// starting from one that needs a person.
func IsWaiting(blocked string) bool {
	return blocked == blockedNoNode || strings.HasPrefix(blocked, "bootstrap waits for all ")
}

// planBootstrap forms a new cluster, only when every pod answers and every
// node is empty: no slots, no keys, no peers (invariant 2).
func planBootstrap(d Desired, o *Observed, want int, p Plan) Plan {
	if len(o.Nodes) < want {
		p.Blocked = fmt.Sprintf(blockedWaitPods, want, len(o.Nodes))
		return p
	}
	pl, err := Place(o.Pods, d.Masters, d.ReplicasPerMaster, d.ZoneAware, Current{})
	if err != nil {
		p.Blocked = err.Error()
		return p
	}
	p.Placement, p.Bootstrap = pl, true
	for _, r := range pl.Degraded {
		p.Drift = append(p.Drift, Drift{Kind: DriftPlacement, Subject: "placement", Detail: r})
	}
	ids := o.NodeIDs()
	for i, id := range ids {
		n := o.Nodes[id]
		p.Actions = append(p.Actions, Action{Kind: SetConfigEpoch, Pod: n.Pod.Name, Node: id, Epoch: int64(i + 1),
			Reason: "distinct config epochs avoid a slow epoch-collision round on a new cluster"})
	}
	lower, restore := bootstrapSettings(d, o, pl)
	p.Actions = append(p.Actions, lower...)
	p.Actions = append(p.Actions, bootstrapMeets(d, o, ids, pl)...)
	slots := SplitSlots(d.Masters)
	for i, podName := range pl.Masters {
		id := o.ByPod[podName]
		p.Actions = append(p.Actions, Action{Kind: AddSlots, Pod: podName, Node: id, Slots: []SlotRange{slots[i]},
			Reason: fmt.Sprintf("bootstrap: shard %d of %d", i+1, d.Masters)})
	}
	p.Actions = append(p.Actions, replicateActions(o, pl, "bootstrap: replica placed on another failure domain than its master")...)
	p.Actions = append(p.Actions, restore...)
	return p
}

// bootstrapMeets joins the nodes into one cluster: the first master meets
// every other master, and each replica meets the master it will follow
// (a node placed in neither role meets the first master). Gossip does the
// rest, as after redis-cli's meet of every node with one, but a replica
// knows its master at once: its REPLICATE and first sync need not wait for
// word of the master to reach it. Measured on 90 nodes (a watcher polling
// every node, 2026-12-06, 2 cores): replicas linked after 6.8 s instead of
// 8.9, every node ok after 7.5 s instead of 8.7 to 8.9, the pass over
// after 8.9 s instead of 11.0 to 11.5, for the same 89 meets. A full mesh
// (4,005 meets) made it slower: 8,000 handshakes at once starved the 90
// nodes of the two cores.
func bootstrapMeets(d Desired, o *Observed, ids []string, pl Placement) []Action {
	anchor := o.Nodes[o.ByPod[pl.Masters[0]]]
	placed := map[string]bool{anchor.ID: true}
	var out []Action
	for _, pod := range pl.Masters[1:] {
		n := o.Nodes[o.ByPod[pod]]
		placed[n.ID] = true
		out = append(out, meet(d, anchor, n, "bootstrap: join the cluster"))
	}
	for _, pod := range slices.Sorted(maps.Keys(pl.ReplicaOf)) {
		n := o.Nodes[o.ByPod[pod]]
		placed[n.ID] = true
		out = append(out, meet(d, n, o.Nodes[o.ByPod[pl.ReplicaOf[pod]]], "bootstrap: join the cluster at the master it will follow"))
	}
	for _, id := range ids {
		if !placed[id] {
			out = append(out, meet(d, anchor, o.Nodes[id], "bootstrap: join the cluster"))
		}
	}
	return out
}

// The settings a bootstrap lowers, and the default of the sync delay when
// redis.conf does not set it (Redis's default since diskless sync exists).
const (
	DisklessSyncDelay        = "repl-diskless-sync-delay"
	DefaultDisklessSyncDelay = "5"
	NodeTimeout              = "cluster-node-timeout"
	// BootstrapNodeTimeout is the cluster-node-timeout (ms) of the masters
	// while a small cluster forms: short enough that the wait it sets is
	// short, long enough that a node slowed down for a moment is not failed.
	BootstrapNodeTimeout = 1000
	// BootstrapPingRate bounds the pings a second each node sends while a
	// cluster forms (bootstrapNodeTimeout).
	BootstrapPingRate = 50
)

// bootstrapNodeTimeout is the node timeout (ms) of a bootstrap of n nodes:
// BootstrapNodeTimeout, or longer so that no node sends more than
// BootstrapPingRate pings a second. Redis pings every peer it has not heard
// from within half the node timeout, so each node sends about (n-1) pings
// every timeout/2, and each carries a gossip section that grows with n:
// 1 s suits 6 or 25 nodes, but at 90 nodes it is 178 pings a second per
// node, 16,000 on the cluster. Measured on 90 nodes (BenchmarkLargeCluster
// and a watcher of every node, 2026-12-05, 2 cores): with 20 pings a
// second (8.9 s) the cluster served after 9.6 s but took 30 s to agree on
// every node's role; with 50 (3.6 s), 9 s and 11 s. 6 nodes: 1 s; 30:
// 1.2 s; 90: 3.6 s; from 377 nodes, the default 15 s itself.
func bootstrapNodeTimeout(n int) int {
	return max(BootstrapNodeTimeout, (n-1)*2000/BootstrapPingRate)
}

// SyncDelay is the repl-diskless-sync-delay the nodes run outside a
// bootstrap: the declared value, else Redis's default.
func (d Desired) SyncDelay() string {
	if d.DisklessSyncDelay == "" {
		return DefaultDisklessSyncDelay
	}
	return d.DisklessSyncDelay
}

// bootstrapSettings are the bootstrap's settings steps: lower sets two
// waits of Redis short before the meet, restore sets the declared values
// back once they are past. With no key anywhere (never on a bootstrap:
// invariant 2; checked here all the same) neither wait protects anything:
//
//   - repl-diskless-sync-delay N holds a replica's first sync back N
//     seconds for more replicas to share one transfer: 0 on each master
//     that will serve a replica while the empty replicas attach, back once
//     the master's replicas are linked;
//   - a master that saw no quorum of masters (a fresh node sees none) says
//     cluster_state:ok only cluster-node-timeout (0.5 to 5 s) after it
//     last saw none, for a configuration update to reach it: a new master
//     just took its slots, there is none to wait for, so
//     bootstrapNodeTimeout (1 s for a small cluster, longer for a large
//     one) until the cluster has settled, on every node. The node timeout
//     also sets how often a node pings every node it knows, each ping with
//     word of a few others, and a node learns another's role only from
//     that node's own messages: restored on the masters as soon as each
//     said ok, the last nodes learnt of each other from the one ping a
//     second left (measured on 6 nodes: 2.9 s to agree instead of 1.2 s;
//     on 30, replicas learning each other's roles took over 30 s).
//
// A setting already at or below its bootstrap value is left alone. A crash
// between the two steps leaves the bootstrap's value behind; the next
// pass's settings step compares the nodes with the declared values (or
// the default) and sets them back.
func bootstrapSettings(d Desired, o *Observed, pl Placement) (lower, restore []Action) {
	for _, n := range o.Nodes {
		if n.Keys > 0 {
			return nil, nil
		}
	}
	replicas := map[string]int{}
	for _, m := range pl.ReplicaOf {
		replicas[m]++
	}
	type temporary struct {
		key, value, declared string
		// settled: back once the cluster has settled, on every node;
		// else back once each master's replicas are linked, on the
		// masters that will serve one.
		settled   bool
		why, back string
	}
	var temps []temporary
	if want := d.SyncDelay(); want != "0" {
		temps = append(temps, temporary{DisklessSyncDelay, "0", want, false,
			"no node holds a key, so the first sync of its replicas has nothing to wait for",
			"back to the declared value (or Redis's default) once its replicas are linked"})
	}
	if ms, err := strconv.Atoi(d.NodeTimeout); err == nil && ms > bootstrapNodeTimeout(len(o.Nodes)) {
		temps = append(temps, temporary{NodeTimeout, strconv.Itoa(bootstrapNodeTimeout(len(o.Nodes))), d.NodeTimeout, true,
			"a new master says cluster_state:ok only cluster-node-timeout after it first knew a quorum of masters (Redis's rejoin delay), and no configuration update can be on its way to a new cluster",
			"back to spec.redis.nodeTimeout once the cluster has settled: until every node knows every other and its role, their pings (every half timeout, each with word of other nodes) spread it"})
	}
	var withReplicas, every []string
	for _, m := range pl.Masters {
		if replicas[m] > 0 {
			withReplicas = append(withReplicas, m)
		}
	}
	every = append(every, pl.Masters...)
	every = append(every, slices.Sorted(maps.Keys(pl.ReplicaOf))...)
	for _, t := range temps {
		pods := withReplicas
		if t.settled {
			pods = every
		}
		for _, pod := range pods {
			id := o.ByPod[pod]
			if id == "" {
				continue
			}
			lower = append(lower, Action{Kind: SetConfig, Pod: pod, Node: id, Setting: t.key, Value: t.value,
				Reason: "bootstrap: " + t.why})
			after := replicas[pod]
			if t.settled {
				after = 0 // settled: every replica linked, and more
			}
			restore = append(restore, Action{Kind: SetConfig, Pod: pod, Node: id, Setting: t.key, Value: t.declared,
				AfterReplicas: after, AfterSettled: t.settled, Reason: "bootstrap: " + t.back})
		}
	}
	return lower, restore
}

// resumeBootstrap gives the slots to the desired masters of a cluster
// whose bootstrap stopped after the meet (no node holds a slot or a key),
// the way planBootstrap would have.
func resumeBootstrap(f *facts) []Action {
	var out []Action
	slots := SplitSlots(f.d.Masters)
	for i, podName := range f.pl.Masters {
		out = append(out, Action{Kind: AddSlots, Pod: podName, Node: f.o.ByPod[podName], Slots: []SlotRange{slots[i]},
			Reason: "resume an interrupted bootstrap: no node holds a slot or a key"})
	}
	return out
}

// replicateActions makes every desired replica follow its desired master,
// where that is safe: the replica is empty, or already a replica.
func replicateActions(o *Observed, pl Placement, reason string) []Action {
	var out []Action
	replicas := make([]string, 0, len(pl.ReplicaOf))
	for r := range pl.ReplicaOf {
		replicas = append(replicas, r)
	}
	sort.Strings(replicas)
	for _, r := range replicas {
		m := pl.ReplicaOf[r]
		rid, mid := o.ByPod[r], o.ByPod[m]
		if rid == "" || mid == "" {
			continue
		}
		out = append(out, Action{Kind: Replicate, Pod: r, Node: rid, Target: mid, TargetPod: m, Reason: reason})
	}
	return out
}
