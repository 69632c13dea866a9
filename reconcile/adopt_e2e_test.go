package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// blogCluster is the walkthrough of ../shared/seed as its post writes it
// (sandbox/walkthrough: the ConfigMap, the StatefulSet redis-cluster of 6
// pods announcing their pod IP, the headless Service), then `redis-cli
// --cluster create --cluster-replicas 1` run by hand in a pod. With a
// password, the same manifests take requirepass and masterauth from a
// Secret, as people add one.
type blogCluster struct {
	t        *testing.T
	ns       string
	password string
	pods     []corev1.Pod
}

func newBlogCluster(t *testing.T, ns, password string) *blogCluster {
	t.Helper()
	data, err := os.ReadFile("../sandbox/walkthrough/redis-statefulset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if password != "" {
		text = strings.Replace(text, `          - "--cluster-announce-ip $(POD_IP)"`, `          - "--cluster-announce-ip $(POD_IP)"
          - "--requirepass $(REDIS_PASSWORD)"
          - "--masterauth $(REDIS_PASSWORD)"`, 1)
		text = strings.Replace(text, `        env:
`, `        env:
        - name: REDIS_PASSWORD
          valueFrom:
            secretKeyRef:
              name: redis-cluster-auth
              key: password
        - name: REDISCLI_AUTH
          valueFrom:
            secretKeyRef:
              name: redis-cluster-auth
              key: password
`, 1)
		client := sandboxtest.Client(t)
		if _, err := client.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "redis-cluster-auth"}, Data: map[string][]byte{"password": []byte(password)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(t.TempDir(), "redis-statefulset.yaml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	sandboxtest.Kubectl(t, nil, "-n", ns, "apply", "-f", file)
	b := &blogCluster{t: t, ns: ns, password: password}
	b.waitReady()
	var addrs []string
	for _, p := range b.pods {
		addrs = append(addrs, p.Status.PodIP+":6379")
	}
	out := b.exec("redis-cluster-0", append([]string{"redis-cli", "--cluster", "create", "--cluster-replicas", "1", "--cluster-yes"}, addrs...)...)
	if !strings.Contains(out, "[OK] All 16384 slots covered.") {
		t.Fatalf("redis-cli --cluster create:\n%s", out)
	}
	eventually(t, time.Minute, func() error {
		for _, p := range b.pods {
			if info := b.exec(p.Name, "redis-cli", "cluster", "info"); !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("%s: not cluster_state:ok", p.Name)
			}
		}
		return nil
	})
	return b
}

func (b *blogCluster) waitReady() {
	b.t.Helper()
	client := sandboxtest.Client(b.t)
	eventually(b.t, 3*time.Minute, func() error {
		list, err := client.CoreV1().Pods(b.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=redis-cluster"})
		if err != nil {
			return err
		}
		var ready []corev1.Pod
		for _, p := range list.Items {
			if podReady(p) && p.Status.PodIP != "" {
				ready = append(ready, p)
			}
		}
		if len(ready) < 6 {
			return fmt.Errorf("%d of 6 pods of the blog's StatefulSet ready", len(ready))
		}
		b.pods = ready
		return nil
	})
}

func (b *blogCluster) exec(pod string, cmd ...string) string {
	b.t.Helper()
	return sandboxtest.Kubectl(b.t, nil, append([]string{"-n", b.ns, "exec", pod, "--"}, cmd...)...)
}

// client is a cluster client that knows only the old pods: it follows
// MOVED to the managed pods as the takeover hands shards over, as any
// application's client would.
func (b *blogCluster) client() *redis.ClusterClient {
	var addrs []string
	for _, p := range b.pods {
		addrs = append(addrs, p.Status.PodIP+":6379")
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16, Password: b.password})
}

// oldIDs are the old nodes' IDs.
func (b *blogCluster) oldIDs() map[string]string {
	out := map[string]string{}
	for _, p := range b.pods {
		out[strings.TrimSpace(b.exec(p.Name, "redis-cli", "cluster", "myid"))] = p.Name
	}
	return out
}

func eventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestAdoptTheBlogsCluster takes the blog's hand-made cluster over while a
// client writes: every shard ends on the managed pods with their
// placement, every acknowledged write reads back, and the old pods are
// released (no slot, no key, forgotten by every node).
func TestAdoptTheBlogsCluster(t *testing.T) {
	adoptWhileWriting(t, "adopt", "")
}

// TestAdoptWithPassword is the same with the seed's manifests plus a
// requirepass from a Secret, which the spec's auth names.
func TestAdoptWithPassword(t *testing.T) {
	adoptWhileWriting(t, "adopt-auth", "s3cret-old-cluster")
}

func adoptWhileWriting(t *testing.T, prefix, password string) {
	var old *blogCluster
	h := newHarnessWith(t, prefix, func(h *harness) {
		old = newBlogCluster(t, h.ns, password)
		h.c.Spec.Adopt = &spec.Adopt{StatefulSet: "redis-cluster", Port: spec.DefaultAdoptPort}
		if password != "" {
			h.c.Spec.Auth = &spec.Auth{SecretRef: spec.SecretRef{Name: "redis-cluster-auth", Key: "password"}, RotationGracePeriod: spec.Duration{Duration: spec.DefaultRotationGracePeriod}}
			h.password = password
		}
		if errs := h.c.Validate(); len(errs) > 0 {
			t.Fatal(errs)
		}
	})
	oldIDs := old.oldIDs()

	if password == "" {
		// Refused before any step: a shard's slots covered by no node.
		// DELSLOTS changes only the node's own table: every node forgets
		// the owner, so all of them agree the slots are uncovered.
		owner := ownerOf(t, old, 0)
		for _, p := range old.pods {
			old.exec(p.Name, "redis-cli", "cluster", "delslotsrange", "0", "100")
		}
		oc := h.passErr()
		if err := oc.Err(); err == nil || !strings.Contains(err.Error(), "slots 0-100 have no owner") {
			t.Fatalf("a cluster with uncovered slots: pass error %v, want a refusal naming slots 0-100", err)
		}
		if a := oc.Report.Adoption; a == nil || a.State != report.AdoptionRefused {
			t.Errorf("report adoption: %+v, want refused", a)
		}
		if n := strings.Count(strings.TrimSpace(old.exec(owner, "redis-cli", "cluster", "nodes")), "\n") + 1; n != 6 {
			t.Fatalf("after the refusal the old cluster has %d nodes, want its 6: a step was taken", n)
		}
		old.exec(owner, "redis-cli", "cluster", "addslotsrange", "0", "100")
	}

	// 10,000 keys before, and a client writing all along.
	seed := old.client()
	ctx := context.Background()
	for i := range 10000 {
		if err := seed.Set(ctx, fmt.Sprintf("seed:%d", i), fmt.Sprintf("v%d", i), 0).Err(); err != nil {
			t.Fatalf("seed:%d: %v", i, err)
		}
	}
	seed.Close()
	w := startWriterOn(old.client(), 2000)

	start := time.Now()
	var oc = h.pass()
	for i := 0; i < 3 && (oc.Report.Adoption == nil || oc.Report.Adoption.State != report.AdoptionAdopted); i++ {
		oc = h.pass()
	}
	t.Logf("takeover done in %.1f s", time.Since(start).Seconds())
	time.Sleep(2 * time.Second) // the writer keeps going on the adopted cluster
	w.finish(t, h)

	if a := oc.Report.Adoption; a == nil || a.State != report.AdoptionAdopted || len(a.Released) != 6 {
		t.Fatalf("report adoption: %+v; want adopted with the 6 old pods released", a)
	}
	h.check() // redis-cli --cluster check, roles and placement of the managed pods
	h.readSeed(10000)
	// The old pods hold no slot and no key, and no node knows them.
	for _, p := range old.pods {
		nodes := strings.TrimSpace(old.exec(p.Name, "redis-cli", "cluster", "nodes"))
		if strings.Count(nodes, "\n") != 0 || strings.Contains(nodes, " connected 0") {
			t.Errorf("old %s still knows peers or owns slots:\n%s", p.Name, nodes)
		}
		if n := strings.TrimSpace(old.exec(p.Name, "redis-cli", "dbsize")); n != "0" {
			t.Errorf("old %s holds %s keys", p.Name, n)
		}
	}
	for name := range h.pods() {
		nodes := h.exec(name, "redis-cli", "cluster", "nodes")
		for id, oldPod := range oldIDs {
			if strings.Contains(nodes, id) {
				t.Errorf("%s still knows old %s (%s)", name, oldPod, id[:8])
			}
		}
	}
	// A pass on the adopted cluster has nothing left to do, and says so.
	again := h.pass()
	if len(again.Topology.Executed) != 0 {
		t.Errorf("a pass after the takeover executed %v", again.Topology.Executed)
	}
	if c := again.Report.Condition(report.Ready); c.Status != report.True {
		t.Errorf("report: Ready is %s (%s), want True", c.Status, c.Message)
	}
	if a := again.Report.Adoption; a == nil || a.State != report.AdoptionAdopted {
		t.Errorf("report adoption after the takeover: %+v, want adopted", a)
	}
}

// passErr is a pass that may fail; it returns the outcome either way.
func (h *harness) passErr() reconcile.ClusterOutcome {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	p := reconcile.Pass{Applier: &kube.Applier{Client: h.client, Dynamic: sandboxtest.Dynamic(h.t)}, Redis: h.redis, Log: h.redis.Log}
	return p.Run(ctx, []*spec.RedisCluster{h.c}, nil).Clusters[0]
}

func ownerOf(t *testing.T, b *blogCluster, slot int) string {
	t.Helper()
	nodes, err := topology.ParseClusterNodes(b.exec("redis-cluster-0", "redis-cli", "cluster", "nodes"))
	if err != nil {
		t.Fatal(err)
	}
	ipToPod := map[string]string{}
	for _, p := range b.pods {
		ipToPod[p.Status.PodIP] = p.Name
	}
	for _, n := range nodes {
		for _, r := range n.Slots {
			if r.Start <= slot && slot <= r.End {
				return ipToPod[n.IP]
			}
		}
	}
	t.Fatalf("no owner of slot %d", slot)
	return ""
}

func (h *harness) readSeed(n int) {
	h.t.Helper()
	c := h.data()
	defer c.Close()
	for i := range n {
		got, err := c.Get(context.Background(), fmt.Sprintf("seed:%d", i)).Result()
		if err != nil || got != fmt.Sprintf("v%d", i) {
			h.t.Fatalf("seed:%d after the takeover: %q, %v", i, got, err)
		}
	}
}
