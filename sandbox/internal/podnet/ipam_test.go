package podnet

import (
	"errors"
	"net/netip"
	"testing"
)

func TestIPAM(t *testing.T) {
	mp := netip.MustParsePrefix
	ma := netip.MustParseAddr
	type op struct {
		do      string // allocate, release, reserve, claim
		key     string
		addr    string // expected (allocate) or argument (reserve, claim)
		wantErr bool
	}
	tests := []struct {
		name    string
		subnet  string
		gateway string
		ops     []op
	}{
		{
			name: "skips network and gateway", subnet: "10.244.0.0/16", gateway: "10.244.0.1",
			ops: []op{
				{do: "allocate", key: "a", addr: "10.244.0.2"},
				{do: "allocate", key: "b", addr: "10.244.0.3"},
				{do: "allocate", key: "a", addr: "10.244.0.2"}, // same key, same address
			},
		},
		{
			name: "skips broadcast and wraps", subnet: "192.168.7.0/29", gateway: "192.168.7.1",
			ops: []op{
				{do: "allocate", key: "a", addr: "192.168.7.2"},
				{do: "allocate", key: "b", addr: "192.168.7.3"},
				{do: "allocate", key: "c", addr: "192.168.7.4"},
				{do: "allocate", key: "d", addr: "192.168.7.5"},
				{do: "release", key: "b"},
				{do: "allocate", key: "e", addr: "192.168.7.6"}, // .7 is broadcast
				{do: "allocate", key: "f", addr: "192.168.7.3"}, // wrapped to the freed one
				{do: "allocate", key: "g", wantErr: true},
			},
		},
		{
			name: "released address is reused last", subnet: "10.0.0.0/24", gateway: "10.0.0.1",
			ops: []op{
				{do: "allocate", key: "a", addr: "10.0.0.2"},
				{do: "release", key: "a"},
				{do: "allocate", key: "b", addr: "10.0.0.3"},
				{do: "release", key: "nobody"},
			},
		},
		{
			name: "gateway not at the bottom", subnet: "10.0.0.0/30", gateway: "10.0.0.2",
			ops: []op{
				{do: "allocate", key: "a", addr: "10.0.0.1"},
				{do: "allocate", key: "b", wantErr: true},
			},
		},
		{
			name: "reserve", subnet: "10.0.0.0/24", gateway: "10.0.0.1",
			ops: []op{
				{do: "reserve", addr: "10.0.0.2"},
				{do: "reserve", addr: "10.0.0.2"}, // idempotent
				{do: "reserve", addr: "10.0.0.1"}, // the gateway is reserved already
				{do: "allocate", key: "a", addr: "10.0.0.3"},
				{do: "reserve", addr: "10.0.0.3", wantErr: true}, // held by a
				{do: "reserve", addr: "10.0.0.0", wantErr: true}, // network
				{do: "reserve", addr: "10.0.0.255", wantErr: true},
				{do: "reserve", addr: "10.0.1.1", wantErr: true},
			},
		},
		{
			name: "claim", subnet: "10.0.0.0/24", gateway: "10.0.0.1",
			ops: []op{
				{do: "claim", key: "a", addr: "10.0.0.7"},
				{do: "claim", key: "a", addr: "10.0.0.7"},
				{do: "claim", key: "a", addr: "10.0.0.8", wantErr: true}, // a holds .7
				{do: "claim", key: "b", addr: "10.0.0.7", wantErr: true}, // taken
				{do: "claim", key: "b", addr: "10.0.0.1", wantErr: true}, // gateway
				{do: "allocate", key: "a", addr: "10.0.0.7"},
				{do: "allocate", key: "c", addr: "10.0.0.2"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewIPAM(mp(tt.subnet), ma(tt.gateway))
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range tt.ops {
				var err error
				switch o.do {
				case "allocate":
					var got netip.Addr
					got, err = m.Allocate(o.key)
					if err == nil && got.String() != o.addr {
						t.Fatalf("op %d: Allocate(%s) = %v, want %s", i, o.key, got, o.addr)
					}
					if o.wantErr && !errors.Is(err, ErrExhausted) {
						t.Fatalf("op %d: Allocate(%s) error = %v, want ErrExhausted", i, o.key, err)
					}
				case "release":
					m.Release(o.key)
					if _, ok := m.Lookup(o.key); ok {
						t.Fatalf("op %d: %s still holds an address after Release", i, o.key)
					}
				case "reserve":
					err = m.Reserve(ma(o.addr))
				case "claim":
					err = m.Claim(o.key, ma(o.addr))
				}
				if (err != nil) != o.wantErr {
					t.Fatalf("op %d (%s %s %s): err = %v, wantErr %v", i, o.do, o.key, o.addr, err, o.wantErr)
				}
			}
		})
	}
}

func TestNewIPAMRejects(t *testing.T) {
	tests := []struct{ subnet, gateway string }{
		{"fd00::/64", "fd00::1"},
		{"10.0.0.0/31", "10.0.0.0"},
		{"10.0.0.0/24", "10.0.1.1"},
	}
	for _, tt := range tests {
		if _, err := NewIPAM(netip.MustParsePrefix(tt.subnet), netip.MustParseAddr(tt.gateway)); err == nil {
			t.Errorf("NewIPAM(%s, %s) succeeded, want error", tt.subnet, tt.gateway)
		}
	}
}

func TestSplitPrefix(t *testing.T) {
	tests := []struct{ in, lo, hi string }{
		{"10.244.0.0/16", "10.244.0.0/17", "10.244.128.0/17"},
		{"10.244.7.9/16", "10.244.0.0/17", "10.244.128.0/17"},
		{"10.0.0.0/8", "10.0.0.0/9", "10.128.0.0/9"},
		{"192.168.1.0/24", "192.168.1.0/25", "192.168.1.128/25"},
		{"192.168.1.4/31", "192.168.1.4/32", "192.168.1.5/32"},
		{"0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1"},
	}
	for _, tt := range tests {
		got, err := splitPrefix(netip.MustParsePrefix(tt.in))
		if err != nil {
			t.Fatalf("splitPrefix(%s): %v", tt.in, err)
		}
		if got[0].String() != tt.lo || got[1].String() != tt.hi {
			t.Errorf("splitPrefix(%s) = %v, want [%s %s]", tt.in, got, tt.lo, tt.hi)
		}
	}
	if _, err := splitPrefix(netip.MustParsePrefix("10.0.0.1/32")); err == nil {
		t.Error("splitPrefix(/32) succeeded, want error")
	}
}

func TestVethName(t *testing.T) {
	a, b := VethName("sbx-ab12-p1"), VethName("sbx-ab12-p2")
	if len(a) != 12 || a[:2] != VethPrefix || a == b || a != VethName("sbx-ab12-p1") {
		t.Fatalf("VethName gave %q and %q", a, b)
	}
}
