package converge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile/tlsplan"
)

// ServedCertificate reads the certificate a node's TLS listener at addr
// presents to a fresh handshake, and hangs up: no command is sent. It is
// how the daemon knows a renewal reached a node (Redis cannot say which
// certificate it loaded), whatever client certificate cfg carries.
//
// The handshake does not verify the chain: the question is which
// certificate the node serves, including one that no longer verifies
// (expired, or from a CA the daemon does not trust yet), and nothing but
// the certificate crosses this connection.
func ServedCertificate(ctx context.Context, addr string, cfg *tls.Config) (string, error) {
	c := cfg.Clone()
	var fp string
	c.InsecureSkipVerify = true
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no certificate served")
		}
		fp = tlsplan.Fingerprint(cs.PeerCertificates[0])
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: c}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	conn.Close()
	return fp, nil
}
