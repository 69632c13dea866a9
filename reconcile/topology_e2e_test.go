package reconcile_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// minimal loads examples/minimal into namespace ns, with a short node
// timeout so failovers happen within a test.
func minimal(t testing.TB, ns string) *spec.RedisCluster {
	t.Helper()
	data, err := os.ReadFile("../examples/minimal/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "namespace: default", "namespace: "+ns, 1)
	text = strings.Replace(text, "replicasPerMaster: 1", "replicasPerMaster: 1\n  redis:\n    nodeTimeout: 3s", 1)
	clusters, errs := spec.Parse("examples/minimal/cluster.yaml", []byte(text))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return clusters[0]
}

type harness struct {
	t      testing.TB
	c      *spec.RedisCluster
	client kubernetes.Interface
	redis  *reconcile.Redis
	ns     string
	// password, when set, is what test clients and redis-cli in the pods
	// send (the pods' REDISCLI_AUTH is the one they started with).
	password string
}

func newHarness(t testing.TB, prefix string) *harness {
	return newHarnessWith(t, prefix, nil)
}

// newHarnessWith lets setup change the cluster (and create what it needs
// in its namespace) before its objects are first applied.
func newHarnessWith(t testing.TB, prefix string, setup func(h *harness)) *harness {
	ns := sandboxtest.Namespace(t, prefix)
	client := sandboxtest.Client(t)
	h := &harness{t: t, c: minimal(t, ns), client: client, ns: ns,
		redis: &reconcile.Redis{Client: client, Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))}}
	if setup != nil {
		setup(h)
	}
	a := &kube.Applier{Client: client, Dynamic: sandboxtest.Dynamic(t)}
	res := reconcile.ApplyObjects(context.Background(), a, []*spec.RedisCluster{h.c}, nil, false, false)
	if err := res.Clusters[0].Err; err != nil {
		t.Fatal(err)
	}
	return h
}

// converge runs one reconcile of the topology and fails on error.
func (h *harness) converge() []topology.Action {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := h.redis.Converge(ctx, h.c, false)
	for _, a := range res.Executed {
		h.t.Logf("executed: %s", a)
	}
	if err != nil {
		h.t.Fatalf("converge: %v", err)
	}
	return res.Executed
}

func (h *harness) exec(pod string, cmd ...string) string {
	h.t.Helper()
	if h.password != "" && len(cmd) > 0 && cmd[0] == "redis-cli" {
		cmd = append([]string{"env", "REDISCLI_AUTH=" + h.password}, cmd...)
	}
	return sandboxtest.Kubectl(h.t, nil, append([]string{"-n", h.ns, "exec", pod, "-c", render.ContainerName, "--"}, cmd...)...)
}

// check is the independent judge: redis-cli --cluster check, plus the rule
// that no master shares a Kubernetes node with one of its replicas.
func (h *harness) check() {
	h.t.Helper()
	pods := h.pods()
	var first corev1.Pod
	for _, p := range pods {
		first = p
		break
	}
	out := h.exec(first.Name, "redis-cli", "--cluster", "check", first.Status.PodIP+":6379")
	for _, want := range []string{"[OK] All nodes agree about slots configuration.", "[OK] All 16384 slots covered."} {
		if !strings.Contains(out, want) {
			h.t.Fatalf("cluster check lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "[WARNING]") || strings.Contains(out, "[ERR]") {
		h.t.Fatalf("cluster check warns:\n%s", out)
	}
	nodeOf := map[string]string{} // pod IP, or a node's own address (externalAccess) -> k8s node
	for _, p := range pods {
		nodeOf[p.Status.PodIP] = p.Spec.NodeName
	}
	if list, err := h.client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{}); err == nil {
		for _, n := range list.Items {
			for _, a := range n.Status.Addresses {
				nodeOf[a.Address] = n.Name
			}
		}
	}
	if list, err := h.client.CoreV1().Services(h.ns).List(context.Background(), metav1.ListOptions{}); err == nil {
		for _, svc := range list.Items { // a load balancer's IP -> its pod's node
			if p, ok := pods[strings.TrimSuffix(svc.Name, "-external")]; ok && len(svc.Status.LoadBalancer.Ingress) > 0 {
				nodeOf[svc.Status.LoadBalancer.Ingress[0].IP] = p.Spec.NodeName
			}
		}
	}
	nodes, err := topology.ParseClusterNodes(h.exec(first.Name, "redis-cli", "cluster", "nodes"))
	if err != nil {
		h.t.Fatal(err)
	}
	byID := map[string]topology.ClusterNode{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	masters, replicas := 0, 0
	for _, n := range nodes {
		switch {
		case n.Has("master"):
			masters++
		case n.Has("slave"):
			replicas++
			m := byID[n.MasterID]
			if nodeOf[n.IP] == "" || nodeOf[m.IP] == "" {
				h.t.Errorf("cannot tell the Kubernetes node of %s or %s", n.IP, m.IP)
			} else if nodeOf[n.IP] == nodeOf[m.IP] {
				h.t.Errorf("replica %s and its master %s share Kubernetes node %s", n.IP, m.IP, nodeOf[n.IP])
			}
		}
		if n.Has("fail") || n.Has("fail?") {
			h.t.Errorf("node %s is flagged %v", n.ID[:8], n.Flags)
		}
	}
	wantM, wantR := h.c.Spec.Masters, h.c.Spec.Masters*h.c.Spec.Replicas()
	if masters != wantM || replicas != wantR {
		h.t.Errorf("roles: %d masters, %d replicas; want %d and %d\n%s", masters, replicas, wantM, wantR, h.exec(first.Name, "redis-cli", "cluster", "nodes"))
	}
}

func (h *harness) pods() map[string]corev1.Pod {
	h.t.Helper()
	list, err := h.client.CoreV1().Pods(h.ns).List(context.Background(), metav1.ListOptions{LabelSelector: render.ManagedSelector(h.c.Metadata.Name)})
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]corev1.Pod{}
	for _, p := range list.Items {
		out[p.Name] = p
	}
	return out
}

// data is a cluster client on the pods' IPs: test data traffic only.
func (h *harness) data() *redis.ClusterClient {
	var addrs []string
	for _, p := range h.pods() {
		addrs = append(addrs, p.Status.PodIP+":6379")
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16, Password: h.password})
}

func (h *harness) writeKeys(n int) {
	h.t.Helper()
	c := h.data()
	defer c.Close()
	ctx := context.Background()
	for i := range n {
		if err := c.Set(ctx, fmt.Sprintf("key:%d", i), fmt.Sprintf("value-%d", i), 0).Err(); err != nil {
			h.t.Fatalf("set key:%d: %v", i, err)
		}
	}
}

func (h *harness) readKeys(n int) {
	h.t.Helper()
	c := h.data()
	defer c.Close()
	ctx := context.Background()
	for i := range n {
		got, err := c.Get(ctx, fmt.Sprintf("key:%d", i)).Result()
		if err != nil || got != fmt.Sprintf("value-%d", i) {
			h.t.Fatalf("get key:%d: %q, %v", i, got, err)
		}
	}
}

func TestTopologyConverges(t *testing.T) {
	h := newHarness(t, "topology")
	h.converge()
	h.check()
	if again := h.converge(); len(again) != 0 {
		t.Errorf("second reconcile executed %d actions, want 0: %v", len(again), again)
	}
	h.writeKeys(500)

	t.Run("every pod deleted at once comes back with its keys", func(t *testing.T) {
		h.t = t
		before := h.pods()
		sandboxtest.Kubectl(t, nil, "-n", h.ns, "delete", "pods", "-l", render.ManagedSelector(h.c.Metadata.Name), "--wait=true")
		sandboxtest.Eventually(t, 2*time.Minute, "6 new pods running", func() error {
			now := h.pods()
			running := 0
			for name, p := range now {
				if p.Status.Phase == corev1.PodRunning && p.UID != before[name].UID && p.Status.PodIP != "" {
					running++
				}
			}
			if running != 6 {
				return fmt.Errorf("%d of 6", running)
			}
			return nil
		})
		h.converge()
		h.check()
		h.readKeys(500)
	})

	t.Run("a lost PVC: the new empty pod rejoins as a replica", func(t *testing.T) {
		h.t = t
		victim, oldID := h.aReplica()
		h.losePVC(victim)
		h.converge()
		h.check()
		if out := h.exec(victim, "redis-cli", "cluster", "nodes"); strings.Contains(out, oldID) {
			t.Errorf("the lost node %s is still known:\n%s", oldID[:8], out)
		}
		h.readKeys(500)
	})
}

// TestDriftReportWritesNothing: with drift: report, a pod that lost its
// data (an empty node Redis cannot add by itself) is reported and planned
// for, and Redis is left untouched (invariant 6); with drift: correct the
// same pass heals it.
func TestDriftReportWritesNothing(t *testing.T) {
	h := newHarness(t, "report")
	h.converge()
	victim := h.c.Metadata.Name + "-3"
	h.losePVC(victim)

	h.c.Spec.Reconcile.Drift = spec.DriftReport
	res, err := h.redis.Converge(context.Background(), h.c, h.c.Spec.ReportOnly())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Executed) != 0 {
		t.Fatalf("drift: report executed %v", res.Executed)
	}
	planned, reported := false, false
	for _, a := range res.Plan().Actions {
		planned = planned || (a.Kind == topology.Meet && a.TargetPod == victim)
	}
	for _, d := range res.Plan().Drift {
		reported = reported || (d.Kind == topology.DriftNotMember && d.Subject == victim)
	}
	if !planned || !reported {
		t.Errorf("report for %s: meet planned %v, not-in-cluster reported %v; plan %+v", victim, planned, reported, res.Plan())
	}
	if out := h.exec(victim, "redis-cli", "cluster", "info"); !strings.Contains(out, "cluster_known_nodes:1") {
		t.Errorf("drift: report changed Redis: %s knows other nodes:\n%s", victim, out)
	}

	h.c.Spec.Reconcile.Drift = spec.DriftCorrect
	h.converge()
	h.check()
}

// aReplica is the first replica's pod and its node ID, as observed.
func (h *harness) aReplica() (pod, id string) {
	h.t.Helper()
	o, err := (&reconcileObserver{h}).observe()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, id := range o.NodeIDs() {
		if n := o.Nodes[id]; !n.IsMaster() {
			return n.Pod.Name, id
		}
	}
	h.t.Fatal("no replica observed")
	return "", ""
}

// losePVC deletes a pod and its claim, as a lost disk would, and waits for
// the StatefulSet to bring the pod back on a new, empty claim.
func (h *harness) losePVC(victim string) {
	t := h.t
	t.Helper()
	ctx := context.Background()
	oldPVC, err := h.client.CoreV1().PersistentVolumeClaims(h.ns).Get(ctx, "data-"+victim, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sandboxtest.Kubectl(t, nil, "-n", h.ns, "delete", "pvc", "data-"+victim, "--wait=false")
	sandboxtest.Kubectl(t, nil, "-n", h.ns, "delete", "pod", victim, "--wait=true")
	sandboxtest.Eventually(t, 2*time.Minute, victim+" back on a new PVC", func() error {
		pvc, err := h.client.CoreV1().PersistentVolumeClaims(h.ns).Get(ctx, "data-"+victim, metav1.GetOptions{})
		if err != nil || pvc.UID == oldPVC.UID {
			return fmt.Errorf("pvc: %v", err)
		}
		p, err := h.client.CoreV1().Pods(h.ns).Get(ctx, victim, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning {
			if p.Status.Phase == corev1.PodPending && time.Since(p.CreationTimestamp.Time) > 20*time.Second {
				// Re-created while its old claim was still terminating.
				_ = h.client.CoreV1().Pods(h.ns).Delete(ctx, victim, metav1.DeleteOptions{})
			}
			return fmt.Errorf("pod %s", p.Status.Phase)
		}
		return nil
	})
}

// testWriter sends the reconciler's log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// reconcileObserver observes through the product's own observer.
type reconcileObserver struct{ h *harness }

func (r *reconcileObserver) observe() (*topology.Observed, error) {
	res, err := r.h.redis.Converge(context.Background(), r.h.c, true)
	return res.Final, err
}
