// Package topology is the Redis half of a reconcile, as pure functions: the
// CLUSTER NODES parser, the observed model, the desired placement of masters
// and replicas over failure domains, and Plan, which turns the difference
// into typed actions. No clients, no clocks.
package topology

import "strconv"

// SlotCount is the number of hash slots in a Redis Cluster.
const SlotCount = 16384

// SlotRange is an inclusive range of slots.
type SlotRange struct {
	Start, End int
}

// String is the range as Redis prints it: "5461-10922", or "42".
func (r SlotRange) String() string {
	if r.Start == r.End {
		return strconv.Itoa(r.Start)
	}
	return strconv.Itoa(r.Start) + "-" + strconv.Itoa(r.End)
}

// Len is the number of slots in the range.
func (r SlotRange) Len() int { return r.End - r.Start + 1 }

// OpenSlot is a slot a node has marked for migration: the `[slot->-id]`
// (MIGRATING to Peer) and `[slot-<-id]` (IMPORTING from Peer) entries of
// CLUSTER NODES, which only the node itself reports.
type OpenSlot struct {
	Slot      int
	Migrating bool   // true: [slot->-peer]; false: [slot-<-peer] (importing)
	Peer      string // node ID of the other side
}

// ClusterNode is one line of CLUSTER NODES, every field kept.
type ClusterNode struct {
	ID string
	// Addr is ip:port@cport[,hostname] as Redis prints it; IP, Port,
	// BusPort and Hostname are its parts. IP is empty for noaddr nodes.
	Addr     string
	IP       string
	Port     int
	BusPort  int
	Hostname string
	// Flags: myself, master, slave, fail?, fail, handshake, noaddr,
	// nofailover, noflags; kept as Redis prints them, in order.
	Flags       []string
	MasterID    string // "" when "-"
	PingSent    int64
	PongRecv    int64
	ConfigEpoch int64
	LinkState   string // connected | disconnected
	Slots       []SlotRange
	Open        []OpenSlot
}

// Has tells whether the node has a flag.
func (n ClusterNode) Has(flag string) bool {
	for _, f := range n.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// Pod is a Kubernetes pod of the cluster as the reconciler sees it.
type Pod struct {
	Name    string
	Ordinal int
	IP      string
	Ready   bool
	// Node is the Kubernetes node; Domain and Zone are the values of the
	// placement's topology key and zone key on that node ("" when unset).
	Node   string
	Domain string
	Zone   string
}
