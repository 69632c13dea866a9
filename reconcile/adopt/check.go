package adopt

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// MinRedisMajor is the oldest Redis adopted: the takeover relies on
// CLUSTER REPLICAS, ACL-era AUTH and CLUSTER FAILOVER as Redis 6 has them.
const MinRedisMajor = 6

// refusals returns every reason live cannot be adopted; none when it can.
// The first node's CLUSTER NODES is the cluster's picture; every other
// node's must agree with it on who owns each slot.
func refusals(live Live) []Problem {
	if len(live.Nodes) == 0 {
		return []Problem{{Reason: "no node was read"}}
	}
	var out []Problem
	fail := func(n, format string, args ...any) {
		out = append(out, Problem{Node: n, Reason: fmt.Sprintf(format, args...)})
	}
	settling := func(n, format string, args ...any) {
		out = append(out, Problem{Node: n, Reason: fmt.Sprintf(format, args...), Settling: true})
	}
	first := live.Nodes[0]
	if first.Err == nil && first.Config["cluster-enabled"] == "no" {
		fail(first.Name(), "cluster mode is off (cluster-enabled no): redis-gitops adopts a Redis Cluster only")
		return out
	}
	for _, n := range live.Nodes {
		if n.Err != nil {
			fail(n.Name(), "does not answer: %v", n.Err)
			continue
		}
		if major, ok := majorVersion(n.Version); !ok || major < MinRedisMajor {
			fail(n.Name(), "runs Redis %q; adoption needs Redis %d or later: upgrade the old cluster first", n.Version, MinRedisMajor)
		}
		if p := n.Config["tls-port"]; p != "" && p != "0" || n.Config["tls-cluster"] == "yes" || n.Config["tls-replication"] == "yes" {
			fail(n.Name(), "serves TLS (tls-port %s, tls-cluster %s): adopting a TLS cluster is out of scope; adopt it in plaintext, then add spec.tls", p, n.Config["tls-cluster"])
		}
		if me, ok := topology.Myself(n.View); ok {
			for _, o := range me.Open {
				dir := "migrating to"
				if !o.Migrating {
					dir = "importing from"
				}
				fail(n.Name(), "slot %d is open (%s %s): finish or cancel the migration first (redis-cli --cluster fix)", o.Slot, dir, shortID(o.Peer))
			}
		}
	}
	if first.Err != nil {
		return out
	}
	names := nodeNames(live)
	flagged := map[string]bool{}
	for _, n := range live.Nodes {
		for _, c := range n.View {
			for _, f := range []string{"fail", "fail?", "noaddr", "handshake"} {
				if c.Has(f) && !flagged[c.ID+f] {
					flagged[c.ID+f] = true
					if f == "handshake" {
						settling(names.of(c), "is still in handshake with %s: it is joining the cluster; try again", n.Name())
						continue
					}
					fail(names.of(c), "is flagged %s by %s: the cluster is not healthy; let it settle or remove the node first", f, n.Name())
				}
			}
		}
	}
	owners := slotOwners(first.View)
	var uncovered []string
	for _, r := range ranges(owners, "") {
		uncovered = append(uncovered, r.String())
	}
	if len(uncovered) > 0 {
		fail("", "slots %s are served by no master (seen by %s): every slot must be covered before a takeover", strings.Join(uncovered, ","), first.Name())
	}
	for _, n := range live.Nodes[1:] {
		if n.Err != nil || len(n.View) == 0 {
			continue
		}
		if p, ok := roleDisagreement(first.View, n.View, names); ok {
			settling(n.Name(), "disagrees with %s: %s: the cluster has not settled; try again", first.Name(), p)
			continue
		}
		if o := slotOwners(n.View); o != owners {
			for s := range o {
				if o[s] != owners[s] {
					settling(n.Name(), "disagrees with %s on who owns slot %d: the cluster has not settled; try again", first.Name(), s)
					break
				}
			}
		}
	}
	if m := len(masters(first.View)); m < spec.MinMasters {
		fail("", "has %d master(s) owning slots; a RedisCluster has at least %d (spec.masters)", m, spec.MinMasters)
	}
	return out
}

// roleDisagreement says how view b sees a node of view a in another role
// (a master, or the replica of another master): right after
// CLUSTER REPLICATE, gossip takes a moment to tell every node.
func roleDisagreement(a, b []topology.ClusterNode, names names) (string, bool) {
	role := map[string]string{}
	for _, c := range b {
		role[c.ID] = c.MasterID
	}
	for _, c := range a {
		theirs, ok := role[c.ID]
		switch {
		case !ok:
			return fmt.Sprintf("it does not know node %s", names.of(c)), true
		case theirs != c.MasterID:
			return fmt.Sprintf("node %s is %s here, %s there", names.of(c), roleName(c.MasterID, names, a), roleName(theirs, names, a)), true
		}
	}
	return "", false
}

func roleName(masterID string, names names, view []topology.ClusterNode) string {
	if masterID == "" {
		return "a master"
	}
	for _, c := range view {
		if c.ID == masterID {
			return "a replica of " + names.of(c)
		}
	}
	return "a replica of " + shortID(masterID)
}

// majorVersion reads the major of a Redis version ("7.0.15" is 7).
func majorVersion(v string) (int, bool) {
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	return n, err == nil
}

// slotOwners maps each slot to the ID of the master that serves it in a
// CLUSTER NODES view ("" for none).
func slotOwners(view []topology.ClusterNode) [topology.SlotCount]string {
	var owners [topology.SlotCount]string
	for _, c := range view {
		if !c.Has("master") {
			continue
		}
		for _, r := range c.Slots {
			for s := r.Start; s <= r.End && s < topology.SlotCount; s++ {
				owners[s] = c.ID
			}
		}
	}
	return owners
}

// ranges returns the runs of slots owned by id.
func ranges(owners [topology.SlotCount]string, id string) []topology.SlotRange {
	var out []topology.SlotRange
	for s := 0; s < topology.SlotCount; s++ {
		if owners[s] != id {
			continue
		}
		if len(out) > 0 && out[len(out)-1].End == s-1 {
			out[len(out)-1].End = s
		} else {
			out = append(out, topology.SlotRange{Start: s, End: s})
		}
	}
	return out
}

// masters are the masters of a view that own slots: the shards.
func masters(view []topology.ClusterNode) []topology.ClusterNode {
	var out []topology.ClusterNode
	for _, c := range view {
		if c.Has("master") && len(c.Slots) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// names finds the name of a node of a view: the pod and address Read
// asked it at, else the address it announces.
type names map[string]string

func nodeNames(live Live) names {
	out := names{}
	for _, n := range live.Nodes {
		if me, ok := topology.Myself(n.View); ok {
			out[me.ID] = n.Name()
		}
	}
	return out
}

func (m names) of(c topology.ClusterNode) string {
	if name, ok := m[c.ID]; ok {
		return name
	}
	if c.IP == "" {
		return shortID(c.ID)
	}
	return c.IP + ":" + strconv.Itoa(c.Port)
}

// shortID is the first 8 characters of a node ID, as people quote them.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
