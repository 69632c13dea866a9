package topology

import (
	"fmt"
	"sort"
	"time"
)

// PlanRoll orders the restarts of the stale pods (pod name to why it must
// restart) of a cluster as observed: one pod at a time, the replicas first
// (and pods that answer nothing: they serve nothing), then each master,
// after a planned CLUSTER FAILOVER to an in-sync replica so that no write
// is refused for longer than the handover. A master with no in-sync
// replica restarts as it is: its slots are unavailable until it is back,
// and its step says so (Unavailable).
//
// The whole sequence is the plan a reviewer reads; the roll executes its
// first restart (with the failover before it), observes, and plans again.
func PlanRoll(o *Observed, stale map[string]string) []Action {
	names := make([]string, 0, len(stale))
	for n := range stale {
		names = append(names, n)
	}
	sort.Strings(names)
	var replicas, masters []string
	for _, name := range names {
		if n := nodeOf(o, name); n == nil || !n.IsMaster() || n.SlotCount() == 0 {
			replicas = append(replicas, name)
		} else {
			masters = append(masters, name)
		}
	}
	var out []Action
	for _, name := range replicas {
		out = append(out, Action{Kind: Restart, Pod: name, Node: o.ByPod[name], Reason: "rolling restart: " + stale[name]})
	}
	for _, name := range masters {
		m := nodeOf(o, name)
		rep := InSyncReplica(o, m)
		if rep == nil {
			out = append(out, Action{Kind: Restart, Pod: name, Node: m.ID, Unavailable: true,
				Reason: fmt.Sprintf("rolling restart: %s; no in-sync replica to take over, so its %d slots are unavailable until it is back", stale[name], m.SlotCount())})
			continue
		}
		out = append(out,
			Action{Kind: Failover, Pod: rep.Pod.Name, Node: rep.ID, Target: m.ID, TargetPod: name,
				Reason: "rolling restart: hand the shard to an in-sync replica before " + name + " restarts"},
			Action{Kind: Restart, Pod: name, Node: m.ID, Reason: "rolling restart: " + stale[name]})
	}
	return out
}

// NextRollStep is the first step of a roll: its first restart and the
// failover before it, if any.
func NextRollStep(roll []Action) []Action {
	for i, a := range roll {
		if a.Kind == Restart {
			return roll[:i+1]
		}
	}
	return roll
}

func nodeOf(o *Observed, pod string) *Node {
	if o == nil {
		return nil
	}
	return o.Nodes[o.ByPod[pod]]
}

// InSyncReplica is a replica of m whose link is up, the one a planned
// failover can promote without losing acknowledged writes (CLUSTER
// FAILOVER waits for its offset to catch up with the master's).
func InSyncReplica(o *Observed, m *Node) *Node {
	for _, id := range o.NodeIDs() {
		n := o.Nodes[id]
		if n.Self.Has("slave") && n.Self.MasterID == m.ID && n.MasterLinkUp {
			return n
		}
	}
	return nil
}

// Measured rates the estimates use; estimates, and stated as such.
const (
	// EstimatePodRestart is one pod deleted, started again, Ready, and the
	// cluster whole again: 8 to 12 s in the sandbox's end-to-end rolls
	// (make test, 2 cores), rounded up.
	EstimatePodRestart = 12 * time.Second
	// EstimateFailover is one planned CLUSTER FAILOVER until every node
	// agrees: 1 to 2 s in the same runs.
	EstimateFailover = 2 * time.Second
	// EstimateKeysPerSecond is the migration engine's rate on a 2-core
	// machine (make bench: 73,064 keys/s on 2026-12-05), halved for the
	// headroom a busy production cluster needs.
	EstimateKeysPerSecond = 35000
	// EstimatePerSlot is the fixed cost of one slot move (SETSLOT on both
	// sides, the nodes.conf fsync): about 11 ms a pipeline (make bench).
	EstimatePerSlot = 12 * time.Millisecond
)

// Estimate is the time and risk of a sequence of steps.
type Estimate struct {
	Duration  time.Duration `json:"duration"`
	Restarts  int           `json:"restarts"`
	Failovers int           `json:"failovers"`
	// Unavailable lists the steps during which some slots have no serving
	// master (a master restarting without an in-sync replica).
	Unavailable []string `json:"unavailable,omitempty"`
}

// EstimateOf adds up the measured rates over the steps; a move whose keys
// are unknown (an offline plan) counts its slots only.
func EstimateOf(steps []Action) Estimate {
	var e Estimate
	for _, a := range steps {
		switch a.Kind {
		case Restart:
			e.Restarts++
			e.Duration += EstimatePodRestart
		case Failover:
			e.Failovers++
			e.Duration += EstimateFailover
		case MoveSlots:
			e.Duration += time.Duration(a.SlotCount()) * EstimatePerSlot
			e.Duration += time.Duration(float64(a.Keys) / EstimateKeysPerSecond * float64(time.Second))
		}
		if a.Unavailable {
			e.Unavailable = append(e.Unavailable, a.Pod)
		}
	}
	return e
}
