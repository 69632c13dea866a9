package converge

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/internal/tlstest"
	"github.com/redis-gitops/redis-gitops/reconcile/certs"
)

// TestDialersOverTLS runs a real redis-server serving TLS only, with a
// certificate for *.cache-nodes.shop.svc, and dials it by IP as the daemon
// does: the node is verified by the pod name ServerName gives for its IP.
// No name, a name the certificate does not carry, another CA, or (with
// client certificates required) none presented: each is refused.
func TestDialersOverTLS(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("needs redis-server")
	}
	ca := tlstest.NewCA(t, "ca")
	pair := ca.Issue(t, tlstest.Leaf{DNSNames: []string{"*.cache-nodes.shop.svc"}})
	dir := ca.Files(t, pair)
	m, err := certs.Parse("shop/cache-tls", ca.SecretData(pair))
	if err != nil {
		t.Fatal(err)
	}
	other := tlstest.NewCA(t, "other")
	om, err := certs.Parse("shop/other", other.SecretData(other.Issue(t, tlstest.Leaf{DNSNames: []string{"*.cache-nodes.shop.svc"}})))
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range []string{"no", "yes"} {
		addr := startTLSRedis(t, dir, auth)
		name := func(n string) func(string) string { return func(string) string { return n } }
		tests := []struct {
			name string
			tls  *TLS
			ok   bool
		}{
			{"the pod's name, the cluster's CA", &TLS{Config: m.ClientConfig(auth == "yes"), ServerName: name("cache-0.cache-nodes.shop.svc")}, true},
			{"no name: the IP, which no certificate carries", &TLS{Config: m.ClientConfig(auth == "yes"), ServerName: name("")}, false},
			{"a name the certificate does not carry", &TLS{Config: m.ClientConfig(auth == "yes"), ServerName: name("cache-0.other-nodes.shop.svc")}, false},
			{"another CA", &TLS{Config: om.ClientConfig(auth == "yes"), ServerName: name("cache-0.cache-nodes.shop.svc")}, false},
			{"plaintext", nil, false},
		}
		if auth == "yes" {
			tests = append(tests, struct {
				name string
				tls  *TLS
				ok   bool
			}{"no client certificate", &TLS{Config: m.ClientConfig(false), ServerName: name("cache-0.cache-nodes.shop.svc")}, false})
		}
		for _, tt := range tests {
			t.Run("tls-auth-clients "+auth+": "+tt.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				defer cancel()
				for _, d := range []Dialer{RedisDialer("", tt.tls), MigrationDialer("", tt.tls), FallbackDialer(ctx, []string{"", "x"}, tt.tls)} {
					a := d(addr)
					_, err := a.Do(ctx, "PING")
					a.Close()
					if (err == nil) != tt.ok {
						t.Errorf("PING: %v, want ok %v", err, tt.ok)
					}
				}
			})
		}
	}
}

// startTLSRedis runs redis-server on a free loopback port with TLS only.
func startTLSRedis(t *testing.T, certDir, authClients string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	conf := strings.Join([]string{
		"bind 127.0.0.1", "port 0", "tls-port " + strconv.Itoa(port), "dir " + dir, `save ""`, "appendonly no",
		"tls-cert-file " + filepath.Join(certDir, "tls.crt"), "tls-key-file " + filepath.Join(certDir, "tls.key"),
		"tls-ca-cert-file " + filepath.Join(certDir, "ca.crt"), "tls-auth-clients " + authClients,
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "redis.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command("redis-server", filepath.Join(dir, "redis.conf"))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
