package spec

import (
	"fmt"
	"time"
)

// WarnNodes is the node count above which Warnings advises splitting the
// cluster: valid up to MaxNodes, but past where large clusters are known
// to strain. Valkey's maintainers put the practical limit of its cluster
// bus near 500 nodes before Valkey 9.0 (valkey-io/valkey#384), and the
// bus's load grows with the square of the node count.
const WarnNodes = 500

// Warnings returns what is valid but unwise in a defaulted, valid cluster,
// each placed like Validate's errors at the field to change. A warning does
// not make the spec invalid: validate prints it and succeeds, and the
// pull-request plan lists it.
func (c *RedisCluster) Warnings() ErrorList {
	v := &validator{c: c}
	v.size()
	v.errs.Sort()
	return v.errs
}

// size warns of a cluster above WarnNodes nodes (MaxNodes is the hard
// limit, in counts), or whose node timeout makes its cluster bus busier
// than BusWarnBytes a node. Every node pings every other within
// cluster-node-timeout/2, and each ping carries a 2.2 KB header plus 104
// bytes for each of about a tenth of the nodes (Redis gossips
// max(3, N/10) peers): 3.3 KB at 100 nodes, 12.7 KB at 1000. So the bus
// carries about N² such messages per half node-timeout, and failure
// detection and failover elections slow as N grows.
func (v *validator) size() {
	s := v.c.Spec
	n := s.TotalNodes()
	if n > MaxNodes || s.Masters > MaxMasters {
		return // already an error of counts
	}
	timeout := s.Redis.NodeTimeout.Duration
	bus := BusBytesPerNode(n, timeout)
	if n <= WarnNodes {
		if bus > BusWarnBytes && timeout > 0 {
			v.fail("spec.redis.nodeTimeout", "%s with %d nodes makes each node send about %s of cluster-bus messages (a ping to every other node every %s, and the answers to theirs), %s over the cluster. %s "+
				"Raise nodeTimeout (doubling it about halves that) or split the cluster",
				timeout, n, rate(bus), timeout/2, rate(bus*float64(n)), measuredBus)
		}
		return
	}
	path := "spec.masters"
	if s.Masters <= WarnNodes && v.written("spec.replicasPerMaster") {
		path = "spec.replicasPerMaster" // the replicas take it over the line
	}
	v.fail(path, "makes %d nodes (%d masters × (1 + %d replicas)), more than %d: "+
		"Redis's cluster spec designs for up to ~1000 nodes and a Redis maintainer advises not to exceed 1000 (failures at 2,500: redis/redis#14282); "+
		"Valkey's maintainers put the practical limit near 500 before Valkey 9.0 (valkey-io/valkey#384). "+
		"Every node pings every other within cluster-node-timeout/2 with %s per message, so cluster-bus traffic grows with the square of the node count and failovers slow down: "+
		"about %s a node and %s over the cluster with nodeTimeout %s. %s "+
		"Consider splitting it into several clusters of at most %d nodes",
		n, s.Masters, s.Replicas(), WarnNodes, busMessage(n), rate(bus), rate(bus*float64(n)), timeout, measuredBus, WarnNodes)
}

// BusWarnBytes is the cluster-bus traffic a node sends, in bytes a
// second, above which Warnings warns even below WarnNodes: a megabyte a
// second, which BusBytesPerNode passes from 762 nodes with nodeTimeout
// 15s, 406 with 5s, 142 with 1s.
const BusWarnBytes = 1 << 20

// measuredBus is what this project measured (BenchmarkLargeCluster, `make
// bench`), which BusBytesPerNode is checked against.
const measuredBus = "Measured by this project on a 2-core machine (2026-12-05, Redis 7.0.15, nodeTimeout 15s): " +
	"6.1 KB/s a node at 6 nodes, 14 KB/s at 30, 39 KB/s at 90 (means of three runs, 31 to 46 KB/s at 90; BusBytesPerNode's estimate is within 15% of each mean), " +
	"and a stopped master's replica elected and serving in 18 to 23 s at each of the three sizes."

// BusBytesPerNode estimates the cluster-bus bytes a node of an n-node
// cluster sends a second at rest, with node timeout t: a ping to each of
// its n-1 peers every t/2 and a pong answering each of theirs, plus the
// ping to a random node Redis sends every second and its pong, each of
// busMessage's size. It is within 15% of what BenchmarkLargeCluster
// measured at 6, 30 and 90 nodes (the means of three runs).
func BusBytesPerNode(n int, t time.Duration) float64 {
	if n < 2 || t <= 0 {
		return 0
	}
	perSecond := 2*float64(n-1)/t.Seconds() + 2
	return perSecond * float64(busBytes(n))
}

// busBytes is the size of one cluster-bus ping in a cluster of n nodes:
// the 2256-byte header of Redis 7's clusterMsg, plus a 104-byte gossip
// entry for each of max(3, n/10) peers.
func busBytes(n int) int {
	return 2256 + 104*max(3, n/10)
}

func busMessage(n int) string {
	return fmt.Sprintf("about %.1f KB", float64(busBytes(n))/1000)
}

// rate says bytes a second in KB/s up to a megabyte, in MB/s above.
func rate(b float64) string {
	if b >= 1e6 {
		return fmt.Sprintf("%.1f MB/s", b/1e6)
	}
	return fmt.Sprintf("%.0f KB/s", b/1e3)
}
