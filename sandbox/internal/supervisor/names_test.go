package supervisor

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestNodeNamesAndZones(t *testing.T) {
	tests := []struct {
		i, zones   int
		name, zone string
		addr       string
	}{
		{0, 3, "sandbox-node-a", "zone-a", "127.0.1.1"},
		{2, 3, "sandbox-node-c", "zone-c", "127.0.1.3"},
		{2, 2, "sandbox-node-c", "zone-a", "127.0.1.3"},
		{3, 2, "sandbox-node-d", "zone-b", "127.0.1.4"},
		{25, 1, "sandbox-node-z", "zone-a", "127.0.1.26"},
		{26, 0, "sandbox-node-aa", "zone-a", "127.0.1.27"},
		{27, 26, "sandbox-node-ab", "zone-b", "127.0.1.28"},
		{250, 1, "sandbox-node-iq", "zone-a", "127.0.2.1"},
	}
	for _, tt := range tests {
		if got := NodeName(tt.i); got != tt.name {
			t.Errorf("NodeName(%d) = %s, want %s", tt.i, got, tt.name)
		}
		if got := Zone(tt.i, tt.zones); got != tt.zone {
			t.Errorf("Zone(%d, %d) = %s, want %s", tt.i, tt.zones, got, tt.zone)
		}
		if got := NodeAddress(tt.i); got != tt.addr {
			t.Errorf("NodeAddress(%d) = %s, want %s", tt.i, got, tt.addr)
		}
	}
}

func TestPickPodCIDR(t *testing.T) {
	busy := func(taken ...string) func(netip.Prefix) (bool, error) {
		return func(p netip.Prefix) (bool, error) {
			for _, s := range taken {
				if netip.MustParsePrefix(s).Overlaps(p) {
					return true, nil
				}
			}
			return false, nil
		}
	}
	if got, err := PickPodCIDR(busy()); err != nil || got.String() != "10.244.0.0/16" {
		t.Errorf("free host: got %v, %v", got, err)
	}
	if got, err := PickPodCIDR(busy("10.244.0.0/16", "10.245.3.0/24")); err != nil || got.String() != "10.246.0.0/16" {
		t.Errorf("two taken: got %v, %v", got, err)
	}
	if _, err := PickPodCIDR(busy("10.0.0.0/8")); err == nil {
		t.Error("all taken: want an error")
	}
	if _, err := PickPodCIDR(func(netip.Prefix) (bool, error) { return false, fmt.Errorf("boom") }); err == nil {
		t.Error("lookup error: want an error")
	}
}

func TestNamesFor(t *testing.T) {
	a, _ := NamesFor("/tmp/a")
	b, _ := NamesFor("/tmp/b")
	if a.Bridge == b.Bridge || len(a.Bridge) > 15 {
		t.Errorf("bridges %q %q: want distinct names of at most 15 bytes", a.Bridge, b.Bridge)
	}
	if a.NetnsPrefix != a.Bridge+"-" {
		t.Errorf("netns prefix %q", a.NetnsPrefix)
	}
}
