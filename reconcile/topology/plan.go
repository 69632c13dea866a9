package topology

import (
	"fmt"
	"sort"
	"strings"
)

// ActionKind is what one step does to Redis.
type ActionKind string

// Action kinds, in the order a plan runs them.
const (
	SetConfigEpoch ActionKind = "set-config-epoch" // bootstrap: distinct epochs on fresh nodes
	Meet           ActionKind = "meet"             // introduce a node (new, or its IP changed) by address
	AddSlots       ActionKind = "add-slots"        // give slots to a master (bootstrap only: no data anywhere)
	FixOpenSlot    ActionKind = "fix-open-slot"    // finish a MIGRATING/IMPORTING slot the way the migration would have
	MoveSlots      ActionKind = "move-slots"       // migrate slots, with their keys, to another master (rebalance, scale-in)
	Failover       ActionKind = "failover"         // planned CLUSTER FAILOVER on an in-sync replica
	Replicate      ActionKind = "replicate"        // make a node a replica of a master
	Forget         ActionKind = "forget"           // drop a node gone for good from every remaining node
	Release        ActionKind = "release"          // adopt: CLUSTER RESET SOFT an old node that holds nothing, then forget it everywhere
	Restart        ActionKind = "restart-pod"      // rolling restart: delete the pod, the StatefulSet starts it anew
	// SetConfig sets one setting at runtime (CONFIG SET) for a while: a
	// bootstrap of empty nodes shortens two waits of Redis on the masters,
	// then puts the declared values back (plan_bootstrap.go).
	SetConfig ActionKind = "set-config"
)

// Concurrent tells whether the steps of a kind may run at once when the
// plan lists several in a row: each runs on its own node and none needs
// another's effect (a meet of one node does not wait for another's, a
// replica attaches whatever the others do). Failovers, forgets, slot
// fixes and restarts run one at a time; slot moves have their own
// engine.
func (k ActionKind) Concurrent() bool {
	switch k {
	case SetConfigEpoch, SetConfig, Meet, AddSlots, Replicate:
		return true
	}
	return false
}

// Action is one typed step with its reason. The same list drives the
// executor, the status report and the pull-request plan.
type Action struct {
	Kind ActionKind `json:"kind" yaml:"kind"`
	// Pod and Node are where the command runs (for forget: every node).
	Pod  string `json:"pod,omitempty" yaml:"pod,omitempty"`
	Node string `json:"node,omitempty" yaml:"node,omitempty"`
	// Target is the other node: the master to replicate, the node to forget,
	// the node a meet introduces, the importing side of an open slot.
	Target    string      `json:"target,omitempty" yaml:"target,omitempty"`
	TargetPod string      `json:"targetPod,omitempty" yaml:"targetPod,omitempty"`
	Addr      string      `json:"addr,omitempty" yaml:"addr,omitempty"` // meet: ip:port@busport
	Slots     []SlotRange `json:"slots,omitempty" yaml:"slots,omitempty"`
	Slot      int         `json:"slot,omitempty" yaml:"slot,omitempty"`
	Epoch     int64       `json:"epoch,omitempty" yaml:"epoch,omitempty"`
	// Setting and Value: set-config's directive and the value it sets.
	Setting string `json:"setting,omitempty" yaml:"setting,omitempty"`
	Value   string `json:"value,omitempty" yaml:"value,omitempty"`
	// AfterReplicas: set-config waits (a bounded while) until the node
	// serves this many replicas that finished their first sync, so that a
	// restored delay holds back no sync of the bootstrap.
	AfterReplicas int `json:"afterReplicas,omitempty" yaml:"afterReplicas,omitempty"`
	// AfterSettled: set-config waits (the same way) until the cluster has
	// settled as a pass's end waits for it: every node says
	// cluster_state:ok, every replica is linked, and every node knows every
	// other at its address. The steps of one run that ask wait once.
	AfterSettled bool `json:"afterSettled,omitempty" yaml:"afterSettled,omitempty"`
	// Keys estimates the keys a move-slots carries (the source's keys, pro
	// rata of its slots).
	Keys int64 `json:"keys,omitempty" yaml:"keys,omitempty"`
	// Bytes estimates the memory it carries, the same way from used_memory.
	Bytes int64 `json:"bytes,omitempty" yaml:"bytes,omitempty"`
	// Destructive steps (forget) are listed in the plan and the report first
	// and run only when policy allows (invariant 3).
	Destructive bool `json:"destructive,omitempty" yaml:"destructive,omitempty"`
	// Unavailable: some slots have no serving master while this step runs
	// (a master restarting with no in-sync replica to take over).
	Unavailable bool `json:"unavailable,omitempty" yaml:"unavailable,omitempty"`
	// Blocked says why a destructive step does not run: the spec's policy
	// does not allow it, and what a person can do. A blocked step stays in
	// the plan and the report; the executor skips it.
	Blocked string `json:"blocked,omitempty" yaml:"blocked,omitempty"`
	Reason  string `json:"reason" yaml:"reason"`
}

// String reads like a line of a plan: "replicate cache-3 -> cache-0 (reason)".
func (a Action) String() string {
	var b strings.Builder
	b.WriteString(string(a.Kind))
	if a.Pod != "" {
		b.WriteString(" " + a.Pod)
	}
	switch a.Kind {
	case SetConfigEpoch:
		fmt.Fprintf(&b, " epoch=%d", a.Epoch)
	case Meet:
		fmt.Fprintf(&b, " %s (%s)", a.TargetPod, a.Addr)
	case AddSlots:
		b.WriteString(" " + formatRanges(a.Slots))
	case Replicate:
		fmt.Fprintf(&b, " -> %s", a.TargetPod)
	case Forget, Release:
		fmt.Fprintf(&b, " %s", short(a.Target))
	case SetConfig:
		fmt.Fprintf(&b, " %s %s", a.Setting, a.Value)
		switch {
		case a.AfterSettled:
			b.WriteString(" once the cluster has settled")
		case a.AfterReplicas > 0:
			fmt.Fprintf(&b, " once %s linked", plural(a.AfterReplicas, "replica"))
		}
	case FixOpenSlot:
		fmt.Fprintf(&b, " slot %d -> %s", a.Slot, a.TargetPod)
	case MoveSlots:
		fmt.Fprintf(&b, " -> %s %d slots (%s), ~%d keys", a.TargetPod, a.SlotCount(), formatRanges(a.Slots), a.Keys)
	}
	if a.Reason != "" {
		b.WriteString(": " + a.Reason)
	}
	if a.Blocked != "" {
		b.WriteString(" [blocked: " + a.Blocked + "]")
	}
	return b.String()
}

// SlotCount is the number of slots in a.Slots.
func (a Action) SlotCount() int {
	n := 0
	for _, r := range a.Slots {
		n += r.Len()
	}
	return n
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// DriftKind classifies a difference between desired and observed topology.
type DriftKind string

// Drift kinds.
const (
	DriftUnreachable   DriftKind = "unreachable-pod"
	DriftMissing       DriftKind = "missing-replica"
	DriftNoSlots       DriftKind = "master-without-slots"
	DriftUncovered     DriftKind = "uncovered-slots"
	DriftSkew          DriftKind = "slot-skew"
	DriftPlacement     DriftKind = "placement"
	DriftFailedNode    DriftKind = "failed-node"
	DriftDisagreement  DriftKind = "disagreeing-views"
	DriftOpenSlot      DriftKind = "open-slot"
	DriftAddressChange DriftKind = "address-changed"
	DriftSpare         DriftKind = "spare-node"
	DriftNotMember     DriftKind = "not-in-cluster"
	DriftRole          DriftKind = "role"
	DriftDrain         DriftKind = "draining"
	DriftAdopting      DriftKind = "adopting"
)

// Drift is one entry of the drift report.
type Drift struct {
	Kind    DriftKind `json:"kind" yaml:"kind"`
	Subject string    `json:"subject" yaml:"subject"`
	Detail  string    `json:"detail" yaml:"detail"`
}

// Desired is what the spec asks of the topology.
type Desired struct {
	Masters           int
	ReplicasPerMaster int
	ZoneAware         bool
	ClientPort        int // 6379
	BusPort           int // 16379
	// Policy for destructive steps (spec.reconcile.destructive); the zero
	// value forgets gone nodes and takes over no slot.
	Policy Policy
	// Adopt: the spec takes over a running cluster (spec.adopt); its nodes
	// are in Observed.Foreign.
	Adopt bool
	// DisklessSyncDelay is the repl-diskless-sync-delay the nodes run
	// (spec.redis.config; "" is Redis's default, DefaultDisklessSyncDelay).
	// A bootstrap sets it to 0 on the masters while their empty replicas
	// take their first sync, then sets this value back.
	DisklessSyncDelay string
	// NodeTimeout is the cluster-node-timeout the nodes run, in ms as
	// redis.conf has it (spec.redis.nodeTimeout; "" unknown: a bootstrap
	// leaves it alone). A bootstrap shortens it on the masters until they
	// say cluster_state:ok (bootstrapNodeTimeout).
	NodeTimeout string
}

// Policy says which destructive steps may run. A step it does not allow
// is planned with Blocked set: shown, never executed (invariant 3).
type Policy struct {
	// KeepGoneNodes blocks forgetting a node no pod runs (forgetNodes: false).
	KeepGoneNodes bool
	// TakeOverSlots allows giving slots no live node serves to the live
	// masters, forgetting their gone owner first: their keys are lost.
	TakeOverSlots bool
}

// Runnable are the plan's actions that run: all but the blocked ones.
func (p Plan) Runnable() []Action {
	var out []Action
	for _, a := range p.Actions {
		if a.Blocked == "" {
			out = append(out, a)
		}
	}
	return out
}

// BlockedSteps are the plan's actions the policy holds back.
func (p Plan) BlockedSteps() []Action {
	var out []Action
	for _, a := range p.Actions {
		if a.Blocked != "" {
			out = append(out, a)
		}
	}
	return out
}

// Plan is the outcome of comparing desired and observed.
type Plan struct {
	Actions   []Action  `json:"actions" yaml:"actions"`
	Drift     []Drift   `json:"drift,omitempty" yaml:"drift,omitempty"`
	Placement Placement `json:"placement" yaml:"placement"`
	// Bootstrap is true when the plan forms a new cluster.
	Bootstrap bool `json:"bootstrap,omitempty" yaml:"bootstrap,omitempty"`
	// Blocked says why the plan cannot act safely yet (empty when it can).
	Blocked string `json:"blocked,omitempty" yaml:"blocked,omitempty"`
	// Waiting lists steps held until the cluster settles (a role swap
	// whose replica is not linked yet): a plan without actions but with
	// these is not converged; plan again once the cluster is healthy.
	Waiting []string `json:"waiting,omitempty" yaml:"waiting,omitempty"`
}

// PlanTopology compares desired with observed and returns the steps that
// converge them, safely: it never plans anything that could lose a key.
func PlanTopology(d Desired, o *Observed) Plan {
	var p Plan
	want := d.Masters * (1 + d.ReplicasPerMaster)
	for _, pod := range sortedPods(o.Pods) {
		if why, ok := o.Unreachable[pod.Name]; ok {
			p.Drift = append(p.Drift, Drift{Kind: DriftUnreachable, Subject: pod.Name, Detail: why})
		}
	}
	if len(o.Nodes) == 0 {
		p.Blocked = blockedNoNode
		return p
	}
	if d.Adopt && o.Adopting() {
		// Never a bootstrap: the cluster to take over holds the data.
		return planAdoption(d, o.WithForeign(), want, p)
	}
	if d.Adopt && !o.Formed() {
		// Nothing to take over was seen, and the managed pods are empty:
		// forming a new cluster here would leave the old one behind.
		p.Blocked = "adopt: the cluster to take over was not observed (no pod of spec.adopt.statefulSet answers, and no managed node knows it); nothing is done until it is"
		return p
	}
	if !o.Formed() {
		return planBootstrap(d, o, want, p)
	}
	return planFormed(d, o, want, p)
}

func sortedPods(pods []Pod) []Pod {
	out := append([]Pod(nil), pods...)
	sort.Slice(out, func(i, j int) bool { return out[i].Ordinal < out[j].Ordinal })
	return out
}
