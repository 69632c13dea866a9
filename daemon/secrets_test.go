package daemon

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/redis-gitops/redis-gitops/spec"
)

// changedSecrets (the logic of watchSecrets; a fake API is enough for it):
// a changed auth Secret names its cluster once, a first look or an
// unchanged Secret names none, and clusters without auth or suspended are
// not looked at.
func TestChangedSecrets(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "cache-auth", ResourceVersion: "1"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "other-auth", ResourceVersion: "1"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "secure-tls", ResourceVersion: "1"}},
	)
	cluster := func(name, secret string, suspend bool) *spec.RedisCluster {
		c := &spec.RedisCluster{Metadata: spec.Metadata{Name: name, Namespace: "prod"}}
		if secret != "" {
			c.Spec.Auth = &spec.Auth{SecretRef: spec.SecretRef{Name: secret, Key: "password"}}
		}
		c.Spec.Reconcile.Suspend = suspend
		return c
	}
	secure := cluster("secure", "", false)
	secure.Spec.TLS = &spec.TLS{SecretRef: spec.TLSSecretRef{Name: "secure-tls"}}
	clusters := []*spec.RedisCluster{cluster("cache", "cache-auth", false), cluster("plain", "", false), cluster("paused", "other-auth", true), secure}
	seen := map[string]string{}
	if got := changedSecrets(ctx, client, clusters, seen); len(got) != 0 {
		t.Errorf("first look: %v", got)
	}
	if got := changedSecrets(ctx, client, clusters, seen); len(got) != 0 {
		t.Errorf("nothing changed: %v", got)
	}
	for _, name := range []string{"cache-auth", "other-auth"} {
		if _, err := client.CoreV1().Secrets("prod").Update(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: name, ResourceVersion: "2"}}, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := changedSecrets(ctx, client, clusters, seen); !slices.Equal(got, []string{"prod/cache"}) {
		t.Errorf("after a change: %v, want [prod/cache]", got)
	}
	if got := changedSecrets(ctx, client, clusters, seen); len(got) != 0 {
		t.Errorf("the change named twice: %v", got)
	}
	// A renewed certificate (cert-manager rewrites the Secret) names its cluster.
	if _, err := client.CoreV1().Secrets("prod").Update(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "secure-tls", ResourceVersion: "2"}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := changedSecrets(ctx, client, clusters, seen); !slices.Equal(got, []string{"prod/secure"}) {
		t.Errorf("after a renewal: %v, want [prod/secure]", got)
	}
}

// A user's password Secret changing (a rotation's second Secret filled,
// say) scans its cluster, which has no spec.auth.
func TestChangedSecretsOfUsers(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "app-redis", ResourceVersion: "1"}})
	c := &spec.RedisCluster{Metadata: spec.Metadata{Name: "cache", Namespace: "prod"}}
	c.Spec.Users = []spec.User{{Name: "app", PasswordSecretRefs: []spec.SecretRef{{Name: "app-redis", Key: "password"}}, Commands: []string{"+get"}}}
	seen := map[string]string{}
	if got := changedSecrets(ctx, client, []*spec.RedisCluster{c}, seen); len(got) != 0 {
		t.Errorf("first look: %v", got)
	}
	if _, err := client.CoreV1().Secrets("prod").Update(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "app-redis", ResourceVersion: "2"}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := changedSecrets(ctx, client, []*spec.RedisCluster{c}, seen); !slices.Equal(got, []string{"prod/cache"}) {
		t.Errorf("after a change: %v, want [prod/cache]", got)
	}
}
