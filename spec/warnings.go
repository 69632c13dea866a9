package spec

import "fmt"

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
// limit, in counts). Every node pings every other within
// cluster-node-timeout/2, and each ping carries a 2.2 KB header plus 104
// bytes for each of about a tenth of the nodes (Redis gossips
// max(3, N/10) peers): 3.3 KB at 100 nodes, 12.7 KB at 1000. So the bus
// carries about N² such messages per half node-timeout, and failure
// detection and failover elections slow as N grows.
func (v *validator) size() {
	s := v.c.Spec
	n := s.TotalNodes()
	if n <= WarnNodes || n > MaxNodes || s.Masters > MaxMasters {
		return // small enough, or already an error of counts
	}
	path := "spec.masters"
	if s.Masters <= WarnNodes && v.written("spec.replicasPerMaster") {
		path = "spec.replicasPerMaster" // the replicas take it over the line
	}
	v.fail(path, "makes %d nodes (%d masters × (1 + %d replicas)), more than %d: "+
		"Redis's cluster spec designs for up to ~1000 nodes and a Redis maintainer advises not to exceed 1000 (failures at 2,500: redis/redis#14282); "+
		"Valkey's maintainers put the practical limit near 500 before Valkey 9.0 (valkey-io/valkey#384). "+
		"Every node pings every other within cluster-node-timeout/2 with %s per message, so cluster-bus traffic grows with the square of the node count and failovers slow down. "+
		"Consider splitting it into several clusters of at most %d nodes",
		n, s.Masters, s.Replicas(), WarnNodes, busMessage(n), WarnNodes)
}

// busMessage is the size of one cluster-bus ping in a cluster of n nodes:
// the 2256-byte header of Redis 7's clusterMsg, plus a 104-byte gossip
// entry for each of max(3, n/10) peers.
func busMessage(n int) string {
	gossip := max(3, n/10)
	return fmt.Sprintf("about %.1f KB", float64(2256+104*gossip)/1000)
}
