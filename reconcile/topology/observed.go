package topology

import (
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Reply is what one pod's Redis answered: CLUSTER NODES, INFO replication
// and DBSIZE. Err is set when the pod could not be asked.
type Reply struct {
	ClusterNodes string
	ClusterInfo  string // CLUSTER INFO; only cluster_state is read
	Replication  string // INFO replication
	Keys         int64  // DBSIZE
	// Memory is INFO memory; only used_memory and maxmemory are read.
	Memory string
	Err    error
}

// Node is one Redis node of the observed cluster: a pod that answered.
type Node struct {
	ID   string
	Pod  Pod
	Self ClusterNode // its own line of CLUSTER NODES
	// View is the node's whole CLUSTER NODES: what it believes of the others.
	View []ClusterNode
	Keys int64
	// MasterLinkUp is INFO replication's master_link_status:up (replicas).
	MasterLinkUp bool
	// StateOK is CLUSTER INFO's cluster_state:ok: the node serves.
	StateOK bool
	// UsedMemory and MaxMemory are INFO memory's used_memory and maxmemory
	// in bytes (MaxMemory 0: no limit).
	UsedMemory, MaxMemory int64
	// Foreign: a node of the cluster being adopted (spec.adopt), run by a
	// pod the daemon does not manage. Only replication and cluster
	// commands are sent to it.
	Foreign bool
}

// IsMaster tells whether the node says it is a master.
func (n *Node) IsMaster() bool { return n.Self.Has("master") }

// Announced is the address the node gives of itself in its own CLUSTER
// NODES line: what its peers should know it at. That is its pod IP
// (cluster-announce-ip), or with externalAccess the address clients
// outside reach. A node that gives none (it knows no peer yet) is at its
// pod IP on the standard ports.
func (n *Node) Announced(d Desired) (ip string, port, bus int) {
	if n.Self.IP == "" {
		return n.Pod.IP, d.ClientPort, d.BusPort
	}
	port, bus = n.Self.Port, n.Self.BusPort
	if port == 0 {
		port = d.ClientPort
	}
	if bus == 0 {
		bus = port + 10000
	}
	return n.Self.IP, port, bus
}

// SlotCount is how many slots the node says it owns.
func (n *Node) SlotCount() int {
	c := 0
	for _, r := range n.Self.Slots {
		c += r.Len()
	}
	return c
}

// Empty: no slots, no keys, no peer known. Only such a node may be
// bootstrapped or given fresh slots (invariant 2).
func (n *Node) Empty() bool {
	return n.Keys == 0 && n.SlotCount() == 0 && len(n.View) <= 1 && n.Self.ConfigEpoch == 0
}

// Observed is the live cluster: every pod, and every node that answered.
type Observed struct {
	Pods []Pod
	// Nodes by ID, for the pods that answered.
	Nodes map[string]*Node
	// ByPod maps a pod name to its node ID.
	ByPod map[string]string
	// Unreachable maps a pod name to why it could not be observed.
	Unreachable map[string]string

	// Foreign holds, by node ID, the nodes of a cluster being adopted
	// (spec.adopt) that are still part of it: run by pods the daemon does
	// not manage. They are kept apart from Nodes, which every effect
	// outside the topology (settings, restarts, users, TLS) works on; the
	// planner sees them through WithForeign.
	Foreign map[string]*Node
	// ForeignUnreachable maps an old pod (or a node's address) to why it
	// could not be observed.
	ForeignUnreachable map[string]string
	// Released are the old pods whose nodes the takeover released: no
	// slot, no key, known to no managed node.
	Released []string
}

// Observe builds the model from pods and their replies (keyed by pod name).
func Observe(pods []Pod, replies map[string]Reply) (*Observed, error) {
	o := &Observed{Pods: pods, Nodes: map[string]*Node{}, ByPod: map[string]string{}, Unreachable: map[string]string{}}
	views := parseViews(pods, replies)
	for i, p := range pods {
		r, ok := replies[p.Name]
		switch {
		case !ok:
			o.Unreachable[p.Name] = "not asked (no pod IP or not running)"
			continue
		case r.Err != nil:
			o.Unreachable[p.Name] = r.Err.Error()
			continue
		}
		view, err := views[i].nodes, views[i].err
		if err != nil {
			return nil, fmt.Errorf("pod %s: cluster nodes: %w", p.Name, err)
		}
		self, ok := Myself(view)
		if !ok {
			return nil, fmt.Errorf("pod %s: cluster nodes has no myself line", p.Name)
		}
		if other, dup := o.Nodes[self.ID]; dup {
			return nil, fmt.Errorf("pods %s and %s report the same node ID %s: refusing to act on a cloned nodes.conf", other.Pod.Name, p.Name, self.ID)
		}
		o.Nodes[self.ID] = &Node{ID: self.ID, Pod: p, Self: self, View: view, Keys: r.Keys,
			MasterLinkUp: infoField(r.Replication, "master_link_status") == "up",
			StateOK:      infoField(r.ClusterInfo, "cluster_state") == "ok",
			UsedMemory:   infoInt(r.Memory, "used_memory"), MaxMemory: infoInt(r.Memory, "maxmemory")}
		o.ByPod[p.Name] = self.ID
	}
	return o, nil
}

// parsedView is one pod's CLUSTER NODES parsed.
type parsedView struct {
	nodes []ClusterNode
	err   error
}

// parallelParseFrom is the number of replies from which parseViews parses
// on every CPU: at 1000 nodes a pass reads a million lines.
const parallelParseFrom = 64

// parseViews parses the CLUSTER NODES of each pod that replied, in the
// pods' order; on every CPU when there are many. Each reply is parsed on
// its own, so the result is the same either way.
func parseViews(pods []Pod, replies map[string]Reply) []parsedView {
	out := make([]parsedView, len(pods))
	parse := func(i int) {
		if r, ok := replies[pods[i].Name]; ok && r.Err == nil {
			out[i].nodes, out[i].err = ParseClusterNodes(r.ClusterNodes)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(pods))
	if len(pods) < parallelParseFrom || workers < 2 {
		for i := range pods {
			parse(i)
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(pods); i = int(next.Add(1) - 1) {
				parse(i)
			}
		})
	}
	wg.Wait()
	return out
}

// infoField reads one "key:value" line of an INFO reply.
func infoField(info, key string) string {
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == key {
			return v
		}
	}
	return ""
}

func infoInt(info, key string) int64 {
	n, _ := strconv.ParseInt(infoField(info, key), 10, 64)
	return n
}

// AddForeign adds the nodes of the cluster being adopted, from their pods
// (or addresses, as Pod.Name) and replies. A node that holds nothing,
// knows no peer and is known to no managed node was released by the
// takeover (CLUSTER RESET): it is listed in Released, not in Foreign, and
// never met again.
func (o *Observed) AddForeign(pods []Pod, replies map[string]Reply) error {
	if o.Foreign == nil {
		o.Foreign, o.ForeignUnreachable = map[string]*Node{}, map[string]string{}
	}
	known := map[string]bool{}
	for _, n := range o.Nodes {
		for _, v := range n.View {
			if !v.Has("myself") {
				known[v.ID] = true
			}
		}
	}
	for _, p := range pods {
		r, ok := replies[p.Name]
		switch {
		case !ok:
			o.ForeignUnreachable[p.Name] = "not asked (no pod IP or not running)"
			continue
		case r.Err != nil:
			o.ForeignUnreachable[p.Name] = r.Err.Error()
			continue
		}
		view, err := ParseClusterNodes(r.ClusterNodes)
		if err != nil {
			return fmt.Errorf("old pod %s: cluster nodes: %w", p.Name, err)
		}
		self, ok := Myself(view)
		if !ok {
			return fmt.Errorf("old pod %s: cluster nodes has no myself line", p.Name)
		}
		if m, dup := o.Nodes[self.ID]; dup {
			return fmt.Errorf("old pod %s and pod %s report the same node ID %s: refusing to act on a cloned nodes.conf", p.Name, m.Pod.Name, self.ID)
		}
		if other, dup := o.Foreign[self.ID]; dup {
			if other.Pod.Name != p.Name {
				return fmt.Errorf("old pods %s and %s report the same node ID %s: refusing to act on a cloned nodes.conf", other.Pod.Name, p.Name, self.ID)
			}
			continue
		}
		n := &Node{ID: self.ID, Pod: p, Self: self, View: view, Keys: r.Keys, Foreign: true,
			MasterLinkUp: infoField(r.Replication, "master_link_status") == "up",
			UsedMemory:   infoInt(r.Memory, "used_memory"), MaxMemory: infoInt(r.Memory, "maxmemory")}
		// Not Empty(): CLUSTER RESET SOFT keeps the node's config epoch.
		if n.Keys == 0 && n.SlotCount() == 0 && len(view) <= 1 && !known[self.ID] {
			o.Released = append(o.Released, p.Name)
			continue
		}
		o.Foreign[self.ID] = n
	}
	sort.Strings(o.Released)
	return nil
}

// Adopting tells whether a cluster being adopted still has nodes the
// daemon does not manage. An old pod that does not answer counts only
// while the cluster may still hold its node: before the managed nodes
// formed anything, or while some managed node knows a node no managed
// pod runs. After the takeover, an old pod restarting holds nothing up.
func (o *Observed) Adopting() bool {
	if len(o.Foreign) > 0 {
		return true
	}
	if len(o.ForeignUnreachable) == 0 {
		return false
	}
	formed := false
	for _, n := range o.Nodes {
		formed = formed || len(n.View) > 1
		for _, v := range n.View {
			if _, ours := o.Nodes[v.ID]; !ours {
				return true
			}
		}
	}
	return !formed
}

// WithForeign is the whole cluster the planner and the executor of a
// takeover see: the managed nodes and the foreign ones in Nodes and ByPod
// (Pods stays the managed pods: placement is theirs only). o itself is
// not changed.
func (o *Observed) WithForeign() *Observed {
	if len(o.Foreign) == 0 {
		return o
	}
	m := *o
	m.Nodes = make(map[string]*Node, len(o.Nodes)+len(o.Foreign))
	m.ByPod = make(map[string]string, len(o.ByPod)+len(o.Foreign))
	for id, n := range o.Nodes {
		m.Nodes[id] = n
	}
	for p, id := range o.ByPod {
		m.ByPod[p] = id
	}
	for id, n := range o.Foreign {
		m.Nodes[id] = n
		m.ByPod[n.Pod.Name] = id
	}
	return &m
}

// NodeIDs returns the observed node IDs, sorted by pod ordinal.
func (o *Observed) NodeIDs() []string {
	ids := make([]string, 0, len(o.Nodes))
	for id := range o.Nodes {
		ids = append(ids, id)
	}
	// Managed pods first, then the foreign ones of a takeover (whose
	// ordinals are their own StatefulSet's); the name breaks ties.
	sort.Slice(ids, func(i, j int) bool {
		a, b := o.Nodes[ids[i]], o.Nodes[ids[j]]
		if a.Foreign != b.Foreign {
			return !a.Foreign
		}
		if a.Pod.Ordinal != b.Pod.Ordinal {
			return a.Pod.Ordinal < b.Pod.Ordinal
		}
		return a.Pod.Name < b.Pod.Name
	})
	return ids
}

// Formed: some node owns slots or knows a peer, so the cluster exists.
func (o *Observed) Formed() bool {
	for _, n := range o.Nodes {
		if !n.Empty() {
			return true
		}
	}
	return false
}

// Current is the role layout by pod name, for placement.
func (o *Observed) Current() Current {
	cur := Current{Masters: map[string]int{}, ReplicaOf: map[string]string{}}
	for _, n := range o.Nodes {
		if n.Foreign {
			continue // placement is the managed pods' only
		}
		switch {
		case n.IsMaster() && (n.SlotCount() > 0 || n.Keys > 0):
			cur.Masters[n.Pod.Name] = n.SlotCount()
		case n.Self.Has("slave") && n.Self.MasterID != "":
			if m, ok := o.Nodes[n.Self.MasterID]; ok && !m.Foreign {
				cur.ReplicaOf[n.Pod.Name] = m.Pod.Name
			}
		}
	}
	return cur
}

// Owners maps each slot to the node that claims it, from the majority of
// views that know an owner (views can disagree while gossip spreads); ties
// go to the lower node ID.
//
// Claims are ranges, and a slot's votes change only where some range
// starts or ends: one sweep over the slots, with a running count per
// claimed owner, instead of a vote per slot per view (16384 × 1000 votes
// at 1000 nodes). Views that claim the same vote together, weighed by
// their number (groupSlotViews).
func (o *Observed) Owners() [SlotCount]string {
	nodes := make([]*Node, 0, len(o.Nodes))
	for _, n := range o.Nodes {
		nodes = append(nodes, n)
	}
	return ownersOf(groupSlotViews(nodes))
}

// formatRanges prints slot ranges as "0-5460,5461-10922".
func formatRanges(rs []SlotRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// SplitSlots divides the 16384 slots into n contiguous ranges the way
// redis-cli does: shard i gets its share, the last takes the rest.
func SplitSlots(n int) []SlotRange {
	out := make([]SlotRange, n)
	per := float64(SlotCount) / float64(n)
	cursor := 0.0
	first := 0
	for i := range n {
		last := int(cursor + per - 1 + 0.5)
		if i == n-1 {
			last = SlotCount - 1
		}
		out[i] = SlotRange{Start: first, End: last}
		first = last + 1
		cursor += per
	}
	return out
}
