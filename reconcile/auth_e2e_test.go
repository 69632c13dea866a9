package reconcile_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/internal/clustertest"
	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/spec"
)

// withPassword, in a harness's setup, protects the cluster with password
// from a Secret cache-auth, which it creates; test clients send it.
func (h *harness) withPassword(password string) {
	h.t.Helper()
	h.password = password
	_, err := h.client.CoreV1().Secrets(h.ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cache-auth"},
		StringData: map[string]string{"password": password},
	}, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.c.Spec.Auth = &spec.Auth{SecretRef: spec.SecretRef{Name: "cache-auth", Key: "password"}}
}

// TestClusterWithPassword: a cluster whose password comes from a Secret
// forms, converges and scales out (MIGRATE carries AUTH); a client without
// the password is refused, one with it reads every key; the password is in
// no ConfigMap and no report. Then the Secret changes: both passwords work
// during the grace, while a writer switches from the old to the new one
// with no auth error; then the old one is refused, with no replication
// link broken, no pod restarted and every pod still Ready.
func TestClusterWithPassword(t *testing.T) {
	const password = "s3cret-Pa55"
	h := newHarnessWith(t, "auth", func(h *harness) {
		h.withPassword(password)
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

	rotated := rotatePassword(t, h, password, "n3w-Pa55-"+h.ns)

	for _, out := range append([]reconcile.ClusterOutcome{oc, scaled}, rotated...) {
		y, err := out.Report.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(y), password) || strings.Contains(string(y), h.password) {
			t.Errorf("a password is in the report")
		}
	}
	for _, cm := range configMapData(t, h) {
		if strings.Contains(cm, password) || strings.Contains(cm, h.password) {
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

// rotatePassword changes the Secret from old to new and runs the passes of
// a rotation, checking what a user would: every node takes both during
// the grace, a writer that moves to the new password in the middle never
// sees an auth error, the old password is refused after it, replication
// links stay up with no new sync, and no pod restarts or goes unready.
func rotatePassword(t *testing.T, h *harness, old, new string) []reconcile.ClusterOutcome {
	t.Helper()
	ctx := context.Background()
	const grace = 10 * time.Second
	h.c.Spec.Auth.RotationGracePeriod = spec.Duration{Duration: grace}
	before := h.pods()
	syncs := func() string {
		var b strings.Builder
		for _, name := range slices.Sorted(maps.Keys(before)) {
			info := h.exec(name, "redis-cli", "info", "stats")
			for _, l := range strings.Split(info, "\n") {
				if strings.HasPrefix(l, "sync_full:") || strings.HasPrefix(l, "sync_partial_ok:") {
					fmt.Fprintf(&b, "%s %s; ", name, strings.TrimSpace(l))
				}
			}
		}
		return b.String()
	}
	syncsBefore := syncs()

	// The writer is an application: it runs on the old password, and in
	// the middle of the rotation it reloads and reconnects with the new.
	var addrs []string
	for _, p := range before {
		addrs = append(addrs, p.Status.PodIP+":6379")
	}
	connect := func(pw string) *redis.ClusterClient {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16, Password: pw})
	}
	w := startRotationWriter(connect(old), "rot", 1000)

	if _, err := h.client.CoreV1().Secrets(h.ns).Update(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cache-auth"},
		StringData: map[string]string{"password": new},
	}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := h.pass()
	accepts := func(addr, pw string) error {
		c := redis.NewClient(&redis.Options{Addr: addr, Password: pw, MaxRetries: -1})
		defer c.Close()
		return c.Ping(ctx).Err()
	}
	for name, p := range before {
		for _, pw := range []string{old, new} {
			if err := accepts(p.Status.PodIP+":6379", pw); err != nil {
				t.Errorf("%s during the grace refuses a password: %v", name, err)
			}
		}
	}
	if y, _ := first.Report.YAML(); !strings.Contains(string(y), "the old password is dropped after") {
		t.Errorf("the report does not say when the old password goes:\n%s", y)
	}
	time.Sleep(grace / 3)
	w.Move(connect(new)) // the application moves to the new password
	time.Sleep(grace)
	second := h.pass()
	h.password = new
	for name, p := range before {
		addr := p.Status.PodIP + ":6379"
		if err := accepts(addr, old); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Errorf("%s after the rotation, with the old password: %v, want WRONGPASS", name, err)
		}
		if err := accepts(addr, new); err != nil {
			t.Errorf("%s after the rotation, with the new password: %v", name, err)
		}
	}
	time.Sleep(3 * time.Second) // more writes on the new password alone
	w.finish(t, "the writer")
	// Replication: no link broke, so no replica synced again; and the
	// readiness probe (which holds no password) still passes everywhere.
	time.Sleep(12 * time.Second) // two readiness periods and more
	for name, p := range h.pods() {
		if p.UID != before[name].UID {
			t.Errorf("%s was replaced during the rotation", name)
		}
		ready := false
		for _, c := range p.Status.Conditions {
			ready = ready || c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
		}
		if !ready {
			t.Errorf("%s is not Ready after the rotation", name)
		}
		info := h.exec(name, "redis-cli", "info", "replication")
		if strings.Contains(info, "role:slave") && !strings.Contains(info, "master_link_status:up") {
			t.Errorf("%s: replication link down after the rotation:\n%s", name, info)
		}
	}
	if after := syncs(); after != syncsBefore {
		t.Errorf("replicas synced again during the rotation:\nbefore %s\nafter  %s", syncsBefore, after)
	}
	h.check()
	if again := h.pass(); again.Topology != nil && again.Topology.Auth != nil && !again.Topology.Auth.Done {
		t.Errorf("the pass after the rotation still finds passwords to change: %+v", again.Topology.Auth)
	}
	return []reconcile.ClusterOutcome{first, second}
}
