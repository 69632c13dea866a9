// Package cluster is the Redis half of one cluster's reconcile: it reads
// the cluster's pods and every node (through converge's observer), plans
// with the pure planners (topology.PlanTopology, topology.PlanRoll,
// converge.PlanAuth, the settings table), records each plan in the result,
// and executes it step by step, observing and planning again after each
// step: the password first, then the topology, the settings Redis changes
// at runtime and the addresses nodes announce, then the rolling restart.
// A dry run (drift: report, suspend, plans) stops after planning.
package cluster
