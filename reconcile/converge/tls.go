package converge

import (
	"crypto/tls"
	"net"
)

// TLS is how the daemon reaches one cluster's nodes over TLS; a nil *TLS
// dials plaintext. The daemon dials nodes by pod IP, and no certificate
// carries pod IPs (they change), so each connection verifies the node by
// its pod's DNS name through the headless Service instead: ServerName maps
// the dialed IP to that name. Verification is Go's own (the chain to the
// cluster's CA, then the name); nothing here skips it.
type TLS struct {
	// Config trusts the cluster's CA and, when the nodes require one,
	// holds the client certificate. Its ServerName is not used.
	Config *tls.Config
	// ServerName returns the name the node at host (an IP) must prove;
	// "" when host is no pod of the cluster, and the handshake then fails
	// as it should (Go verifies the IP itself, which no certificate
	// carries).
	ServerName func(host string) string
}

// configFor is the config for one connection to addr (ip:port), or nil
// for plaintext.
func (t *TLS) configFor(addr string) *tls.Config {
	if t == nil || t.Config == nil {
		return nil
	}
	cfg := t.Config.Clone()
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	cfg.ServerName = host
	if t.ServerName != nil {
		if name := t.ServerName(host); name != "" {
			cfg.ServerName = name
		}
	}
	return cfg
}
