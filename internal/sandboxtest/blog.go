package sandboxtest

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
)

// BlogStatefulSet is the name of the walkthrough's StatefulSet.
const BlogStatefulSet = "redis-cluster"

// Blog is the walkthrough of ../shared/seed as its post writes it
// (sandbox/walkthrough: the ConfigMap, the StatefulSet redis-cluster of 6
// pods announcing their pod IP, the headless Service), then `redis-cli
// --cluster create --cluster-replicas 1` run by hand in a pod: the
// cluster people run before they adopt this project. With a password,
// the same manifests take requirepass and masterauth from the Secret
// redis-cluster-auth (key password), as people add one.
type Blog struct {
	t        testing.TB
	NS       string
	Password string
	Pods     []corev1.Pod
}

// NewBlog makes the blog's cluster in ns. The manifests are read from
// ../sandbox/walkthrough, relative to a test's package directory.
func NewBlog(t testing.TB, ns, password string) *Blog {
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
		text = strings.Replace(text, "        env:\n", `        env:
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
		if _, err := Client(t).CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "redis-cluster-auth"}, Data: map[string][]byte{"password": []byte(password)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(t.TempDir(), "redis-statefulset.yaml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	Kubectl(t, nil, "-n", ns, "apply", "-f", file)
	b := &Blog{t: t, NS: ns, Password: password}
	b.waitReady()
	var addrs []string
	for _, p := range b.Pods {
		addrs = append(addrs, p.Status.PodIP+":6379")
	}
	out := b.Exec("redis-cluster-0", append([]string{"redis-cli", "--cluster", "create", "--cluster-replicas", "1", "--cluster-yes"}, addrs...)...)
	if !strings.Contains(out, "[OK] All 16384 slots covered.") {
		t.Fatalf("redis-cli --cluster create:\n%s", out)
	}
	Eventually(t, time.Minute, "the blog's cluster says cluster_state:ok on every pod", func() error {
		for _, p := range b.Pods {
			if info := b.Exec(p.Name, "redis-cli", "cluster", "info"); !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("%s: not cluster_state:ok", p.Name)
			}
		}
		return nil
	})
	return b
}

func (b *Blog) waitReady() {
	b.t.Helper()
	Eventually(b.t, 3*time.Minute, "the blog's 6 pods Ready", func() error {
		list, err := Client(b.t).CoreV1().Pods(b.NS).List(context.Background(), metav1.ListOptions{LabelSelector: "app=redis-cluster"})
		if err != nil {
			return err
		}
		var ready []corev1.Pod
		for _, p := range list.Items {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.Status.PodIP != "" && p.DeletionTimestamp == nil {
					ready = append(ready, p)
				}
			}
		}
		if len(ready) < 6 {
			return fmt.Errorf("%d of 6 ready", len(ready))
		}
		b.Pods = ready
		return nil
	})
}

// Exec runs cmd in one of the blog's pods (redis-cli takes the password
// from the pod's REDISCLI_AUTH).
func (b *Blog) Exec(pod string, cmd ...string) string {
	b.t.Helper()
	return Kubectl(b.t, nil, append([]string{"-n", b.NS, "exec", pod, "--"}, cmd...)...)
}

// Client is a cluster client that knows only the blog's pods: it follows
// MOVED to wherever the shards go, as an application's client would.
func (b *Blog) Client() *redis.ClusterClient {
	var addrs []string
	for _, p := range b.Pods {
		addrs = append(addrs, p.Status.PodIP+":6379")
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16, Password: b.Password})
}

// IDs maps each of the blog's node IDs to its pod.
func (b *Blog) IDs() map[string]string {
	out := map[string]string{}
	for _, p := range b.Pods {
		out[strings.TrimSpace(b.Exec(p.Name, "redis-cli", "cluster", "myid"))] = p.Name
	}
	return out
}

// CheckReleased fails unless every old pod holds no slot and no key and
// knows no peer, and no node of ids' viewers (CLUSTER NODES texts) names
// an old node.
func (b *Blog) CheckReleased(views map[string]string) {
	b.t.Helper()
	ids := b.IDs()
	for _, p := range b.Pods {
		nodes := strings.TrimSpace(b.Exec(p.Name, "redis-cli", "cluster", "nodes"))
		if strings.Count(nodes, "\n") != 0 || !strings.HasSuffix(nodes, "connected") {
			b.t.Errorf("old %s still knows peers or owns slots:\n%s", p.Name, nodes)
		}
		if n := strings.TrimSpace(b.Exec(p.Name, "redis-cli", "dbsize")); n != "0" {
			b.t.Errorf("old %s holds %s keys", p.Name, n)
		}
	}
	for viewer, text := range views {
		for id, pod := range ids {
			if strings.Contains(text, id) {
				b.t.Errorf("%s still knows old %s (%s)", viewer, pod, id[:8])
			}
		}
	}
}
