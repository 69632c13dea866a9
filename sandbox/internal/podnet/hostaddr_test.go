package podnet

import (
	"errors"
	"net/netip"
	"testing"
)

func TestHostRanges(t *testing.T) {
	tests := []struct {
		podCIDR        string
		nodes, lbs     string
		node0, node253 string
		wantErr        bool
	}{
		{podCIDR: "10.244.0.0/16", nodes: "10.244.255.0/24", lbs: "10.244.254.0/24", node0: "10.244.255.1", node253: "10.244.255.254"},
		{podCIDR: "10.250.7.9/16", nodes: "10.250.255.0/24", lbs: "10.250.254.0/24", node0: "10.250.255.1", node253: "10.250.255.254"},
		{podCIDR: "10.0.0.0/22", nodes: "10.0.3.0/24", lbs: "10.0.2.0/24", node0: "10.0.3.1", node253: "10.0.3.254"},
		{podCIDR: "10.0.0.0/23", wantErr: true},
		{podCIDR: "fd00::/64", wantErr: true},
	}
	for _, tt := range tests {
		r, err := HostRangesOf(netip.MustParsePrefix(tt.podCIDR))
		if (err != nil) != tt.wantErr {
			t.Fatalf("HostRangesOf(%s): err = %v, wantErr %v", tt.podCIDR, err, tt.wantErr)
		}
		if tt.wantErr {
			continue
		}
		if r.Nodes.String() != tt.nodes || r.LoadBalancers.String() != tt.lbs {
			t.Errorf("HostRangesOf(%s) = %v, %v; want %s, %s", tt.podCIDR, r.Nodes, r.LoadBalancers, tt.nodes, tt.lbs)
		}
		for i, want := range map[int]string{0: tt.node0, 253: tt.node253} {
			if got, err := r.NodeAddress(i); err != nil || got.String() != want {
				t.Errorf("%s: NodeAddress(%d) = %v, %v; want %s", tt.podCIDR, i, got, err, want)
			}
		}
		if _, err := r.NodeAddress(254); err == nil {
			t.Errorf("%s: NodeAddress(254) succeeded, want error", tt.podCIDR)
		}
	}
}

// TestReservePrefix: with the host ranges reserved, pod IPAM hands out
// every other address and none of theirs.
func TestReservePrefix(t *testing.T) {
	subnet := netip.MustParsePrefix("10.0.0.0/22")
	m, err := NewIPAM(subnet, netip.MustParseAddr("10.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := HostRangesOf(subnet)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		for _, p := range []netip.Prefix{r.Nodes, r.LoadBalancers} {
			if err := m.ReservePrefix(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := 0
	for ; ; n++ {
		a, err := m.Allocate(netip.AddrFrom4([4]byte{0, 0, byte(n >> 8), byte(n)}).String())
		if errors.Is(err, ErrExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.Nodes.Contains(a) || r.LoadBalancers.Contains(a) {
			t.Fatalf("Allocate gave %v, inside a reserved host range", a)
		}
	}
	// 10.0.0.0-10.0.1.255 less the network address and the gateway.
	if want := 510; n != want {
		t.Errorf("allocated %d addresses, want %d", n, want)
	}
	if err := m.ReservePrefix(netip.MustParsePrefix("10.0.4.0/24")); err == nil {
		t.Error("ReservePrefix outside the subnet succeeded")
	}
	if err := m.ReservePrefix(netip.MustParsePrefix("10.0.0.0/24")); err == nil {
		t.Error("ReservePrefix over allocated addresses succeeded")
	}
}
