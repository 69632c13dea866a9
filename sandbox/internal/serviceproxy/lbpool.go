package serviceproxy

import (
	"errors"
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/types"
)

// ErrPoolExhausted is returned when every LoadBalancer address is taken.
var ErrPoolExhausted = errors.New("no free LoadBalancer address")

// Pool hands out LoadBalancer addresses from a prefix to Services: the
// lowest free one, never the prefix's first (network) or last (broadcast)
// address. It is not safe for concurrent use; the proxy's reconcile loop
// owns it.
type Pool struct {
	prefix    netip.Prefix
	byService map[types.NamespacedName]netip.Addr
	used      map[netip.Addr]types.NamespacedName
}

// NewPool returns an empty pool over prefix, an IPv4 prefix of at most /30.
func NewPool(prefix netip.Prefix) (*Pool, error) {
	if !prefix.IsValid() || !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return nil, fmt.Errorf("LoadBalancer pool %v: need an IPv4 prefix of /30 or shorter", prefix)
	}
	return &Pool{
		prefix:    prefix.Masked(),
		byService: map[types.NamespacedName]netip.Addr{},
		used:      map[netip.Addr]types.NamespacedName{},
	}, nil
}

// Allocate returns svc's address, assigning the lowest free one if it has
// none.
func (p *Pool) Allocate(svc types.NamespacedName) (netip.Addr, error) {
	if a, ok := p.byService[svc]; ok {
		return a, nil
	}
	for a := p.prefix.Addr().Next(); p.prefix.Contains(a.Next()); a = a.Next() {
		if _, taken := p.used[a]; !taken {
			p.byService[svc] = a
			p.used[a] = svc
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("LoadBalancer address for %s in %v: %w", svc, p.prefix, ErrPoolExhausted)
}

// Release frees svc's address and returns it; ok is false if it had none.
func (p *Pool) Release(svc types.NamespacedName) (addr netip.Addr, ok bool) {
	addr, ok = p.byService[svc]
	if ok {
		delete(p.byService, svc)
		delete(p.used, addr)
	}
	return addr, ok
}

// Assigned returns a copy of every Service's address.
func (p *Pool) Assigned() map[types.NamespacedName]netip.Addr {
	out := make(map[types.NamespacedName]netip.Addr, len(p.byService))
	for k, v := range p.byService {
		out[k] = v
	}
	return out
}
