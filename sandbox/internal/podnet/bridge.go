package podnet

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Bridge is the sandbox's Linux bridge in the root network namespace. Pods
// attach to it with veth pairs and talk to each other on plain L2; the
// bridge's own address (Gateway) is how pods reach the host.
type Bridge struct {
	// Name is the interface name, at most 15 bytes, e.g. "sbx-1a2b3c".
	Name string
	// Gateway is the bridge address with the pod network's prefix length,
	// e.g. 10.244.0.1/16.
	Gateway netip.Prefix
}

// Setup creates the bridge, assigns Gateway and brings it up. It is
// idempotent: an existing bridge of that name is reused and reconfigured.
//
// Setup installs no iptables rules and relies on none: pod to pod traffic
// is bridged, and the host has ip_forward off, so nothing leaves the
// machine. If br_netfilter is loaded with bridge-nf-call-iptables=1 and a
// firewall drops FORWARD traffic, bridged pod traffic is dropped too; that
// is host policy this package does not change.
func (b Bridge) Setup(ctx context.Context) error {
	if err := b.validate(); err != nil {
		return err
	}
	kind, err := linkKind(ctx, b.Name)
	switch {
	case errors.Is(err, errNoLink):
		// A fixed MAC matters: a bridge without one adopts the lowest MAC
		// of its ports and changes it as pods come and go, which leaves
		// stale gateway ARP entries in every pod for seconds.
		if _, err := ip(ctx, "link", "add", b.Name, "address", bridgeMAC(b.Name), "type", "bridge"); err != nil {
			return fmt.Errorf("create bridge %s: %w", b.Name, err)
		}
	case err != nil:
		return fmt.Errorf("create bridge %s: %w", b.Name, err)
	case kind != "bridge":
		return fmt.Errorf("create bridge %s: link exists with kind %q", b.Name, kind)
	}
	if _, err := ip(ctx, "addr", "replace", b.Gateway.String(), "dev", b.Name); err != nil {
		return fmt.Errorf("address bridge %s: %w", b.Name, err)
	}
	if _, err := ip(ctx, "link", "set", b.Name, "up"); err != nil {
		return fmt.Errorf("bring up bridge %s: %w", b.Name, err)
	}
	return raiseNeighbourLimits()
}

// neighbourLimits are the ARP table sizes the pods need: the kernel keeps
// one IPv4 neighbour table for every network namespace together, and each
// pod of a cluster of N holds an entry for each of its N-1 peers, so N²
// entries in all. Linux's defaults (gc_thresh3 1024) overflow near 32 pods
// that all talk to each other: new entries are refused ("neighbour:
// arp_cache: neighbor table overflow!"), connections time out and a
// 90-node Redis Cluster marks most of its nodes failed. 131,072 entries
// (a few hundred bytes each) hold 360 such pods.
var neighbourLimits = []struct{ key, value string }{
	{"net.ipv4.neigh.default.gc_thresh1", "16384"},
	{"net.ipv4.neigh.default.gc_thresh2", "65536"},
	{"net.ipv4.neigh.default.gc_thresh3", "131072"},
}

// raiseNeighbourLimits raises the host's ARP table limits to
// neighbourLimits, never lowering one set higher.
func raiseNeighbourLimits() error {
	for _, l := range neighbourLimits {
		p := filepath.Join("/proc/sys", strings.ReplaceAll(l.key, ".", "/"))
		cur, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", l.key, err)
		}
		have, err1 := strconv.Atoi(strings.TrimSpace(string(cur)))
		want, err2 := strconv.Atoi(l.value)
		if err1 == nil && err2 == nil && have >= want {
			continue
		}
		if err := writeSysctl(l.key, l.value); err != nil {
			return err
		}
	}
	return nil
}

// Teardown deletes the bridge. It is idempotent: a missing bridge is not an
// error. Pod veths still attached are detached, not deleted; DeletePod
// removes those.
func (b Bridge) Teardown(ctx context.Context) error {
	if _, err := ip(ctx, "link", "del", b.Name); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete bridge %s: %w", b.Name, err)
	}
	return nil
}

// AddAddress puts addr on the bridge as a /32, so the host answers on it
// and pods reach it on the bridge's L2 (the bridge replies to ARP for every
// local address). A /32 adds no route and never becomes the source address
// the host picks for the pod network; the Gateway stays that. Adding an
// address the bridge has is a no-op.
func (b Bridge) AddAddress(ctx context.Context, addr netip.Addr) error {
	if !addr.Is4() {
		return fmt.Errorf("address bridge %s: %v is not IPv4", b.Name, addr)
	}
	if _, err := ip(ctx, "addr", "replace", netip.PrefixFrom(addr, 32).String(), "dev", b.Name); err != nil {
		return fmt.Errorf("address bridge %s: %w", b.Name, err)
	}
	return nil
}

// DeleteAddress removes an address AddAddress added. A missing address or
// bridge is not an error.
func (b Bridge) DeleteAddress(ctx context.Context, addr netip.Addr) error {
	_, err := ip(ctx, "addr", "del", netip.PrefixFrom(addr, 32).String(), "dev", b.Name)
	// iproute2 says "Address not found" for a missing address; older
	// versions pass on the kernel's EADDRNOTAVAIL.
	if err != nil && !isNotFound(err) && !strings.Contains(err.Error(), "Address not found") &&
		!strings.Contains(err.Error(), "Cannot assign requested address") {
		return fmt.Errorf("remove address %v from bridge %s: %w", addr, b.Name, err)
	}
	return nil
}

// Addresses lists the IPv4 addresses on the bridge (the Gateway included).
func (b Bridge) Addresses(ctx context.Context) ([]netip.Addr, error) {
	out, err := ip(ctx, "-j", "-4", "addr", "show", "dev", b.Name)
	if err != nil {
		return nil, fmt.Errorf("list addresses of bridge %s: %w", b.Name, err)
	}
	var links []struct {
		AddrInfo []struct {
			Local string `json:"local"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("list addresses of bridge %s: parse: %w", b.Name, err)
	}
	var addrs []netip.Addr
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if addr, err := netip.ParseAddr(a.Local); err == nil {
				addrs = append(addrs, addr)
			}
		}
	}
	return addrs, nil
}

func (b Bridge) validate() error {
	if b.Name == "" || len(b.Name) > 15 {
		return fmt.Errorf("bridge %q: name must be 1 to 15 bytes", b.Name)
	}
	if !b.Gateway.IsValid() || !b.Gateway.Addr().Is4() {
		return fmt.Errorf("bridge %s: gateway %v must be an IPv4 prefix", b.Name, b.Gateway)
	}
	return nil
}

// bridgeMAC derives a stable, locally administered unicast MAC from the
// bridge name.
func bridgeMAC(name string) string {
	h := sha256.Sum256([]byte("bridge:" + name))
	h[0] = h[0]&0xfe | 0x02
	return net.HardwareAddr(h[:6]).String()
}

var errNoLink = errors.New("no such link")

// linkKind returns the link type ("bridge", "veth", "" for plain devices).
func linkKind(ctx context.Context, name string) (string, error) {
	out, err := ip(ctx, "-d", "-j", "link", "show", "dev", name)
	if isNotFound(err) {
		return "", errNoLink
	}
	if err != nil {
		return "", err
	}
	var links []struct {
		LinkInfo struct {
			InfoKind string `json:"info_kind"`
		} `json:"linkinfo"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return "", fmt.Errorf("parse ip link output: %w", err)
	}
	if len(links) == 0 {
		return "", errNoLink
	}
	return links[0].LinkInfo.InfoKind, nil
}

// OverlapsRoutes reports whether p overlaps a route (in any routing table)
// or an interface address of the host, ignoring default routes, which
// overlap everything. Use it to pick a pod subnet that cannot shadow real
// networks; call it before Setup, since the bridge's own route overlaps.
func OverlapsRoutes(p netip.Prefix) (bool, error) {
	if !p.IsValid() {
		return false, fmt.Errorf("overlap check %v: invalid prefix", p)
	}
	p = p.Masked()
	family := "-4"
	if p.Addr().Is6() {
		family = "-6"
	}
	ctx := context.Background()
	out, err := ip(ctx, "-j", family, "route", "show", "table", "all")
	if err != nil {
		return false, fmt.Errorf("overlap check %v: %w", p, err)
	}
	var routes []struct {
		Dst string `json:"dst"`
	}
	if err := json.Unmarshal(out, &routes); err != nil {
		return false, fmt.Errorf("overlap check %v: parse routes: %w", p, err)
	}
	var nets []netip.Prefix
	for _, r := range routes {
		if r.Dst == "default" {
			continue
		}
		if q, ok := parseDst(r.Dst); ok {
			nets = append(nets, q)
		}
	}
	out, err = ip(ctx, "-j", family, "addr", "show")
	if err != nil {
		return false, fmt.Errorf("overlap check %v: %w", p, err)
	}
	var links []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return false, fmt.Errorf("overlap check %v: parse addresses: %w", p, err)
	}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			addr, err := netip.ParseAddr(a.Local)
			if err != nil {
				continue
			}
			if q, err := addr.Prefix(a.PrefixLen); err == nil {
				nets = append(nets, q)
			}
		}
	}
	for _, q := range nets {
		if q.Bits() > 0 && q.Overlaps(p) {
			return true, nil
		}
	}
	return false, nil
}

// parseDst parses a route destination as printed by ip: a prefix, or a bare
// address for host routes.
func parseDst(s string) (netip.Prefix, bool) {
	if q, err := netip.ParsePrefix(s); err == nil {
		return q.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}
