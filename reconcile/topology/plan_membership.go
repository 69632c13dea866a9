package topology

import (
	"fmt"
	"net"
	"strconv"
)

// planMembership introduces to the anchor the nodes it does not know.
// Then, wherever a node knows a peer at an old address (pods re-created
// with new IPs keep their node IDs in nodes.conf), it introduces the peer
// at its new address: Redis matches the ID in the handshake and updates
// the address. Gossip would correct addresses only after node-timeout has
// flagged the peer, so every stale entry is met directly. A node's address
// is the one it announces (its pod IP, or its external address), not
// always the pod's.
func planMembership(f *facts) steps {
	var s steps
	known := map[string]bool{}
	for _, v := range f.anchor.View {
		known[v.ID] = true
	}
	for _, id := range f.ids {
		if n := f.o.Nodes[id]; id != f.anchor.ID && !known[id] {
			s.actions = append(s.actions, meet(f.d, f.anchor, n, "the node is not in the cluster yet"))
			s.drift = append(s.drift, Drift{Kind: DriftNotMember, Subject: n.Pod.Name, Detail: "node " + short(id) + " is not known to the cluster"})
		}
	}
	reported := map[string]bool{}
	for _, l := range f.moved { // our nodes known at an address they left
		viewer, v := f.at(l)
		peer := f.o.Nodes[v.ID]
		ip, port, _ := peer.Announced(f.d)
		was, now := net.JoinHostPort(v.IP, strconv.Itoa(v.Port)), net.JoinHostPort(ip, strconv.Itoa(port))
		s.actions = append(s.actions, meet(f.d, viewer, peer, fmt.Sprintf("%s knows %s at %s; it is now at %s", viewer.Pod.Name, peer.Pod.Name, was, now)))
		if !reported[v.ID] {
			reported[v.ID] = true
			s.drift = append(s.drift, Drift{Kind: DriftAddressChange, Subject: peer.Pod.Name, Detail: fmt.Sprintf("known at %s, now at %s", was, now)})
		}
	}
	return s
}

// meet has anchor run CLUSTER MEET with n's announced address.
func meet(d Desired, anchor, n *Node, reason string) Action {
	ip, port, bus := n.Announced(d)
	return Action{Kind: Meet, Pod: anchor.Pod.Name, Node: anchor.ID, Target: n.ID, TargetPod: n.Pod.Name,
		Addr: fmt.Sprintf("%s:%d@%d", ip, port, bus), Reason: reason}
}

// everyoneKnowsEveryone: every observed node has every other in its view,
// past the handshake (a slot can only be given to a node its peers know),
// as a plan's facts read it (scanViews), for an observation planned apart
// (a takeover's, without the nodes it reset).
func everyoneKnowsEveryone(o *Observed) bool {
	f := &facts{o: o, ids: o.NodeIDs()}
	f.scanViews()
	return f.knowsEveryone
}
