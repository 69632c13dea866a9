// Package certs reads a cluster's TLS Secret (spec.tls) and judges its
// certificate against the cluster's nodes: pure functions over the
// Secret's bytes, the nodes' names and a clock value. The daemon refuses a
// Secret that would break the cluster before it changes any node, warns in
// the report about one that will (a node it does not cover, an expiry
// near), and builds from it the TLS config it reaches the nodes with.
//
// Keys stay in memory: nothing here logs, prints or returns key bytes.
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/redis-gitops/redis-gitops/spec"
)

// ErrBadSecret marks a Secret the daemon refuses: a key missing or empty,
// a certificate or key that does not parse, a certificate that does not
// match its key. Check's refusals wrap it too.
var ErrBadSecret = errors.New("refused before any node changes")

// Material is a cluster's TLS Secret, parsed and checked for shape.
type Material struct {
	// Secret is "namespace/name", for messages.
	Secret string
	// Leaf is the nodes' certificate (the first of tls.crt); Chain the
	// rest of tls.crt (intermediates), if any.
	Leaf  *x509.Certificate
	Chain []*x509.Certificate
	// CAs are the certificates of ca.crt, which the nodes and the daemon
	// trust.
	CAs *x509.CertPool
	// KeyPair is tls.crt with tls.key, which match. The daemon presents it
	// only when the nodes require a client certificate.
	KeyPair tls.Certificate
}

// Parse reads the data of the Secret named secret ("namespace/name"). Every
// error names the Secret and the key at fault and wraps ErrBadSecret.
func Parse(secret string, data map[string][]byte) (Material, error) {
	m := Material{Secret: secret}
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("tls secret %s: %s: %s: %w", secret, key, fmt.Sprintf(format, args...), ErrBadSecret)
	}
	for _, k := range []string{spec.TLSCertKey, spec.TLSKeyKey, spec.TLSCAKey} {
		if len(data[k]) == 0 {
			return m, bad(k, "missing or empty (a kubernetes.io/tls Secret as cert-manager writes it has %s, %s and %s)", spec.TLSCertKey, spec.TLSKeyKey, spec.TLSCAKey)
		}
	}
	certs, err := parseCerts(data[spec.TLSCertKey])
	if err != nil {
		return m, bad(spec.TLSCertKey, "%v", err)
	}
	m.Leaf, m.Chain = certs[0], certs[1:]
	cas, err := parseCerts(data[spec.TLSCAKey])
	if err != nil {
		return m, bad(spec.TLSCAKey, "%v", err)
	}
	m.CAs = x509.NewCertPool()
	for _, c := range cas {
		m.CAs.AddCert(c)
	}
	// X509KeyPair parses the key and checks that it matches the
	// certificate's public key; its errors never quote the key.
	if m.KeyPair, err = tls.X509KeyPair(data[spec.TLSCertKey], data[spec.TLSKeyKey]); err != nil {
		return m, bad(spec.TLSKeyKey, "does not go with %s: %v", spec.TLSCertKey, err)
	}
	return m, nil
}

// parseCerts reads every CERTIFICATE block of a PEM bundle.
func parseCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate in it")
	}
	return out, nil
}

// ClientConfig is the TLS config the daemon reaches the nodes with: it
// trusts ca.crt only (not the system's roots), and presents the nodes'
// own certificate when clientCert is set (spec.tls.clientAuth required).
// Its ServerName is empty: each connection sets the name of the node it
// dials (see converge.TLS).
func (m Material) ClientConfig(clientCert bool) *tls.Config {
	cfg := &tls.Config{RootCAs: m.CAs, MinVersion: tls.VersionTLS12}
	if clientCert {
		cfg.Certificates = []tls.Certificate{m.KeyPair}
	}
	return cfg
}
