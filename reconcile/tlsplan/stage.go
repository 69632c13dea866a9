// Package tlsplan decides, over values, how a running cluster's TLS
// changes: the stages of switching it from plaintext to TLS and back
// (PlanSwitch), and which nodes reload a renewed certificate (PlanReload).
// It reads and writes nothing; package cluster runs its steps.
//
// The stages, measured on redis-server 7.0.15 (each a runtime CONFIG SET,
// no restart, no full resync):
//
//  1. Both ports: a TLS listener opens beside the plaintext one (tls-port).
//     Bus, replication and redirections stay plaintext.
//  2. Bus and replication over TLS (tls-cluster, tls-replication, on every
//     node back to back: a node on a TLS bus and one on a plaintext bus do
//     not hear each other). Replicas reconnect to their master's TLS port
//     and continue with a partial resync. From here CLUSTER SLOTS, CLUSTER
//     NODES and MOVED name the TLS port: Redis 7.0 gives every client the
//     same port (7.2 gives plaintext clients the plaintext one), so this is
//     the moment cluster clients move to TLS.
//  3. TLS only: the plaintext port closes (port 0), unless the spec keeps
//     it for a migration window.
//
// Redis 7.0 re-derives the ports it announces only when an announce
// setting is set, so a stage that flips tls-cluster also sets
// cluster-announce-(tls-)port again (Reannounce); and the bus port must be
// set explicitly (cluster-port), or flipping tls-cluster moves the
// announced bus port to tls-port+10000, where nothing listens.
package tlsplan

import "fmt"

// Stage is how far a node, or a cluster, is on the way from plaintext to
// TLS.
type Stage int

// The stages, in the order a switch to TLS takes them.
const (
	Off       Stage = iota // plaintext only
	Listening              // TLS port open too; bus, replication and redirections plaintext
	Bus                    // bus and replication over TLS, redirections name the TLS port; plaintext port open
	Only                   // TLS only: the plaintext port is closed
)

var stageNames = [...]string{"plaintext", "both ports", "bus and replication over TLS", "TLS only"}

func (s Stage) String() string {
	if s < Off || s > Only {
		return fmt.Sprintf("stage(%d)", int(s))
	}
	return stageNames[s]
}

// Ports are a node's client ports: plaintext and TLS.
type Ports struct {
	Plain, TLS int
}

// Setting is one redis.conf directive and its value.
type Setting struct {
	Key, Value string
}

// Listen is what a node of stage s runs with: the four settings that differ
// between the stages, in the order CONFIG SET and redis.conf take them.
func Listen(s Stage, p Ports) []Setting {
	port, tlsPort, bus := fmt.Sprint(p.Plain), "0", "no"
	if s >= Listening {
		tlsPort = fmt.Sprint(p.TLS)
	}
	if s >= Bus {
		bus = "yes"
	}
	if s == Only {
		port = "0"
	}
	return []Setting{{"port", port}, {"tls-port", tlsPort}, {"tls-cluster", bus}, {"tls-replication", bus}}
}

// Node is what one node runs, read before any change (CONFIG GET).
type Node struct {
	Pod string
	// Ports are the ports the node serves on when open: the plaintext
	// and the TLS port of its pod.
	Ports       Ports
	Port        int // 0: plaintext closed
	TLSPort     int // 0: no TLS listener
	Cluster     bool
	Replication bool
	// HasCert: the node was started with a certificate (tls-cert-file
	// set), so it can open a TLS listener at runtime. A node without one
	// must restart with the certificate volume first.
	HasCert bool
}

// Stage is the node's stage. A node between two stages (a switch stopped
// half-way through its settings) counts as the lower one, so the plan sets
// what is missing.
func (n Node) Stage() Stage {
	switch {
	case n.TLSPort == 0:
		return Off
	case !n.Cluster || !n.Replication:
		return Listening
	case n.Port != 0:
		return Bus
	}
	return Only
}

// NodeFromConfig reads a Node serving on ports from CONFIG GET's pairs.
func NodeFromConfig(pod string, ports Ports, conf map[string]string) (Node, error) {
	n := Node{Pod: pod, Ports: ports, Cluster: conf["tls-cluster"] == "yes", Replication: conf["tls-replication"] == "yes", HasCert: conf["tls-cert-file"] != ""}
	for key, dst := range map[string]*int{"port": &n.Port, "tls-port": &n.TLSPort} {
		v, ok := conf[key]
		if !ok {
			return Node{}, fmt.Errorf("%s: CONFIG GET %s: no value", pod, key)
		}
		if _, err := fmt.Sscan(v, dst); err != nil {
			return Node{}, fmt.Errorf("%s: CONFIG GET %s: %q is not a port", pod, key, v)
		}
	}
	return n, nil
}

// MarshalText writes a stage by its name, as reports show it.
func (s Stage) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a stage by its name.
func (s *Stage) UnmarshalText(b []byte) error {
	for x := Off; x <= Only; x++ {
		if x.String() == string(b) {
			*s = x
			return nil
		}
	}
	return fmt.Errorf("tls stage %q: none of %q", b, stageNames)
}
