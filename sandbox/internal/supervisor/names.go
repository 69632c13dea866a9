// Package supervisor runs one sandbox: the control plane, the storage
// provisioner and the process kubelets, behind a control socket that the
// sandbox CLI talks to. It also knows how to find and remove everything a
// sandbox made, even after a crash.
package supervisor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"path/filepath"
)

// KubernetesVersion is the version the sandbox's components are built at
// (sandbox/go.mod pins k8s.io/kubernetes to it).
const KubernetesVersion = "v1.37.2"

// Names are the host-level names one sandbox dir owns. They derive from the
// dir alone, so `sandbox down` finds them even when the supervisor is gone.
type Names struct {
	Dir    string // absolute
	ID     string // 6 hex digits of the dir's hash
	Bridge string // "sbx" + ID
	// NetnsPrefix starts every pod network namespace name.
	NetnsPrefix string
	Socket      string
	StateFile   string
	LogFile     string
	Kubeconfig  string
}

// NamesFor derives a sandbox's names from its dir.
func NamesFor(dir string) (Names, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Names{}, fmt.Errorf("sandbox dir %s: %w", dir, err)
	}
	sum := sha256.Sum256([]byte(abs))
	id := hex.EncodeToString(sum[:3])
	return Names{
		Dir:         abs,
		ID:          id,
		Bridge:      "sbx" + id,
		NetnsPrefix: "sbx" + id + "-",
		Socket:      filepath.Join(abs, "sandbox.sock"),
		StateFile:   filepath.Join(abs, "sandbox.json"),
		LogFile:     filepath.Join(abs, "logs", "sandbox.log"),
		Kubeconfig:  filepath.Join(abs, "kubeconfig"),
	}, nil
}

// NodeName is the name of the i-th node: sandbox-node-a, -b, ...
func NodeName(i int) string {
	return "sandbox-node-" + letters(i)
}

// Zone is the zone of the i-th node when nodes are spread over zones zones
// round-robin: zone-a, zone-b, ...
func Zone(i, zones int) string {
	if zones <= 0 {
		zones = 1
	}
	return "zone-" + letters(i%zones)
}

// letters is a, b, ..., z, aa, ab, ... for 0, 1, ...
func letters(i int) string {
	s := ""
	for {
		s = string(rune('a'+i%26)) + s
		i = i/26 - 1
		if i < 0 {
			return s
		}
	}
}

// NodeAddress is the i-th node's InternalIP: a loopback address of its own,
// so every node is a distinct host to the API server and to Redis clients
// in tests, and nothing leaves the machine.
func NodeAddress(i int) string {
	return netip.AddrFrom4([4]byte{127, 0, byte(1 + i/250), byte(1 + i%250)}).String()
}

// PickPodCIDR returns the first of 10.244.0.0/16 .. 10.254.0.0/16 that no
// route or address on this host overlaps (another sandbox's bridge included).
func PickPodCIDR(overlaps func(netip.Prefix) (bool, error)) (netip.Prefix, error) {
	for second := 244; second <= 254; second++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(second), 0, 0}), 16)
		busy, err := overlaps(p)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("pick pod cidr: %w", err)
		}
		if !busy {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("pick pod cidr: 10.244.0.0/16 to 10.254.0.0/16 all overlap existing routes")
}
