package serviceproxy

import (
	"errors"
	"net/netip"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestPool(t *testing.T) {
	svc := func(n string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: n} }
	type op struct {
		do   string // allocate, release
		svc  string
		want string // address, or "" for exhausted (allocate) / none held (release)
	}
	tests := []struct {
		name   string
		prefix string
		ops    []op
	}{
		{
			name: "lowest free, stable per Service", prefix: "10.244.254.0/24",
			ops: []op{
				{"allocate", "a", "10.244.254.1"},
				{"allocate", "b", "10.244.254.2"},
				{"allocate", "a", "10.244.254.1"},
				{"release", "a", "10.244.254.1"},
				{"release", "a", ""},
				{"allocate", "c", "10.244.254.1"},
			},
		},
		{
			name: "never network or broadcast; exhaustion", prefix: "10.0.0.0/30",
			ops: []op{
				{"allocate", "a", "10.0.0.1"},
				{"allocate", "b", "10.0.0.2"},
				{"allocate", "c", ""},
				{"release", "b", "10.0.0.2"},
				{"allocate", "c", "10.0.0.2"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPool(netip.MustParsePrefix(tt.prefix))
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range tt.ops {
				switch o.do {
				case "allocate":
					a, err := p.Allocate(svc(o.svc))
					if o.want == "" {
						if !errors.Is(err, ErrPoolExhausted) {
							t.Fatalf("op %d: Allocate(%s) = %v, %v; want ErrPoolExhausted", i, o.svc, a, err)
						}
						continue
					}
					if err != nil || a.String() != o.want {
						t.Fatalf("op %d: Allocate(%s) = %v, %v; want %s", i, o.svc, a, err, o.want)
					}
				case "release":
					a, ok := p.Release(svc(o.svc))
					if got := map[bool]string{true: a.String(), false: ""}[ok]; got != o.want {
						t.Fatalf("op %d: Release(%s) = %q, want %q", i, o.svc, got, o.want)
					}
				}
			}
		})
	}
	for _, bad := range []string{"10.0.0.0/31", "fd00::/64"} {
		if _, err := NewPool(netip.MustParsePrefix(bad)); err == nil {
			t.Errorf("NewPool(%s) succeeded, want error", bad)
		}
	}
}
