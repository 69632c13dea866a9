package podnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireRoot skips tests that need to create namespaces and links.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root: pod networks need network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("needs iproute2 (make deps installs it)")
	}
}

// testPrefix returns a name prefix unique to this test run, so leftovers of
// a crashed run never collide with (or get mistaken for) this one's.
func testPrefix(t *testing.T) string {
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "sbxt" + hex.EncodeToString(b) + "-"
}

// pickSubnet returns a pod subnet that overlaps nothing on the host.
func pickSubnet(t *testing.T) netip.Prefix {
	for _, s := range []string{"10.244.0.0/16", "10.245.0.0/16", "172.31.0.0/16"} {
		p := netip.MustParsePrefix(s)
		over, err := OverlapsRoutes(p)
		if err != nil {
			t.Fatal(err)
		}
		if !over {
			return p
		}
	}
	t.Skip("no free test subnet")
	return netip.Prefix{}
}

// hostAddr returns the n-th address of subnet as a prefix of its length.
func hostAddr(subnet netip.Prefix, n int) netip.Prefix {
	a := subnet.Addr()
	for range n {
		a = a.Next()
	}
	return netip.PrefixFrom(a, subnet.Bits())
}

// echoServer listens on addr inside netns ("" = the caller's) and echoes.
func echoServer(t *testing.T, netns, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	listen := func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}
	var err error
	if netns == "" {
		err = listen()
	} else {
		err = inNetns(netns, listen)
	}
	if err != nil {
		t.Fatalf("listen %s in %q: %v", addr, netns, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln
}

// dial connects from netns ("" = the caller's) to addr and round-trips a
// message.
func dial(netns, addr string) error {
	var c net.Conn
	d := net.Dialer{Timeout: 700 * time.Millisecond}
	connect := func() (err error) {
		c, err = d.Dial("tcp", addr)
		return err
	}
	var err error
	if netns == "" {
		err = connect()
	} else {
		err = inNetns(netns, connect)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "ping" {
		return errors.New("bad echo " + string(buf))
	}
	return nil
}

func TestPodNetwork(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	prefix := testPrefix(t)
	subnet := pickSubnet(t)
	br := Bridge{Name: prefix + "br", Gateway: hostAddr(subnet, 1)}
	nsA, nsB := prefix+"a", prefix+"b"
	addrA, addrB := hostAddr(subnet, 261), hostAddr(subnet, 262) // x.x.1.5, x.x.1.6
	t.Cleanup(func() {
		DeletePod(ctx, nsA)
		DeletePod(ctx, nsB)
		br.Teardown(ctx)
	})

	for range 2 { // Setup is idempotent
		if err := br.Setup(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The host's ARP table, shared by every pod, holds a large cluster's
	// N² entries.
	for _, l := range neighbourLimits {
		got, err := os.ReadFile(filepath.Join("/proc/sys", strings.ReplaceAll(l.key, ".", "/")))
		if err != nil {
			t.Fatal(err)
		}
		have, _ := strconv.Atoi(strings.TrimSpace(string(got)))
		if want, _ := strconv.Atoi(l.value); have < want {
			t.Errorf("%s = %d after Setup, want at least %s", l.key, have, l.value)
		}
	}
	if over, err := OverlapsRoutes(subnet); err != nil || !over {
		t.Errorf("OverlapsRoutes(%v) with the bridge up = %v, %v; want true", subnet, over, err)
	}
	for _, p := range []struct {
		ns   string
		addr netip.Prefix
	}{{nsA, addrA}, {nsB, addrB}, {nsA, addrA}} { // the second A recreates
		if err := CreatePod(ctx, br, p.ns, p.addr); err != nil {
			t.Fatal(err)
		}
	}

	gw := br.Gateway.Addr()
	lnA := echoServer(t, nsA, netip.AddrPortFrom(addrA.Addr(), 7000).String())
	lnB := echoServer(t, nsB, netip.AddrPortFrom(addrB.Addr(), 7000).String())
	lnHost := echoServer(t, "", netip.AddrPortFrom(gw, 0).String())
	toA, toB, toHost := lnA.Addr().String(), lnB.Addr().String(), lnHost.Addr().String()

	mustReach := func(from, to string) {
		t.Helper()
		if err := dial(from, to); err != nil {
			t.Errorf("%q -> %s: %v, want reachable", from, to, err)
		}
	}
	mustNotReach := func(from, to string) {
		t.Helper()
		if err := dial(from, to); err == nil {
			t.Errorf("%q -> %s: reachable, want partitioned", from, to)
		} else {
			t.Logf("%q -> %s: %v", from, to, err)
		}
	}
	mustReach(nsA, toB)
	mustReach(nsB, toA)
	mustReach(nsA, toHost)
	mustReach("", toA)

	// A host address from the reserved ranges, added as a /32, is reachable
	// from pods (the bridge answers ARP for it) and from the host, and is
	// gone once deleted.
	ranges, err := HostRangesOf(subnet)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := ranges.NodeAddress(0)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // AddAddress is idempotent
		if err := br.AddAddress(ctx, extra); err != nil {
			t.Fatal(err)
		}
	}
	lnExtra := echoServer(t, "", netip.AddrPortFrom(extra, 0).String())
	mustReach(nsA, lnExtra.Addr().String())
	mustReach("", lnExtra.Addr().String())
	lnExtra.Close()
	for range 2 { // DeleteAddress is idempotent
		if err := br.DeleteAddress(ctx, extra); err != nil {
			t.Fatal(err)
		}
	}
	if addrs, err := br.Addresses(ctx); err != nil || slices.Contains(addrs, extra) || !slices.Contains(addrs, gw) {
		t.Errorf("bridge addresses after DeleteAddress(%v) = %v, %v; want the gateway %v only", extra, addrs, err, gw)
	}

	for range 2 { // Partition is idempotent
		if err := Partition(ctx, nsA, subnet, gw); err != nil {
			t.Fatal(err)
		}
	}
	mustNotReach(nsA, toB)
	if err := dial(nsA, toB); !errors.Is(err, syscall.EACCES) {
		t.Errorf("partitioned dial error = %v, want EACCES from the prohibit route", err)
	}
	mustNotReach(nsB, toA)
	mustReach(nsA, toHost)
	mustReach("", toA)
	mustReach(nsA, lnA.Addr().String()) // itself

	for range 2 { // Heal is idempotent
		if err := Heal(ctx, nsA, subnet); err != nil {
			t.Fatal(err)
		}
	}
	out, err := ip(ctx, "-n", nsA, "route", "show")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("routes in %s after Heal:\n%s", nsA, out)
	mustReach(nsA, toB)
	mustReach(nsB, toA)
	mustReach(nsA, toHost)

	for range 2 { // deletes are idempotent
		for _, ns := range []string{nsA, nsB} {
			if err := DeletePod(ctx, ns); err != nil {
				t.Fatal(err)
			}
		}
		if err := br.Teardown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	assertNoLeftovers(t, prefix, nsA, nsB)
}

func assertNoLeftovers(t *testing.T, prefix string, netns ...string) {
	t.Helper()
	if left, err := ListNetns(prefix); err != nil || len(left) > 0 {
		t.Errorf("netns left: %v %v", left, err)
	}
	if left, err := ListLinks(prefix); err != nil || len(left) > 0 {
		t.Errorf("links left: %v %v", left, err)
	}
	links, err := ListLinks(VethPrefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range netns {
		if slices.Contains(links, VethName(ns)) {
			t.Errorf("veth %s of %s left", VethName(ns), ns)
		}
	}
}

func TestCreatePodFailureCleansUp(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	prefix := testPrefix(t)
	// The bridge does not exist, so attaching the veth fails half way.
	br := Bridge{Name: prefix + "nobr", Gateway: netip.MustParsePrefix("10.244.0.1/16")}
	err := CreatePod(ctx, br, prefix+"x", netip.MustParsePrefix("10.244.1.9/16"))
	if err == nil {
		t.Fatal("CreatePod on a missing bridge succeeded")
	}
	t.Log(err)
	assertNoLeftovers(t, prefix, prefix+"x")
}
