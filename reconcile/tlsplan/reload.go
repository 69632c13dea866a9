package tlsplan

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"sort"
)

// Fingerprint names a certificate: the hex SHA-256 of its DER bytes.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// Served is the certificate one node's TLS listener presents, read by a
// fresh handshake.
type Served struct {
	Pod string
	// Fingerprint of the certificate served; "" when the handshake failed.
	Fingerprint string
	// Err is why the handshake failed.
	Err error
}

// Reload is the renewal plan: which nodes are told to load their
// certificate files again (CONFIG SET tls-cert-file, which Redis reloads
// even when the path is the same), and which could not be read. A node
// whose listener serves the wanted certificate is left alone.
//
// A node told to reload may still serve the old certificate afterwards:
// the kubelet writes a renewed Secret into running pods after a delay of
// its own (about a minute by default). The caller reads again, and reloads
// again, until the files are there.
func Reload(nodes []Served, want string) (reload, unread []string) {
	for _, n := range nodes {
		switch {
		case n.Err != nil:
			unread = append(unread, fmt.Sprintf("%s: %v", n.Pod, n.Err))
		case n.Fingerprint != want:
			reload = append(reload, n.Pod)
		}
	}
	sort.Strings(reload)
	return reload, unread
}
