package cluster

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/spec"
)

// DeclaredUsers hashes every password of every Secret listed, each once,
// and refuses the whole set, naming the user and the Secret, when a Secret
// or its key is missing or the password is empty: nothing is planned then,
// so no node changes.
func TestDeclaredUsers(t *testing.T) {
	ctx := context.Background()
	secret := func(name string, data map[string]string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: name}, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	client := fake.NewClientset(
		secret("app-1", map[string]string{"password": "one"}),
		secret("app-2", map[string]string{"password": "two", "other": "one"}),
		secret("empty", map[string]string{"password": ""}),
	)
	r := &Redis{Client: client}
	user := func(refs ...spec.SecretRef) *spec.RedisCluster {
		c := &spec.RedisCluster{Metadata: spec.Metadata{Name: "cache", Namespace: "prod"}}
		c.Spec.Users = []spec.User{{Name: "app", PasswordSecretRefs: refs, Commands: []string{"+get"}}}
		c.SetDefaults()
		return c
	}
	got, err := r.DeclaredUsers(ctx, user(spec.SecretRef{Name: "app-1"}, spec.SecretRef{Name: "app-2"}, spec.SecretRef{Name: "app-2", Key: "other"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{converge.PasswordHash("one"), converge.PasswordHash("two")}; len(got) != 1 || !slices.Equal(got[0].Hashes, want) || !got[0].Enabled {
		t.Errorf("DeclaredUsers: %+v, want app enabled with the hashes of one and two, once each", got)
	}
	for _, tc := range []struct {
		ref  spec.SecretRef
		want string
	}{
		{spec.SecretRef{Name: "missing"}, `user app (spec.users[0], Secret 2 of its 2): Secret prod/missing: secrets "missing" not found`},
		{spec.SecretRef{Name: "app-1", Key: "pw"}, `user app (spec.users[0], Secret 2 of its 2): Secret prod/app-1 has no key "pw"`},
		{spec.SecretRef{Name: "empty"}, `user app (spec.users[0], Secret 2 of its 2): Secret prod/empty: key "password" is empty`},
	} {
		_, err := r.DeclaredUsers(ctx, user(spec.SecretRef{Name: "app-1"}, tc.ref))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("DeclaredUsers with %+v: %v, want %q", tc.ref, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "one") {
			t.Errorf("the error carries a password: %v", err)
		}
	}
}
