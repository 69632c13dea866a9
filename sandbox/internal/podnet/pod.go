package podnet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// VethPrefix starts the name of every host-side veth this package creates.
const VethPrefix = "sv"

// PodInterface is the name of the pod's end of its veth, inside the netns.
const PodInterface = "eth0"

var netnsAddMu sync.Mutex

// partitionProto tags the routes Partition installs (the "proto" field of a
// route), so Heal can find and remove exactly those without being told the
// gateway again. 91 is unassigned in iproute2's rt_protos.
const partitionProto = 91

// VethName returns the host-side veth name for the pod network namespace
// netns: VethPrefix plus 10 hex digits of sha256(netns), 12 bytes, well
// under the kernel's 15-byte limit and stable across restarts so leftovers
// can be found from the namespace name alone.
func VethName(netns string) string {
	h := sha256.Sum256([]byte(netns))
	return VethPrefix + hex.EncodeToString(h[:])[:10]
}

// CreatePod creates the named network namespace netns (pinned at
// /run/netns/NAME), connects it to bridge b with a veth pair, and
// configures the pod side: eth0 with addr (e.g. 10.244.1.5/16), lo up, and a
// default route via the bridge gateway. An existing pod network of the same
// name is deleted and recreated. On failure nothing is left behind.
func CreatePod(ctx context.Context, b Bridge, netns string, addr netip.Prefix) error {
	if err := checkNetnsName(netns); err != nil {
		return err
	}
	if !addr.IsValid() || !addr.Addr().Is4() {
		return fmt.Errorf("create pod network %s: address %v must be an IPv4 prefix", netns, addr)
	}
	if err := DeletePod(ctx, netns); err != nil {
		return fmt.Errorf("create pod network %s: %w", netns, err)
	}
	if err := createPod(ctx, b, netns, addr); err != nil {
		// Best effort: the original error is the one worth reporting.
		_ = DeletePod(context.WithoutCancel(ctx), netns)
		return fmt.Errorf("create pod network %s: %w", netns, err)
	}
	return nil
}

func createPod(ctx context.Context, b Bridge, netns string, addr netip.Prefix) error {
	veth := VethName(netns)
	// The first "ip netns add" on a host bind-mounts /run/netns onto
	// itself; concurrent first calls can stack two such mounts. Serialize.
	netnsAddMu.Lock()
	_, err := ip(ctx, "netns", "add", netns)
	netnsAddMu.Unlock()
	if err != nil {
		return err
	}
	// Creating the peer directly inside the namespace avoids ever having a
	// second "eth0" in the root namespace.
	if _, err := ip(ctx, "link", "add", veth, "type", "veth", "peer", "name", PodInterface, "netns", netns); err != nil {
		return err
	}
	if _, err := ip(ctx, "link", "set", veth, "master", b.Name, "up"); err != nil {
		return err
	}
	err = inNetns(netns, func() error {
		// rp_filter makes the pod drop packets from sources it has no
		// valid route back to; that is what turns Partition's egress-only
		// prohibit routes into a two-way partition.
		if err := writeSysctl("net.ipv4.conf.all.rp_filter", "1"); err != nil {
			return err
		}
		// Announce the address when eth0 comes up: pod IPs get reused with
		// new MACs, and peers would otherwise keep a stale ARP entry.
		return writeSysctl("net.ipv4.conf."+PodInterface+".arp_notify", "1")
	})
	if err != nil {
		return err
	}
	steps := [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", addr.String(), "dev", PodInterface},
		{"link", "set", PodInterface, "up"},
		{"route", "add", "default", "via", b.Gateway.Addr().String(), "dev", PodInterface},
	}
	for _, s := range steps {
		if _, err := ip(ctx, append([]string{"-n", netns}, s...)...); err != nil {
			return err
		}
	}
	return nil
}

// DeletePod deletes the pod network namespace netns and its veth pair. A
// missing namespace or veth is not an error.
//
// The host veth is deleted explicitly rather than left to namespace
// destruction: that happens asynchronously in the kernel, and never while a
// process (a still running container) holds the namespace, so a quick
// CreatePod of the same name would otherwise collide with the old veth.
func DeletePod(ctx context.Context, netns string) error {
	if err := checkNetnsName(netns); err != nil {
		return err
	}
	if _, err := ip(ctx, "link", "del", VethName(netns)); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete pod network %s: %w", netns, err)
	}
	if _, err := os.Lstat(filepath.Join(NetnsDir, netns)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := ip(ctx, "netns", "del", netns); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete pod network %s: %w", netns, err)
	}
	return nil
}

// Partition cuts the pod in netns off from every other pod address in
// podCIDR while keeping gateway (the bridge, i.e. the host) reachable. It
// installs prohibit routes for both halves of podCIDR, which are more
// specific than the connected route, plus a host route to gateway on eth0,
// more specific still. The pod's own address keeps working because local
// routes win. Outgoing connections to other pods fail at once with EACCES;
// packets from other pods are dropped silently by the pod's rp_filter, so
// their connections time out. Partition is idempotent.
func Partition(ctx context.Context, netns string, podCIDR netip.Prefix, gateway netip.Addr) error {
	halves, err := splitPrefix(podCIDR)
	if err != nil {
		return fmt.Errorf("partition %s: %w", netns, err)
	}
	if !podCIDR.Contains(gateway) {
		return fmt.Errorf("partition %s: gateway %v outside %v", netns, gateway, podCIDR)
	}
	proto := strconv.Itoa(partitionProto)
	// The gateway route goes first so the host is never unreachable, even
	// for a moment.
	routes := [][]string{
		{"route", "replace", netip.PrefixFrom(gateway, 32).String(), "dev", PodInterface, "scope", "link", "proto", proto},
		{"route", "replace", "prohibit", halves[0].String(), "proto", proto},
		{"route", "replace", "prohibit", halves[1].String(), "proto", proto},
	}
	for _, r := range routes {
		if _, err := ip(ctx, append([]string{"-n", netns}, r...)...); err != nil {
			return fmt.Errorf("partition %s: %w", netns, err)
		}
	}
	return nil
}

// Heal undoes Partition for the pod in netns by removing every route
// Partition installed. It is idempotent. podCIDR is checked for validity
// only; the routes are found by their tag.
func Heal(ctx context.Context, netns string, podCIDR netip.Prefix) error {
	if _, err := splitPrefix(podCIDR); err != nil {
		return fmt.Errorf("heal %s: %w", netns, err)
	}
	out, err := ip(ctx, "-n", netns, "-j", "route", "show", "proto", strconv.Itoa(partitionProto))
	if err != nil {
		return fmt.Errorf("heal %s: %w", netns, err)
	}
	var routes []struct {
		Type string `json:"type"`
		Dst  string `json:"dst"`
	}
	if len(out) > 0 {
		if err := json.Unmarshal(out, &routes); err != nil {
			return fmt.Errorf("heal %s: parse routes: %w", netns, err)
		}
	}
	// Remove the prohibit routes before the gateway host route, the reverse
	// of Partition, for the same reason.
	for pass := 0; pass < 2; pass++ {
		for _, r := range routes {
			if (r.Type == "prohibit") != (pass == 0) {
				continue
			}
			args := []string{"-n", netns, "route", "del"}
			if r.Type != "" {
				args = append(args, r.Type)
			}
			args = append(args, r.Dst, "proto", strconv.Itoa(partitionProto))
			if _, err := ip(ctx, args...); err != nil && !isNotFound(err) {
				return fmt.Errorf("heal %s: %w", netns, err)
			}
		}
	}
	return nil
}

// splitPrefix returns the two halves of p.
func splitPrefix(p netip.Prefix) ([2]netip.Prefix, error) {
	if !p.IsValid() || !p.Addr().Is4() || p.Bits() >= 32 {
		return [2]netip.Prefix{}, fmt.Errorf("pod CIDR %v must be an IPv4 prefix shorter than /32", p)
	}
	p = p.Masked()
	lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
	a := p.Addr().As4()
	bit := 31 - p.Bits() // the bit that selects the upper half, counted from the LSB
	a[3-bit/8] |= 1 << (bit % 8)
	hi := netip.PrefixFrom(netip.AddrFrom4(a), p.Bits()+1)
	return [2]netip.Prefix{lo, hi}, nil
}

// checkNetnsName rejects names ip netns would refuse or that would escape
// /run/netns.
func checkNetnsName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 255 || filepath.Base(name) != name {
		return fmt.Errorf("netns name %q is invalid", name)
	}
	return nil
}
