package controlplane

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"path/filepath"
	"time"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// leafValidity is short on purpose: leaf certificates are re-issued on
// every Start, only the CA and the service-account key persist.
const leafValidity = 365 * 24 * time.Hour

// certSpec describes one certificate signed by the sandbox CA.
type certSpec struct {
	name   string // file stem under certs/
	cn     string
	orgs   []string
	server bool
	client bool
	ips    []net.IP
	dns    []string
}

// authority is the loaded sandbox CA.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// loadOrCreateCA reuses an existing CA so that a state dir whose etcd data
// survived a previous run keeps valid service-account tokens and kubeconfigs.
func loadOrCreateCA(certPath, keyPath string) (*authority, error) {
	if ok, err := cert.CanReadCertAndKey(certPath, keyPath); err != nil {
		return nil, fmt.Errorf("check ca files: %w", err)
	} else if ok {
		return loadCA(certPath, keyPath)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ca key: %w", err)
	}
	caCert, err := cert.NewSelfSignedCACert(cert.Config{CommonName: "redis-gitops-sandbox-ca"}, key)
	if err != nil {
		return nil, fmt.Errorf("create ca certificate: %w", err)
	}
	if err := writeCertKey(certPath, keyPath, caCert, key); err != nil {
		return nil, err
	}
	return &authority{cert: caCert, key: key}, nil
}

func loadCA(certPath, keyPath string) (*authority, error) {
	certs, err := cert.CertsFromFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("read ca certificate: %w", err)
	}
	key, err := keyutil.PrivateKeyFromFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("read ca key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("ca key %s is not a signing key", keyPath)
	}
	return &authority{cert: certs[0], key: signer}, nil
}

// issue creates a fresh key and a certificate for spec and writes both to
// dir/<name>.crt and dir/<name>.key. ECDSA keeps this fast enough to do on
// every start (RSA-2048 would cost ~100 ms per key on a slow machine).
func (a *authority) issue(dir string, spec certSpec) (certPath, keyPath string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate key for %s: %w", spec.name, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return "", "", fmt.Errorf("generate serial for %s: %w", spec.name, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      pkix.Name{CommonName: spec.cn, Organization: spec.orgs},
		// Backdated so a slightly skewed clock between cert creation and
		// the component's first handshake never yields "not yet valid".
		NotBefore:   now.Add(-time.Hour).UTC(),
		NotAfter:    now.Add(leafValidity).UTC(),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		IPAddresses: spec.ips,
		DNSNames:    spec.dns,
	}
	if spec.server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if spec.client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return "", "", fmt.Errorf("sign certificate for %s: %w", spec.name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return "", "", fmt.Errorf("parse certificate for %s: %w", spec.name, err)
	}
	certPath = filepath.Join(dir, spec.name+".crt")
	keyPath = filepath.Join(dir, spec.name+".key")
	if err := writeCertKey(certPath, keyPath, leaf, key); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

func writeCertKey(certPath, keyPath string, c *x509.Certificate, key crypto.PrivateKey) error {
	certPEM, err := cert.EncodeCertificates(c)
	if err != nil {
		return fmt.Errorf("encode %s: %w", certPath, err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return fmt.Errorf("encode %s: %w", keyPath, err)
	}
	if err := cert.WriteCert(certPath, certPEM); err != nil {
		return fmt.Errorf("write %s: %w", certPath, err)
	}
	if err := keyutil.WriteKey(keyPath, keyPEM); err != nil {
		return fmt.Errorf("write %s: %w", keyPath, err)
	}
	return nil
}

// ensureServiceAccountKey keeps the key across runs for the same reason as
// the CA: tokens already stored in etcd must stay verifiable.
func ensureServiceAccountKey(path string) error {
	if _, _, err := keyutil.LoadOrGenerateKeyFile(path); err != nil {
		return fmt.Errorf("service account key %s: %w", path, err)
	}
	return nil
}

// firstServiceIP returns the address the apiserver allocates to the
// "kubernetes" Service: the first host address of the service CIDR. It must
// be in the serving certificate so in-cluster clients can verify it.
func firstServiceIP(cidr string) (net.IP, error) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("parse service cidr %q: %w", cidr, err)
	}
	if prefix != prefix.Masked() {
		return nil, fmt.Errorf("service cidr %q has host bits set (want %s)", cidr, prefix.Masked())
	}
	first := prefix.Addr().Next()
	if !first.IsValid() || !prefix.Contains(first) {
		return nil, fmt.Errorf("service cidr %q is too small", cidr)
	}
	return net.IP(first.AsSlice()), nil
}

// parseIPs turns the configured extra SANs into IPs, rejecting anything that
// is not a literal address so a typo fails Start instead of TLS later.
func parseIPs(values []string) ([]net.IP, error) {
	var ips []net.IP
	var errs []error
	for _, v := range values {
		ip := net.ParseIP(v)
		if ip == nil {
			errs = append(errs, fmt.Errorf("extra san %q is not an ip address", v))
			continue
		}
		ips = append(ips, ip)
	}
	return ips, errors.Join(errs...)
}
