// Package announce computes the address each Redis node of a cluster
// gives of itself (cluster-announce-*), from the spec's externalAccess
// and what Kubernetes allocated: pure functions, no clients.
package announce

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Announce settings: what a node gives as its own address.
const (
	IP                    = "cluster-announce-ip"
	Port                  = "cluster-announce-port"
	BusPort               = "cluster-announce-bus-port"
	Hostname              = "cluster-announce-hostname"
	PreferredEndpointType = "cluster-preferred-endpoint-type"
)

// For returns the cluster-announce-* settings each pod's node runs
// with, by pod name, and why a pod has none yet (its load balancer has no
// address, its Kubernetes node is unknown).
//
// Without externalAccess a node announces its pod IP on the standard ports
// (the container starts that way); with NodePort, its Kubernetes node's
// address and its Service's node ports; with LoadBalancer, its Service's
// load balancer IP on the standard ports; with Hostname, a DNS name as
// well, which clients are told to prefer; with spec.tls and no
// externalAccess, its pod IP and, preferred, its DNS name through the
// headless Service. Every setting is stated, so
// that turning externalAccess off brings nodes back to their pod address
// with no restart.
func For(c *spec.RedisCluster, pods []topology.Pod, services map[string]*corev1.Service, nodes map[string]*corev1.Node) (map[string]map[string]string, []string) {
	out := map[string]map[string]string{}
	var waiting []string
	e := c.Spec.ExternalAccess
	for _, p := range pods {
		if p.IP == "" {
			continue
		}
		a := map[string]string{
			IP: p.IP, Port: "0", BusPort: "0",
			Hostname: "", PreferredEndpointType: "ip",
		}
		switch {
		case e == nil && c.Spec.TLS != nil:
			// Over TLS a client verifies a node by name, and no
			// certificate carries pod IPs: the node gives its DNS name
			// through the headless Service, in CLUSTER SLOTS, CLUSTER
			// SHARDS and redirections, so cluster clients connect to (and
			// verify) names the certificate carries.
			a[Hostname] = render.PodDNSName(c, p.Name)
			a[PreferredEndpointType] = "hostname"
		case e == nil:
		case e.Type == spec.ExternalHostname:
			a[Hostname] = spec.ExpandHostname(e.Hostname, p.Name, c.Metadata.Namespace, c.Metadata.Name)
			a[PreferredEndpointType] = "hostname"
		case e.Type == spec.ExternalNodePort || e.Type == spec.ExternalLoadBalancer:
			svc := services[render.ExternalServiceName(p.Name)]
			if svc == nil {
				waiting = append(waiting, fmt.Sprintf("%s: its Service %s does not exist yet", p.Name, render.ExternalServiceName(p.Name)))
				continue
			}
			var client, bus int32
			for _, sp := range svc.Spec.Ports {
				port := sp.Port
				if e.Type == spec.ExternalNodePort {
					port = sp.NodePort
				}
				switch sp.Name {
				case "client":
					client = port
				case "bus":
					bus = port
				}
			}
			ip := ""
			if e.Type == spec.ExternalNodePort {
				ip = nodeAddress(nodes[p.Node], e.AddressType)
				if ip == "" {
					waiting = append(waiting, fmt.Sprintf("%s: Kubernetes node %q has no %s or InternalIP address", p.Name, p.Node, e.AddressType))
					continue
				}
			} else {
				for _, in := range svc.Status.LoadBalancer.Ingress {
					if in.IP != "" {
						ip = in.IP
						break
					}
				}
				if ip == "" {
					waiting = append(waiting, fmt.Sprintf("%s: its load balancer has no IP yet", p.Name))
					continue
				}
			}
			if client == 0 || bus == 0 {
				waiting = append(waiting, fmt.Sprintf("%s: its Service has no client and bus ports allocated yet", p.Name))
				continue
			}
			a[IP], a[Port], a[BusPort] = ip, strconv.Itoa(int(client)), strconv.Itoa(int(bus))
		}
		out[p.Name] = a
	}
	return out, waiting
}

// nodeAddress is a Kubernetes node's address of type want (ExternalIP
// falls back to InternalIP: many clusters have no external addresses).
func nodeAddress(n *corev1.Node, want string) string {
	if n == nil {
		return ""
	}
	find := func(t corev1.NodeAddressType) string {
		for _, a := range n.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return a.Address
			}
		}
		return ""
	}
	if want == spec.AddressExternalIP {
		if ip := find(corev1.NodeExternalIP); ip != "" {
			return ip
		}
	}
	return find(corev1.NodeInternalIP)
}
