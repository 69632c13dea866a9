// Package adopt reads a Redis Cluster that redis-gitops did not make (by
// hand, by a Helm chart, by another operator) and writes the RedisCluster
// spec that takes it over: `redis-gitops adopt`. Read is the edge (one
// plain go-redis client per node, client-go for the pod and its
// StatefulSet); Spec is a pure function of what Read found, which refuses
// a cluster that cannot be adopted and says what it could not carry over;
// Write prints the spec as YAML with those notes on top.
package adopt

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Live is what Read found of a running cluster.
type Live struct {
	// Namespace is the pod's, or the one Read was given.
	Namespace string
	// Port is the client port Read reached the first node at.
	Port int
	// Nodes are the node Read started from, then every other node of its
	// CLUSTER NODES, in that order. Each was asked on its own.
	Nodes []Node
	// Pod runs the first node, when Read found it (by name, or by IP in
	// Namespace); nil otherwise.
	Pod *corev1.Pod
	// StatefulSet owns Pod (its controller ownerReference); nil when there
	// is no Pod or it has no such owner.
	StatefulSet *appsv1.StatefulSet
	// Auth is the Secret the password was read from (--password-secret,
	// or the pod's requirepass environment variable); nil without one.
	// The password itself is not kept.
	Auth *spec.SecretRef
}

// Node is one Redis node as Read found it.
type Node struct {
	// Addr is the host:port Read asked.
	Addr string
	// Pod is the name of the pod at that address, when Read knows it.
	Pod string
	// Err is why the node could not be read; the fields below are then
	// what was read before it.
	Err error
	// Version is INFO server's redis_version ("7.0.15").
	Version string
	// Config is CONFIG GET *.
	Config map[string]string
	// View is the node's CLUSTER NODES; empty when cluster mode is off.
	View []topology.ClusterNode
	// Modules are the names MODULE LIST gives.
	Modules []string
}

// Name is how messages name the node: its pod and address, or its address.
func (n Node) Name() string {
	if n.Pod != "" {
		return n.Pod + " (" + n.Addr + ")"
	}
	return n.Addr
}

// Note is something Spec could not carry over from the live cluster into
// the spec, or a choice it made for the person to check.
type Note struct {
	// Subject is what the note is about: "setting cluster-announce-ip",
	// "module search", "replicas".
	Subject string
	// Detail says what was left out or chosen, and why.
	Detail string
}

func (n Note) String() string { return n.Subject + ": " + n.Detail }

// Problem is one reason a cluster cannot be adopted.
type Problem struct {
	// Node names the node the problem is on ("" for the whole cluster).
	Node string
	// Reason says what is wrong and, where there is one, what to do.
	Reason string
	// Settling: the nodes do not agree yet (gossip is still spreading a
	// change, such as the roles right after CLUSTER REPLICATE); reading
	// again in a few seconds may find the cluster adoptable.
	Settling bool
}

func (p Problem) String() string {
	if p.Node == "" {
		return p.Reason
	}
	return "node " + p.Node + ": " + p.Reason
}

// RefusedError is a cluster Spec will not adopt, with every reason found.
type RefusedError struct {
	Problems []Problem
}

// Settling tells whether every problem is one that passes once the
// cluster settles, so that reading it again is worth it.
func (e *RefusedError) Settling() bool {
	for _, p := range e.Problems {
		if !p.Settling {
			return false
		}
	}
	return len(e.Problems) > 0
}

func (e *RefusedError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	if len(parts) == 1 {
		return "cannot adopt the cluster: " + parts[0]
	}
	return fmt.Sprintf("cannot adopt the cluster (%d problems):\n  %s", len(parts), strings.Join(parts, "\n  "))
}
