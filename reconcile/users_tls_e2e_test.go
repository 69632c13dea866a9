package reconcile_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redis-gitops/redis-gitops/internal/tlstest"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/spec"
)

// TestACLUsersWithTLS: on a cluster served over TLS only, the daemon sets
// a declared user on every node and corrects a hand edit; the user, over
// TLS, can do what its rules allow on every node and nothing else.
func TestACLUsersWithTLS(t *testing.T) {
	ctx := context.Background()
	const pw = "tls-app-pw-Qe"
	ca := tlstest.NewCA(t, "redis-gitops e2e CA")
	h := newHarnessWith(t, "users-tls", func(h *harness) {
		h.withTLS(ca)
		h.secret("app-1", pw)
		h.c.Spec.Users = []spec.User{{Name: "app", PasswordSecretRefs: []spec.SecretRef{{Name: "app-1"}},
			Commands: append([]string{"+@read", "+@write", "-@dangerous"}, clusterCommands...), Keys: []string{"app:*"}}}
		h.c.SetDefaults()
	})
	h.pass()
	as := func(pod, user, password string) *redis.Client {
		return redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", render.PodDNSName(h.c, pod), render.TLSPort),
			Username: user, Password: password, DisableIdentity: true, MaxRetries: -1,
			Dialer: h.tlsDialer(&tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12})})
	}
	check := func(when string) {
		t.Helper()
		for name := range h.pods() {
			c := as(name, "app", pw)
			if err := c.Set(ctx, "app:k", "v", 0).Err(); !allowed(err) {
				t.Errorf("%s: app SET app:k on %s over TLS: %v", when, name, err)
			}
			if err := c.Set(ctx, "other:k", "v", 0).Err(); !noPerm(err) {
				t.Errorf("%s: app SET other:k on %s over TLS: %v, want NOPERM", when, name, err)
			}
			c.Close()
		}
	}
	check("after the first pass")
	var victim string
	for name := range h.pods() {
		victim = name
		break
	}
	adm := as(victim, "", h.password)
	if err := adm.Do(ctx, "ACL", "SETUSER", "app", "~other:*").Err(); err != nil {
		t.Fatal(err)
	}
	adm.Close()
	oc := h.pass()
	if d := usersDrift(oc.Report)[victim+" spec.users[app].keys"]; !strings.HasPrefix(d.Detail, "corrected") {
		t.Errorf("the hand edit over TLS is reported as %+v", d)
	}
	check("after the correction")
}
