package topology

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
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
	Restart        ActionKind = "restart-pod"      // rolling restart: delete the pod, the StatefulSet starts it anew
)

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
	case Forget:
		fmt.Fprintf(&b, " %s", short(a.Target))
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

// Why a destructive step is blocked, and what a person can do.
const (
	blockedForget   = "spec.reconcile.destructive.forgetNodes is false: forget it by hand (CLUSTER FORGET on every node within 60 s), or allow it"
	blockedTakeOver = "spec.reconcile.destructive.takeOverSlots is false: restore the node that held these slots (its pod and volume), or allow the take-over, which loses their keys for good"
)

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
	anchor := o.Nodes[ids[0]]
	for _, id := range ids[1:] {
		n := o.Nodes[id]
		p.Actions = append(p.Actions, meet(d, anchor, n, "bootstrap: join the cluster"))
	}
	slots := SplitSlots(d.Masters)
	for i, podName := range pl.Masters {
		id := o.ByPod[podName]
		p.Actions = append(p.Actions, Action{Kind: AddSlots, Pod: podName, Node: id, Slots: []SlotRange{slots[i]},
			Reason: fmt.Sprintf("bootstrap: shard %d of %d", i+1, d.Masters)})
	}
	p.Actions = append(p.Actions, replicateActions(o, pl, "bootstrap: replica placed on another failure domain than its master")...)
	return p
}

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

func meet(d Desired, anchor, n *Node, reason string) Action {
	ip, port, bus := n.Announced(d)
	return Action{Kind: Meet, Pod: anchor.Pod.Name, Node: anchor.ID, Target: n.ID, TargetPod: n.Pod.Name,
		Addr: fmt.Sprintf("%s:%d@%d", ip, port, bus), Reason: reason}
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

// planFormed heals an existing cluster.
func planFormed(d Desired, o *Observed, want int, p Plan) Plan {
	ids := o.NodeIDs()
	anchor := pickAnchor(o, ids)
	owners := o.Owners()

	// Introduce to the anchor the nodes it does not know. Then, wherever a
	// node knows a peer at an old address (pods re-created with new IPs keep
	// their node IDs in nodes.conf), introduce the peer at its new address:
	// Redis matches the ID in the handshake and updates the address. Gossip
	// would correct addresses only after node-timeout has flagged the peer,
	// so every stale entry is met directly. A node's address is the one it
	// announces (its pod IP, or its external address), not always the pod's.
	known := map[string]bool{}
	for _, v := range anchor.View {
		known[v.ID] = true
	}
	for _, id := range ids {
		if n := o.Nodes[id]; id != anchor.ID && !known[id] {
			p.Actions = append(p.Actions, meet(d, anchor, n, "the node is not in the cluster yet"))
			p.Drift = append(p.Drift, Drift{Kind: DriftNotMember, Subject: n.Pod.Name, Detail: "node " + short(id) + " is not known to the cluster"})
		}
	}
	reported := map[string]bool{}
	for _, vid := range ids {
		viewer := o.Nodes[vid]
		for _, v := range viewer.View {
			peer, ours := o.Nodes[v.ID]
			if !ours || v.ID == vid || v.Has("handshake") {
				continue
			}
			ip, port, _ := peer.Announced(d)
			if v.IP == ip && (v.Port == port || v.Port == 0) {
				continue
			}
			now := net.JoinHostPort(ip, strconv.Itoa(port))
			p.Actions = append(p.Actions, meet(d, viewer, peer, fmt.Sprintf("%s knows %s at %s; it is now at %s", viewer.Pod.Name, peer.Pod.Name, net.JoinHostPort(v.IP, strconv.Itoa(v.Port)), now)))
			if !reported[v.ID] {
				reported[v.ID] = true
				p.Drift = append(p.Drift, Drift{Kind: DriftAddressChange, Subject: peer.Pod.Name, Detail: fmt.Sprintf("known at %s, now at %s", net.JoinHostPort(v.IP, strconv.Itoa(v.Port)), now)})
			}
		}
	}

	// Open slots: finish what a migration started.
	for _, id := range ids {
		n := o.Nodes[id]
		for _, os := range n.Self.Open {
			if !os.Migrating {
				continue
			}
			dst := o.Nodes[os.Peer]
			a := Action{Kind: FixOpenSlot, Pod: n.Pod.Name, Node: id, Slot: os.Slot, Target: os.Peer,
				Reason: fmt.Sprintf("slot %d is MIGRATING to %s: finish moving its keys, then assign it", os.Slot, short(os.Peer))}
			if dst != nil {
				a.TargetPod = dst.Pod.Name
			}
			p.Actions = append(p.Actions, a)
			p.Drift = append(p.Drift, Drift{Kind: DriftOpenSlot, Subject: n.Pod.Name, Detail: fmt.Sprintf("slot %d migrating to %s", os.Slot, short(os.Peer))})
		}
		for _, os := range n.Self.Open {
			if os.Migrating || migratingOn(o, os.Peer, os.Slot) {
				continue
			}
			// Importing with no MIGRATING peer: the source crashed half-way or
			// the target was told first. Resolved by FixOpenSlot from the owner.
			a := Action{Kind: FixOpenSlot, Node: owners[os.Slot], Slot: os.Slot, Target: id, TargetPod: n.Pod.Name,
				Reason: fmt.Sprintf("slot %d is IMPORTING on %s without a MIGRATING source: finish or close it", os.Slot, n.Pod.Name)}
			if owner := o.Nodes[owners[os.Slot]]; owner != nil {
				a.Pod = owner.Pod.Name
			}
			p.Actions = append(p.Actions, a)
			p.Drift = append(p.Drift, Drift{Kind: DriftOpenSlot, Subject: n.Pod.Name, Detail: fmt.Sprintf("slot %d importing from %s", os.Slot, short(os.Peer))})
		}
	}

	// Slots: resume an interrupted bootstrap (no slot and no key anywhere),
	// otherwise only report what is uncovered.
	uncovered := uncoveredRanges(owners)
	allAnswered := len(o.Unreachable) == 0 && len(o.Nodes) >= want
	pl, placeErr := Place(o.Pods, d.Masters, d.ReplicasPerMaster, d.ZoneAware, o.Current())
	if len(uncovered) == 1 && uncovered[0].Len() == SlotCount && allAnswered && totalKeys(o) == 0 {
		if placeErr == nil {
			slots := SplitSlots(d.Masters)
			for i, podName := range pl.Masters {
				p.Actions = append(p.Actions, Action{Kind: AddSlots, Pod: podName, Node: o.ByPod[podName], Slots: []SlotRange{slots[i]},
					Reason: "resume an interrupted bootstrap: no node holds a slot or a key"})
			}
		}
	} else if len(uncovered) > 0 {
		p.Drift = append(p.Drift, Drift{Kind: DriftUncovered, Subject: "cluster", Detail: fmt.Sprintf("slots %s have no owner; assigning them could hide lost keys, so they are only reported unless spec.reconcile.destructive.takeOverSlots allows it", formatRanges(uncovered))})
		if allAnswered {
			p.Actions = append(p.Actions, takeOver(d, o, uncovered)...)
		}
	}

	// Placement and roles.
	if placeErr != nil {
		p.Blocked = placeErr.Error()
		return p
	}
	p.Placement = pl
	for _, r := range pl.Degraded {
		p.Drift = append(p.Drift, Drift{Kind: DriftPlacement, Subject: "placement", Detail: r})
	}
	for _, s := range pl.Spare {
		p.Drift = append(p.Drift, Drift{Kind: DriftSpare, Subject: s, Detail: "more pods than masters × (1 + replicas)"})
	}
	desiredMaster := map[string]bool{}
	for _, m := range pl.Masters {
		desiredMaster[m] = true
	}
	failingOver := map[string]bool{}
	for _, podName := range pl.Masters {
		id := o.ByPod[podName]
		n := o.Nodes[id]
		if n == nil {
			continue
		}
		if !n.IsMaster() {
			// A replica that should be the master: planned failover, only when
			// its master is the node that should become its replica and the
			// link is in sync (CLUSTER FAILOVER waits for the offset anyway).
			cur := o.Nodes[n.Self.MasterID]
			if cur == nil || desiredMaster[cur.Pod.Name] {
				continue
			}
			detail := "should be a master: " + cur.Pod.Name + " took over in a failover"
			if n.MasterLinkUp {
				p.Actions = append(p.Actions, Action{Kind: Failover, Pod: podName, Node: id, Target: cur.ID, TargetPod: cur.Pod.Name,
					Reason: fmt.Sprintf("placement wants this shard's master on %s (domain %s), not on %s (domain %s): swap roles with a planned failover", podName, n.Pod.Domain, cur.Pod.Name, cur.Pod.Domain)})
			} else {
				// Just restarted, or still in its first sync: the swap waits for
				// the link, and the pass for the swap.
				p.Waiting = append(p.Waiting, fmt.Sprintf("failover %s: waits for its replication link to %s", podName, cur.Pod.Name))
				detail += "; the swap waits for its replication link"
			}
			p.Drift = append(p.Drift, Drift{Kind: DriftRole, Subject: podName, Detail: detail})
			failingOver[podName], failingOver[cur.Pod.Name] = true, true
			continue
		}
		if n.SlotCount() == 0 && len(uncovered) == 0 {
			p.Drift = append(p.Drift, Drift{Kind: DriftNoSlots, Subject: podName, Detail: "a master without slots (scale-out rebalancing gives it some)"})
		}
	}
	for _, a := range replicateActions(o, pl, "") {
		rn, mn := o.Nodes[a.Node], o.Nodes[a.Target]
		switch {
		case failingOver[a.Pod] || failingOver[a.TargetPod]:
			continue // next pass, once roles have swapped
		case rn.Self.Has("slave") && rn.Self.MasterID == mn.ID:
			continue // already in place
		case !mn.IsMaster() || mn.SlotCount() == 0 && len(uncovered) == 0:
			continue // its master-to-be is not a serving master yet
		case rn.IsMaster() && (rn.SlotCount() > 0 || rn.Keys > 0):
			continue // holds data: only a failover may change its role
		case rn.IsMaster():
			a.Reason = "an empty master (new pod, or its data was lost) joins as the replica this shard lacks"
			p.Drift = append(p.Drift, Drift{Kind: DriftMissing, Subject: a.TargetPod, Detail: "missing a replica; " + a.Pod + " is an empty master"})
		default:
			old := o.Nodes[rn.Self.MasterID]
			from := short(rn.Self.MasterID)
			if old != nil {
				from = old.Pod.Name
			}
			a.Reason = fmt.Sprintf("move the replica from %s to %s, off its master's failure domain", from, a.TargetPod)
			p.Drift = append(p.Drift, Drift{Kind: DriftPlacement, Subject: a.Pod, Detail: "replica of " + from + ", should follow " + a.TargetPod})
		}
		p.Actions = append(p.Actions, a)
	}

	// Slots: an even share for every master to keep, none for those to
	// remove; only on a cluster at rest, where every node answers, knows
	// every other and agrees on the owners, no slot is open or uncovered,
	// and no role is about to change.
	if allAnswered && len(uncovered) == 0 && disagreements(o) == "" && everyoneKnowsEveryone(o) &&
		!hasKind(p.Actions, Meet, FixOpenSlot, Failover) {
		var keep []string
		for _, podName := range pl.Masters {
			if n := o.Nodes[o.ByPod[podName]]; n != nil && n.IsMaster() {
				keep = append(keep, n.ID)
			}
		}
		if len(keep) == len(pl.Masters) {
			rb := PlanRebalance(o, keep)
			for _, id := range rb.Drain {
				n := o.Nodes[id]
				p.Drift = append(p.Drift, Drift{Kind: DriftDrain, Subject: n.Pod.Name,
					Detail: fmt.Sprintf("holds %d slots and is not a master to keep: its slots move to the remaining masters before it is removed", n.SlotCount())})
			}
			if rb.Blocked != "" {
				p.Blocked = rb.Blocked
			}
			p.Actions = append(p.Actions, rb.Moves...)
		}
	}

	// Nodes gone for good: in some view, failed, and no pod has their ID. Only
	// decidable when every pod answers.
	if !allAnswered {
		p.Drift = append(p.Drift, Drift{Kind: DriftUnreachable, Subject: "cluster",
			Detail: fmt.Sprintf("%d of %d pods answered: nodes gone for good are forgotten only when every pod answers", len(o.Nodes), want)})
	} else {
		gone, holding := map[string]bool{}, map[string]bool{}
		for _, id := range ids {
			for _, v := range o.Nodes[id].View {
				// Every pod answered and none runs this ID, so no pod ever will
				// again: the node is gone for good, whether or not node-timeout
				// has flagged it yet. One that still owns slots is not
				// forgotten: its slots must move to a live master first.
				if _, ours := o.Nodes[v.ID]; ours || v.Has("handshake") {
					continue
				}
				if len(v.Slots) > 0 {
					holding[v.ID] = true
				} else if _, seen := gone[v.ID]; !seen {
					gone[v.ID] = true
				}
			}
		}
		for _, id := range sortedKeys(holding) {
			delete(gone, id)
			p.Drift = append(p.Drift, Drift{Kind: DriftFailedNode, Subject: short(id),
				Detail: "no pod runs this node and it still owns slots: not forgotten; its slots have no live owner"})
			a := Action{Kind: Forget, Target: id, Destructive: true,
				Reason: "take over the slots of a node no pod runs: forget it on every node, then give its slots to the live masters (their keys are lost)"}
			if !d.Policy.TakeOverSlots {
				a.Blocked = blockedTakeOver
			}
			p.Actions = append(p.Actions, a)
		}
		for _, g := range sortedKeys(gone) {
			a := Action{Kind: Forget, Target: g, Destructive: true,
				Reason: "unreachable, and no pod of the cluster runs this node ID any more: forget it on every node (within the 60 s FORGET ban)"}
			if d.Policy.KeepGoneNodes {
				a.Blocked = blockedForget
			}
			p.Actions = append(p.Actions, a)
			p.Drift = append(p.Drift, Drift{Kind: DriftFailedNode, Subject: short(g), Detail: "failed node that no pod runs"})
		}
	}
	for _, id := range ids {
		for _, v := range o.Nodes[id].View {
			if _, ours := o.Nodes[v.ID]; ours && v.Has("fail") {
				p.Drift = append(p.Drift, Drift{Kind: DriftFailedNode, Subject: o.Nodes[v.ID].Pod.Name, Detail: o.Nodes[id].Pod.Name + " flags it failed"})
			}
		}
	}
	if skew := slotSkew(o, d.Masters); skew != "" {
		p.Drift = append(p.Drift, Drift{Kind: DriftSkew, Subject: "cluster", Detail: skew})
	}
	if dis := disagreements(o); dis != "" {
		p.Drift = append(p.Drift, Drift{Kind: DriftDisagreement, Subject: "cluster", Detail: dis})
	}
	sortActions(p.Actions)
	return p
}

// takeOver gives slots no node owns to the serving masters, the range to
// the one with the fewest slots so far: a destructive step (the keys of
// those slots are gone with their owner), run only when the policy allows.
func takeOver(d Desired, o *Observed, uncovered []SlotRange) []Action {
	count := map[string]int{}
	var masters []*Node
	for _, id := range o.NodeIDs() {
		if n := o.Nodes[id]; n.IsMaster() && n.SlotCount() > 0 {
			masters = append(masters, n)
			count[id] = n.SlotCount()
		}
	}
	if len(masters) == 0 {
		return nil
	}
	var out []Action
	for _, r := range uncovered {
		best := masters[0]
		for _, m := range masters[1:] {
			if count[m.ID] < count[best.ID] {
				best = m
			}
		}
		count[best.ID] += r.Len()
		a := Action{Kind: AddSlots, Pod: best.Pod.Name, Node: best.ID, Slots: []SlotRange{r}, Destructive: true,
			Reason: "take over slots no live node owns: the cluster serves them again, empty (their keys are lost)"}
		if !d.Policy.TakeOverSlots {
			a.Blocked = blockedTakeOver
		}
		out = append(out, a)
	}
	return out
}

func hasKind(as []Action, kinds ...ActionKind) bool {
	for _, a := range as {
		if slices.Contains(kinds, a.Kind) {
			return true
		}
	}
	return false
}

// everyoneKnowsEveryone: every observed node has every other in its view,
// past the handshake (a slot can only be given to a node its peers know).
func everyoneKnowsEveryone(o *Observed) bool {
	for _, id := range o.NodeIDs() {
		known := map[string]bool{}
		for _, v := range o.Nodes[id].View {
			if !v.Has("handshake") {
				known[v.ID] = true
			}
		}
		for other := range o.Nodes {
			if !known[other] {
				return false
			}
		}
	}
	return true
}

func migratingOn(o *Observed, id string, slot int) bool {
	n := o.Nodes[id]
	if n == nil {
		return false
	}
	for _, os := range n.Self.Open {
		if os.Migrating && os.Slot == slot {
			return true
		}
	}
	return false
}

// pickAnchor is the node other nodes are introduced to: a master with the
// most slots, so that it is surely part of the cluster everyone agrees on.
func pickAnchor(o *Observed, ids []string) *Node {
	best := o.Nodes[ids[0]]
	for _, id := range ids {
		n := o.Nodes[id]
		if n.SlotCount() > best.SlotCount() {
			best = n
		}
	}
	return best
}

func totalKeys(o *Observed) int64 {
	var t int64
	for _, n := range o.Nodes {
		t += n.Keys
	}
	return t
}

func uncoveredRanges(owners [SlotCount]string) []SlotRange {
	var out []SlotRange
	for s := 0; s < SlotCount; s++ {
		if owners[s] != "" {
			continue
		}
		if len(out) > 0 && out[len(out)-1].End == s-1 {
			out[len(out)-1].End = s
		} else {
			out = append(out, SlotRange{Start: s, End: s})
		}
	}
	return out
}

// disagreements describes nodes whose view of slot owners differs from the
// majority; empty when all agree.
func disagreements(o *Observed) string {
	sig := map[string][]string{}
	for _, id := range o.NodeIDs() {
		var parts []string
		for _, v := range o.Nodes[id].View {
			if len(v.Slots) > 0 {
				parts = append(parts, v.ID+":"+formatRanges(v.Slots))
			}
		}
		sort.Strings(parts)
		s := strings.Join(parts, " ")
		sig[s] = append(sig[s], o.Nodes[id].Pod.Name)
	}
	if len(sig) <= 1 {
		return ""
	}
	var groups []string
	for _, pods := range sig {
		groups = append(groups, "["+strings.Join(pods, " ")+"]")
	}
	sort.Strings(groups)
	return fmt.Sprintf("%d different views of slot ownership: %s", len(sig), strings.Join(groups, " "))
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var kindOrder = map[ActionKind]int{SetConfigEpoch: 0, Meet: 1, AddSlots: 2, FixOpenSlot: 3, Failover: 4, Replicate: 5, MoveSlots: 6, Forget: 7, Restart: 8}

func sortActions(as []Action) {
	sort.SliceStable(as, func(i, j int) bool { return kindOrder[as[i].Kind] < kindOrder[as[j].Kind] })
}

// slotSkew describes masters whose slot count is more than 2% off an even
// share (redis-cli rebalance's default threshold); empty when balanced.
func slotSkew(o *Observed, masters int) string {
	if masters <= 0 {
		return ""
	}
	expected := float64(SlotCount) / float64(masters)
	var off []string
	for _, id := range o.NodeIDs() {
		n := o.Nodes[id]
		if !n.IsMaster() || n.SlotCount() == 0 {
			continue
		}
		if dev := (float64(n.SlotCount()) - expected) / expected; dev > 0.02 || dev < -0.02 {
			off = append(off, fmt.Sprintf("%s has %d slots", n.Pod.Name, n.SlotCount()))
		}
	}
	if len(off) == 0 {
		return ""
	}
	return fmt.Sprintf("an even share is %.0f slots per master: %s", expected, strings.Join(off, ", "))
}
