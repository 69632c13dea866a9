package podnet

import (
	"fmt"
	"net/netip"
)

// HostRanges are the two /24s at the top of a pod CIDR that the sandbox
// keeps for addresses the host itself holds on the bridge, so pods reach
// them on plain L2 like any other pod: node external addresses and
// LoadBalancer addresses. Pod IPAM must never hand them out (ReservePrefix).
type HostRanges struct {
	// Nodes holds node ExternalIPs: the top /24, e.g. 10.244.255.0/24;
	// node i gets .(1+i).
	Nodes netip.Prefix
	// LoadBalancers holds LoadBalancer Service addresses: the /24 below
	// Nodes, e.g. 10.244.254.0/24.
	LoadBalancers netip.Prefix
}

// HostRangesOf splits the host ranges off podCIDR, which must be IPv4 and
// at least a /22 so that pods keep at least half of it.
func HostRangesOf(podCIDR netip.Prefix) (HostRanges, error) {
	if !podCIDR.IsValid() || !podCIDR.Addr().Is4() || podCIDR.Bits() > 22 {
		return HostRanges{}, fmt.Errorf("host ranges of %v: need an IPv4 prefix of /22 or shorter", podCIDR)
	}
	top := broadcast(podCIDR).As4()
	top[3] = 0
	nodes := netip.PrefixFrom(netip.AddrFrom4(top), 24)
	top[2]--
	lbs := netip.PrefixFrom(netip.AddrFrom4(top), 24)
	return HostRanges{Nodes: nodes, LoadBalancers: lbs}, nil
}

// NodeAddress is the external address of the i-th node (0-based): .(1+i)
// of Nodes, so at most 254 nodes.
func (r HostRanges) NodeAddress(i int) (netip.Addr, error) {
	if i < 0 || i > 253 {
		return netip.Addr{}, fmt.Errorf("node external address %d: only 254 nodes fit in %v", i, r.Nodes)
	}
	a := r.Nodes.Addr().As4()
	a[3] = byte(1 + i)
	return netip.AddrFrom4(a), nil
}
