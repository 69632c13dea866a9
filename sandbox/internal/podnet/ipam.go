package podnet

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// ErrExhausted is returned by IPAM.Allocate when no address is free.
var ErrExhausted = errors.New("no free address")

// IPAM hands out IPv4 addresses from a subnet to keys (pod UIDs, netns
// names). It never hands out the network address, the broadcast address or
// the gateway. It is safe for concurrent use. It keeps no state on disk: after
// a restart, rebuild it with Claim for the pods that still exist.
type IPAM struct {
	mu       sync.Mutex
	subnet   netip.Prefix
	first    netip.Addr // lowest assignable address
	last     netip.Addr // highest assignable address
	next     netip.Addr // where the next search starts
	byKey    map[string]netip.Addr
	used     map[netip.Addr]string // address -> key; "" for Reserve
	reserved map[netip.Addr]bool
}

// NewIPAM returns an allocator for subnet (e.g. 10.244.0.0/16) that never
// hands out gateway (e.g. 10.244.0.1). subnet must be IPv4 and leave at
// least one assignable address.
func NewIPAM(subnet netip.Prefix, gateway netip.Addr) (*IPAM, error) {
	if !subnet.IsValid() || !subnet.Addr().Is4() {
		return nil, fmt.Errorf("ipam %v: subnet must be IPv4", subnet)
	}
	if subnet.Bits() > 30 {
		return nil, fmt.Errorf("ipam %v: subnet too small", subnet)
	}
	subnet = subnet.Masked()
	if !subnet.Contains(gateway) {
		return nil, fmt.Errorf("ipam %v: gateway %v outside subnet", subnet, gateway)
	}
	m := &IPAM{
		subnet:   subnet,
		first:    subnet.Addr().Next(),
		last:     broadcast(subnet).Prev(),
		byKey:    map[string]netip.Addr{},
		used:     map[netip.Addr]string{},
		reserved: map[netip.Addr]bool{},
	}
	m.next = m.first
	m.used[gateway] = ""
	m.reserved[gateway] = true
	return m, nil
}

// broadcast returns the last address of p.
func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := ^uint32(0) >> p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Subnet returns the subnet the allocator hands out from, e.g. for building
// the pod's interface prefix with netip.PrefixFrom(addr, Subnet().Bits()).
func (m *IPAM) Subnet() netip.Prefix { return m.subnet }

// Allocate returns the address of key, assigning a free one if key has
// none. Searching continues after the last assigned address rather than
// restarting at the bottom, so a just released address is reused as late
// as possible and stale ARP entries and connections to it have time to die.
func (m *IPAM) Allocate(key string) (netip.Addr, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := m.byKey[key]; ok {
		return a, nil
	}
	a := m.next
	for {
		if _, taken := m.used[a]; !taken {
			m.assign(key, a)
			return a, nil
		}
		a = m.advance(a)
		if a == m.next {
			return netip.Addr{}, fmt.Errorf("allocate address for %s in %v: %w", key, m.subnet, ErrExhausted)
		}
	}
}

func (m *IPAM) advance(a netip.Addr) netip.Addr {
	if a == m.last {
		return m.first
	}
	return a.Next()
}

func (m *IPAM) assign(key string, a netip.Addr) {
	m.byKey[key] = a
	m.used[a] = key
	m.next = m.advance(a)
}

// Claim records that key holds addr, e.g. a pod found running after a
// restart. Claiming the address key already holds is a no-op.
func (m *IPAM) Claim(key string, addr netip.Addr) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkAssignable(addr); err != nil {
		return fmt.Errorf("claim %v for %s: %w", addr, key, err)
	}
	if old, ok := m.byKey[key]; ok {
		if old == addr {
			return nil
		}
		return fmt.Errorf("claim %v for %s: key holds %v", addr, key, old)
	}
	if owner, taken := m.used[addr]; taken {
		return fmt.Errorf("claim %v for %s: taken by %q", addr, key, owner)
	}
	m.byKey[key] = addr
	m.used[addr] = key
	return nil
}

// Reserve takes addr out of circulation without giving it to a key, e.g.
// for an address something outside the sandbox uses. Reserving an address
// that is already reserved is a no-op; one held by a key is an error.
func (m *IPAM) Reserve(addr netip.Addr) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reserved[addr] {
		return nil
	}
	if err := m.checkAssignable(addr); err != nil {
		return fmt.Errorf("reserve %v: %w", addr, err)
	}
	if owner, taken := m.used[addr]; taken {
		return fmt.Errorf("reserve %v: taken by %q", addr, owner)
	}
	m.used[addr] = ""
	m.reserved[addr] = true
	return nil
}

// ReservePrefix reserves every assignable address of p (the subnet's
// network and broadcast addresses are never assignable anyway), e.g. a range
// the host keeps for itself. p must lie inside the subnet, and no address of
// it may be held by a key.
func (m *IPAM) ReservePrefix(p netip.Prefix) error {
	p = p.Masked()
	if !p.IsValid() || !m.subnet.Contains(p.Addr()) || p.Bits() < m.subnet.Bits() {
		return fmt.Errorf("reserve %v: not inside %v", p, m.subnet)
	}
	for a := p.Addr(); p.Contains(a); a = a.Next() {
		if a.Less(m.first) || m.last.Less(a) {
			continue
		}
		if err := m.Reserve(a); err != nil {
			return err
		}
	}
	return nil
}

// Release frees the address of key. Releasing an unknown key is a no-op.
func (m *IPAM) Release(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := m.byKey[key]; ok {
		delete(m.byKey, key)
		delete(m.used, a)
	}
}

// Lookup returns the address held by key.
func (m *IPAM) Lookup(key string) (netip.Addr, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.byKey[key]
	return a, ok
}

func (m *IPAM) checkAssignable(addr netip.Addr) error {
	if !m.subnet.Contains(addr) {
		return fmt.Errorf("outside %v", m.subnet)
	}
	if addr.Less(m.first) || m.last.Less(addr) {
		return errors.New("network or broadcast address")
	}
	if m.reserved[addr] {
		return errors.New("reserved")
	}
	return nil
}
