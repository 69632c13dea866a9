package certs

import (
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/internal/tlstest"
	"github.com/redis-gitops/redis-gitops/spec"
)

func cluster(masters, replicas int) *spec.RedisCluster {
	c := &spec.RedisCluster{APIVersion: spec.APIVersion, Kind: spec.Kind,
		Metadata: spec.Metadata{Name: "cache", Namespace: "shop"},
		Spec:     spec.ClusterSpec{Masters: masters, ReplicasPerMaster: &replicas, TLS: &spec.TLS{SecretRef: spec.TLSSecretRef{Name: "cache-tls"}}}}
	c.SetDefaults()
	return c
}

func TestParseRefusesBadSecrets(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	pair := ca.Issue(t, tlstest.Leaf{DNSNames: []string{"*.cache-nodes.shop.svc"}})
	other := ca.Issue(t, tlstest.Leaf{DNSNames: []string{"*.cache-nodes.shop.svc"}})
	good := ca.SecretData(pair)
	with := func(k string, v []byte) map[string][]byte {
		d := map[string][]byte{}
		for kk, vv := range good {
			d[kk] = vv
		}
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
		return d
	}
	tests := []struct {
		name string
		data map[string][]byte
		want string // "" for accepted
	}{
		{"as cert-manager writes it", good, ""},
		{"no tls.key", with("tls.key", nil), `tls secret shop/cache-tls: tls.key: missing or empty`},
		{"an empty ca.crt", with("ca.crt", []byte{}), `tls secret shop/cache-tls: ca.crt: missing or empty`},
		{"tls.crt not PEM", with("tls.crt", []byte("hello")), `tls secret shop/cache-tls: tls.crt: no PEM certificate in it`},
		{"ca.crt holds a key", with("ca.crt", pair.KeyPEM), `tls secret shop/cache-tls: ca.crt: no PEM certificate in it`},
		{"the key of another certificate", with("tls.key", other.KeyPEM), `tls secret shop/cache-tls: tls.key: does not go with tls.crt`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("shop/cache-tls", tt.data)
			if tt.want == "" {
				if err != nil || m.Leaf == nil || len(m.KeyPair.Certificate) == 0 {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || !errors.Is(err, ErrBadSecret) {
				t.Fatalf("Parse: %v, want %q (ErrBadSecret)", err, tt.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), string(pair.KeyPEM[30:60])) {
				t.Errorf("the error quotes a key: %v", err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	now := time.Now()
	ca := tlstest.NewCA(t, "ca")
	otherCA := tlstest.NewCA(t, "other")
	c := cluster(3, 1)
	hostnames := cluster(3, 0)
	hostnames.Spec.ExternalAccess = &spec.ExternalAccess{Type: spec.ExternalHostname, Hostname: "{pod}.redis.example.com"}
	wild := []string{"*.cache-nodes.shop.svc"}
	tests := []struct {
		name      string
		c         *spec.RedisCluster
		issuer    *tlstest.CA
		leaf      tlstest.Leaf
		refusals  []string
		warnings  []string
		wantNames []string // ServerName per pod, "" for none
	}{
		{name: "a wildcard through the headless Service", c: c, leaf: tlstest.Leaf{DNSNames: wild},
			wantNames: []string{"cache-0.cache-nodes.shop.svc", "cache-5.cache-nodes.shop.svc"}},
		{name: "only the full names in cluster.local", c: c, leaf: tlstest.Leaf{DNSNames: []string{"*.cache-nodes.shop.svc.cluster.local"}},
			wantNames: []string{"cache-0.cache-nodes.shop.svc.cluster.local", "cache-5.cache-nodes.shop.svc.cluster.local"}},
		{name: "each pod by name, one missing (a scale-out)", c: c, leaf: tlstest.Leaf{DNSNames: []string{
			"cache-0.cache-nodes.shop.svc", "cache-1.cache-nodes.shop.svc", "cache-2.cache-nodes.shop.svc", "cache-3.cache-nodes.shop.svc", "cache-4.cache-nodes.shop.svc"}},
			warnings: []string{"tls.crt does not cover cache-5:"}, wantNames: []string{"cache-0.cache-nodes.shop.svc", ""}},
		{name: "the names of another cluster", c: c, leaf: tlstest.Leaf{DNSNames: []string{"*.other-nodes.shop.svc"}, IPs: []net.IP{net.ParseIP("10.0.0.1")}},
			refusals: []string{"tls.crt covers none of the pods: it carries *.other-nodes.shop.svc, 10.0.0.1, and a pod's name is like cache-0.cache-nodes.shop.svc"}},
		{name: "expired", c: c, leaf: tlstest.Leaf{DNSNames: wild, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)},
			refusals: []string{"tls.crt expired at " + now.Add(-time.Hour).UTC().Format(time.RFC3339)}},
		{name: "not valid yet", c: c, leaf: tlstest.Leaf{DNSNames: wild, NotBefore: now.Add(time.Hour), NotAfter: now.Add(48 * time.Hour)},
			refusals: []string{"tls.crt is not valid before"}},
		{name: "expires within the warning", c: c, leaf: tlstest.Leaf{DNSNames: wild, NotAfter: now.Add(10 * 24 * time.Hour)},
			warnings: []string{"tls.crt expires at " + now.Add(10*24*time.Hour).UTC().Format(time.RFC3339) + ", within spec.tls.expiryWarning (720h0m0s)"}},
		{name: "expires just after the warning", c: c, leaf: tlstest.Leaf{DNSNames: wild, NotAfter: now.Add(31 * 24 * time.Hour)}},
		{name: "signed by another CA", c: c, issuer: otherCA, leaf: tlstest.Leaf{DNSNames: wild},
			refusals: []string{"tls.crt is not signed by ca.crt"}},
		{name: "server auth only: the cluster bus refuses it", c: c, leaf: tlstest.Leaf{DNSNames: wild, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
			refusals: []string{"tls.crt is not for client auth (extended key usage server auth)"}},
		{name: "client auth only", c: c, leaf: tlstest.Leaf{DNSNames: wild, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
			refusals: []string{"tls.crt is not for server auth"}},
		{name: "no extended key usage at all is any usage", c: c, leaf: tlstest.Leaf{DNSNames: wild, ExtKeyUsage: []x509.ExtKeyUsage{}}},
		{name: "external hostnames missing", c: hostnames, leaf: tlstest.Leaf{DNSNames: wild},
			warnings: []string{"tls.crt does not carry the external hostnames cache-0.redis.example.com, cache-1.redis.example.com, cache-2.redis.example.com"}},
		{name: "external hostnames by wildcard", c: hostnames, leaf: tlstest.Leaf{DNSNames: append([]string{"*.redis.example.com"}, wild...)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issuer := ca
			if tt.issuer != nil {
				issuer = tt.issuer
			}
			pair := issuer.Issue(t, tt.leaf)
			m, err := Parse("shop/cache-tls", ca.SecretData(pair))
			if err != nil {
				t.Fatal(err)
			}
			nodes := NodesFor(tt.c)
			f := Check(m, nodes, now, tt.c.Spec.TLS.ExpiryWarning.Duration)
			match(t, "refusals", f.Refusals, tt.refusals)
			match(t, "warnings", f.Warnings, tt.warnings)
			if (f.Err("shop/cache-tls") != nil) != (len(tt.refusals) > 0) {
				t.Errorf("Err = %v with refusals %q", f.Err("shop/cache-tls"), f.Refusals)
			}
			if tt.wantNames != nil {
				if got := ServerName(m.Leaf, nodes[0]); got != tt.wantNames[0] {
					t.Errorf("ServerName of the first pod = %q, want %q", got, tt.wantNames[0])
				}
				if got := ServerName(m.Leaf, nodes[len(nodes)-1]); got != tt.wantNames[1] {
					t.Errorf("ServerName of the last pod = %q, want %q", got, tt.wantNames[1])
				}
			}
		})
	}
}

// match wants exactly one finding per prefix, in order.
func match(t *testing.T, what string, got, prefixes []string) {
	t.Helper()
	if len(got) != len(prefixes) {
		t.Errorf("%s: %q, want %d starting %q", what, got, len(prefixes), prefixes)
		return
	}
	for i := range got {
		if !strings.HasPrefix(got[i], prefixes[i]) {
			t.Errorf("%s[%d] = %q, want it to start %q", what, i, got[i], prefixes[i])
		}
	}
}

func TestClientConfigPresentsTheCertificateOnlyWhenAsked(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	m, err := Parse("shop/cache-tls", ca.SecretData(ca.Issue(t, tlstest.Leaf{DNSNames: []string{"*.cache-nodes.shop.svc"}})))
	if err != nil {
		t.Fatal(err)
	}
	if cfg := m.ClientConfig(false); len(cfg.Certificates) != 0 || cfg.InsecureSkipVerify || cfg.RootCAs == nil {
		t.Errorf("clientAuth none: %d certificates, InsecureSkipVerify %v, RootCAs %v", len(cfg.Certificates), cfg.InsecureSkipVerify, cfg.RootCAs)
	}
	if cfg := m.ClientConfig(true); len(cfg.Certificates) != 1 || cfg.InsecureSkipVerify {
		t.Errorf("clientAuth required: %d certificates, InsecureSkipVerify %v", len(cfg.Certificates), cfg.InsecureSkipVerify)
	}
}
