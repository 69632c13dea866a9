// Package serviceproxy is the sandbox's kube-proxy for traffic from outside
// the cluster: a userspace TCP proxy, like kube-proxy's old userspace mode,
// for Services of type NodePort and LoadBalancer. It listens on every
// running node's addresses at each nodePort and on each LoadBalancer
// Service's address at its ports, and forwards every connection to a ready
// endpoint of the Service. Pods reach those addresses too: they live on the
// sandbox bridge. ClusterIP routing is not its business.
package serviceproxy

import (
	"net/netip"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Node is a node the proxy answers for: its name and the addresses it
// listens on (ExternalIP and InternalIP).
type Node struct {
	Name  string
	Addrs []netip.Addr
}

// Target is what a listener forwards to: one port of one Service.
type Target struct {
	Service types.NamespacedName
	// Port is the Service port's name ("" for a single unnamed port);
	// EndpointSlices name their ports the same.
	Port string
	// Node is set for a nodePort listener of a Service with
	// externalTrafficPolicy Local: only that node's endpoints serve it.
	Node string
}

// Listeners is what the proxy should listen on: for every TCP port of every
// NodePort or LoadBalancer Service, each running node's addresses at the
// nodePort, and for a LoadBalancer Service with an address in lbAddrs that
// address at the Service port.
func Listeners(services []*corev1.Service, nodes []Node, lbAddrs map[types.NamespacedName]netip.Addr) map[netip.AddrPort]Target {
	out := map[netip.AddrPort]Target{}
	for _, svc := range services {
		t := svc.Spec.Type
		if t != corev1.ServiceTypeNodePort && t != corev1.ServiceTypeLoadBalancer {
			continue
		}
		key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
		local := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
		lb, hasLB := lbAddrs[key]
		for _, sp := range svc.Spec.Ports {
			if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
				continue
			}
			if sp.NodePort > 0 {
				for _, n := range nodes {
					target := Target{Service: key, Port: sp.Name}
					if local {
						target.Node = n.Name
					}
					for _, a := range n.Addrs {
						out[netip.AddrPortFrom(a, uint16(sp.NodePort))] = target
					}
				}
			}
			if t == corev1.ServiceTypeLoadBalancer && hasLB && sp.Port > 0 {
				out[netip.AddrPortFrom(lb, uint16(sp.Port))] = Target{Service: key, Port: sp.Name}
			}
		}
	}
	return out
}

// Endpoint is one backend address of a Service port.
type Endpoint struct {
	Addr netip.AddrPort
	Node string
}

// Endpoints returns the endpoints a connection to target may go to, in a
// stable order: the ready ones; if there are none, the serving ones that are
// terminating (kube-proxy's fallback, so that a rolling pod keeps taking
// connections until its replacement is ready). Services that publish
// not-ready addresses have every endpoint ready already: the EndpointSlice
// controller marks them so. slices are the Service's EndpointSlices.
func Endpoints(slices []*discoveryv1.EndpointSlice, target Target) []Endpoint {
	var ready, terminating []Endpoint
	seen := map[netip.AddrPort]bool{}
	for _, s := range slices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		port, ok := slicePort(s, target.Port)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			node := ""
			if ep.NodeName != nil {
				node = *ep.NodeName
			}
			if target.Node != "" && node != target.Node {
				continue
			}
			// A nil condition means unknown, which the API says to treat
			// as ready/serving; terminating defaults to false.
			isReady := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			serving := ep.Conditions.Serving == nil || *ep.Conditions.Serving
			term := ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
			for _, a := range ep.Addresses {
				addr, err := netip.ParseAddr(a)
				if err != nil {
					continue
				}
				e := Endpoint{Addr: netip.AddrPortFrom(addr, port), Node: node}
				if seen[e.Addr] {
					continue
				}
				switch {
				case isReady && !term:
					ready = append(ready, e)
				case serving && term:
					terminating = append(terminating, e)
				default:
					continue
				}
				seen[e.Addr] = true
			}
		}
	}
	out := ready
	if len(out) == 0 {
		out = terminating
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.Compare(out[j].Addr) < 0 })
	return out
}

// slicePort finds the TCP port named name in an EndpointSlice: the Service
// port's targetPort, resolved for the pods of that slice.
func slicePort(s *discoveryv1.EndpointSlice, name string) (uint16, bool) {
	for _, p := range s.Ports {
		pname := ""
		if p.Name != nil {
			pname = *p.Name
		}
		if pname != name || p.Port == nil || *p.Port <= 0 {
			continue
		}
		if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
			continue
		}
		return uint16(*p.Port), true
	}
	return 0, false
}

// Cut reports whether a node partition separates a client on node from
// ("" for the host, which is not a pod) and an endpoint on node to. The
// sandbox's `node partition` cuts a node's pods off every other node's pods
// but not off the host, and the proxy must not bridge that gap: without
// this, a pod on a healthy node would still reach a partitioned pod through
// a nodePort, since the proxy dials from the host.
func Cut(from, to string, partitioned map[string]bool) bool {
	return from != "" && from != to && (partitioned[from] || partitioned[to])
}

// Rotate returns eps starting at the n-th (modulo its length), so that
// successive connections spread over the endpoints round-robin and a dial
// failure falls through to the next one.
func Rotate(eps []Endpoint, n uint64) []Endpoint {
	if len(eps) == 0 {
		return nil
	}
	i := int(n % uint64(len(eps)))
	return slices.Concat(eps[i:], eps[:i])
}
