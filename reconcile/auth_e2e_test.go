package reconcile_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/internal/clustertest"
	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/spec"
)

// TestClusterWithPassword: a cluster whose password comes from a Secret
// forms, converges and scales out (MIGRATE carries AUTH); a client without
// the password is refused, one with it reads every key; the password is in
// no ConfigMap and no report.
func TestClusterWithPassword(t *testing.T) {
	const password = "s3cret-Pa55"
	h := newHarnessWith(t, "auth", func(h *harness) {
		_, err := h.client.CoreV1().Secrets(h.ns).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "cache-auth"},
			StringData: map[string]string{"password": password},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h.c.Spec.Auth = &spec.Auth{SecretRef: spec.SecretRef{Name: "cache-auth", Key: "password"}}
	})
	oc := h.pass()
	h.check()

	var addrs []string
	for _, p := range h.pods() {
		addrs = append(addrs, p.Status.PodIP+":6379")
	}
	anon := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16})
	defer anon.Close()
	if err := anon.Set(context.Background(), "k", "v", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("a client without the password: %v, want NOAUTH", err)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16, Password: password})
	defer c.Close()
	clustertest.Fill(t, c, 5000)

	h.c.Spec.Masters = 4
	scaled := h.pass()
	h.check()
	clustertest.ReadAll(t, c, 5000)

	for _, out := range []reconcile.ClusterOutcome{oc, scaled} {
		y, err := out.Report.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(y), password) {
			t.Errorf("the password is in the report")
		}
	}
	for _, cm := range configMapData(t, h) {
		if strings.Contains(cm, password) {
			t.Errorf("the password is in a ConfigMap")
		}
	}
}

func configMapData(t *testing.T, h *harness) []string {
	t.Helper()
	list, err := h.client.CoreV1().ConfigMaps(h.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, cm := range list.Items {
		for _, v := range cm.Data {
			out = append(out, v)
		}
	}
	return out
}
