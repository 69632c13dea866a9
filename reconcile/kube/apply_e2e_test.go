package kube_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/spec"
)

func TestMain(m *testing.M) { os.Exit(sandboxtest.Main(m)) }

// writeCounter counts requests that change state on the API server: every
// non-GET request except dry runs.
type writeCounter struct {
	next   http.RoundTripper
	writes atomic.Int64
}

func (w *writeCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet && !strings.Contains(r.URL.RawQuery, "dryRun=All") {
		w.writes.Add(1)
	}
	return w.next.RoundTrip(r)
}

func newApplier(t *testing.T) (*kube.Applier, *writeCounter) {
	cfg := sandboxtest.Config()
	counter := &writeCounter{}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter }
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &kube.Applier{Client: client, Dynamic: dyn}, counter
}

const clusterYAML = `apiVersion: redis-gitops.dev/v1alpha1
kind: RedisCluster
metadata:
  name: cache
  namespace: %s
spec:
  masters: 3
  replicasPerMaster: 1
  redis:
    config:
      maxmemory-policy: %s
  storage:
    size: %s
`

func cluster(t *testing.T, ns, policy, size string) *spec.RedisCluster {
	t.Helper()
	clusters, errs := spec.Parse("clusters/cache.yaml", []byte(fmt.Sprintf(clusterYAML, ns, policy, size)))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return clusters[0]
}

func apply(t *testing.T, a *kube.Applier, c *spec.RedisCluster, dryRun bool) kube.Result {
	t.Helper()
	objs, err := render.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Apply(context.Background(), objs.All(), kube.Options{DryRun: dryRun, Selector: render.ManagedSelector(c.Metadata.Name)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func actions(res kube.Result) map[string]kube.Action {
	out := map[string]kube.Action{}
	for _, c := range res.Changes {
		out[c.Object.Kind+"/"+c.Object.Name] = c.Action
	}
	return out
}

func TestApplyLifecycle(t *testing.T) {
	ctx := context.Background()
	ns := sandboxtest.Namespace(t, "apply")
	client := sandboxtest.Client(t)
	a, writes := newApplier(t)

	// First pass creates every object.
	res := apply(t, a, cluster(t, ns, "allkeys-lru", "1Gi"), false)
	for obj, act := range actions(res) {
		if act != kube.Created {
			t.Errorf("first apply: %s %s, want create", obj, act)
		}
	}
	if got := len(res.Changes); got != 5 {
		t.Errorf("first apply: %d changes, want 5 (ConfigMap, 2 Services, PDB, StatefulSet)", got)
	}
	var pods *corev1.PodList
	sandboxtest.Eventually(t, 2*time.Minute, "6 pods running", func() (err error) {
		pods, err = client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: render.ManagedSelector("cache")})
		if err != nil {
			return err
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running != 6 {
			return fmt.Errorf("%d of 6 running", running)
		}
		return nil
	})

	t.Run("a second pass writes nothing", func(t *testing.T) {
		before := writes.writes.Load()
		res := apply(t, a, cluster(t, ns, "allkeys-lru", "1Gi"), false)
		if got := writes.writes.Load() - before; got != 0 || res.Writes() != 0 {
			t.Errorf("write requests: %d (result says %d), want 0; changes %+v", got, res.Writes(), res.Changes)
		}
		for obj, act := range actions(res) {
			if act != kube.Unchanged {
				t.Errorf("%s: %s, want unchanged", obj, act)
			}
		}
	})

	t.Run("a changed field is applied", func(t *testing.T) {
		res := apply(t, a, cluster(t, ns, "volatile-lru", "1Gi"), false)
		if got := actions(res)["ConfigMap/"+render.ConfigMapName("cache")]; got != kube.Configured {
			t.Fatalf("ConfigMap: %s, want configure", got)
		}
		cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, render.ConfigMapName("cache"), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(cm.Data["redis.conf"], "maxmemory-policy volatile-lru") {
			t.Errorf("redis.conf after apply:\n%s", cm.Data["redis.conf"])
		}
		if len(res.Drift) != 0 {
			t.Errorf("a Git change is not drift: %+v", res.Drift)
		}
	})

	t.Run("kubectl edit is drift: reported, then corrected", func(t *testing.T) {
		sandboxtest.Kubectl(t, []string{`KUBE_EDITOR=sed -i s/maxmemory-policy\ volatile-lru/maxmemory-policy\ noeviction/`},
			"-n", ns, "edit", "configmap", render.ConfigMapName("cache"))
		c := cluster(t, ns, "volatile-lru", "1Gi")
		before := writes.writes.Load()
		report := apply(t, a, c, true) // drift: report
		if got := writes.writes.Load() - before; got != 0 {
			t.Errorf("drift: report wrote %d times", got)
		}
		var found *kube.Drift
		for i, d := range report.Drift {
			if d.Object.Kind == "ConfigMap" && d.Path == "data.redis.conf" {
				found = &report.Drift[i]
			}
		}
		if found == nil {
			t.Fatalf("drift not reported: %+v", report.Drift)
		}
		if len(found.Managers) != 1 || found.Managers[0] != "kubectl-edit" {
			t.Errorf("drift managers: %v, want [kubectl-edit]", found.Managers)
		}
		if !strings.Contains(fmt.Sprint(found.Live), "noeviction") || !strings.Contains(fmt.Sprint(found.Desired), "volatile-lru") {
			t.Errorf("drift values: live %q desired %q", found.Live, found.Desired)
		}

		res := apply(t, a, c, false) // drift: correct
		if len(res.Drift) == 0 {
			t.Error("correcting pass did not report the drift it corrected")
		}
		cm, _ := client.CoreV1().ConfigMaps(ns).Get(ctx, render.ConfigMapName("cache"), metav1.GetOptions{})
		if !strings.Contains(cm.Data["redis.conf"], "maxmemory-policy volatile-lru") {
			t.Errorf("drift not corrected:\n%s", cm.Data["redis.conf"])
		}
		if again := apply(t, a, c, false); again.Writes() != 0 || len(again.Drift) != 0 {
			t.Errorf("after correction: %d writes, drift %+v", again.Writes(), again.Drift)
		}
	})

	t.Run("storage size change recreates the StatefulSet without restarting pods", func(t *testing.T) {
		uids := map[string]string{}
		for _, p := range pods.Items {
			uids[p.Name] = string(p.UID)
		}
		stsBefore, err := client.AppsV1().StatefulSets(ns).Get(ctx, "cache", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		plan := apply(t, a, cluster(t, ns, "volatile-lru", "2Gi"), true)
		if got := actions(plan)["StatefulSet/cache"]; got != kube.Recreated {
			t.Fatalf("plan: StatefulSet %s, want recreate", got)
		}
		res := apply(t, a, cluster(t, ns, "volatile-lru", "2Gi"), false)
		acts := actions(res)
		if acts["StatefulSet/cache"] != kube.Recreated {
			t.Fatalf("StatefulSet: %s, want recreate", acts["StatefulSet/cache"])
		}
		expanded := 0
		for _, c := range res.Changes {
			if c.Action == kube.Expanded {
				expanded++
			}
		}
		if expanded != 6 {
			t.Errorf("expanded claims: %d, want 6; warnings %v", expanded, res.Warnings)
		}
		sts, err := client.AppsV1().StatefulSets(ns).Get(ctx, "cache", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sts.UID == stsBefore.UID {
			t.Error("StatefulSet has the same UID: not re-created")
		}
		if got := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse("2Gi")) != 0 {
			t.Errorf("volumeClaimTemplates size %s, want 2Gi", got.String())
		}
		// Give the new StatefulSet time to adopt (or wrongly replace) pods.
		time.Sleep(3 * time.Second)
		after, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: render.ManagedSelector("cache")})
		if err != nil {
			t.Fatal(err)
		}
		if len(after.Items) != len(uids) {
			t.Errorf("pods: %d, want %d", len(after.Items), len(uids))
		}
		for _, p := range after.Items {
			if uids[p.Name] != string(p.UID) {
				t.Errorf("pod %s restarted (uid %s, was %s)", p.Name, p.UID, uids[p.Name])
			}
			if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != sts.UID {
				t.Errorf("pod %s not adopted by the new StatefulSet (owner %v)", p.Name, ref)
			}
		}
		sandboxtest.Eventually(t, 30*time.Second, "claims grown to 2Gi", func() error {
			pvcs, err := client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			for _, pvc := range pvcs.Items {
				if got := pvc.Status.Capacity[corev1.ResourceStorage]; got.Cmp(resource.MustParse("2Gi")) != 0 {
					return fmt.Errorf("%s: capacity %s", pvc.Name, got.String())
				}
			}
			return nil
		})
	})

	t.Run("a cluster removed from Git is pruned and keeps its PVCs", func(t *testing.T) {
		clusters, err := a.ManagedClusters(ctx, render.LabelManagedBy+"="+render.ManagedByValue, render.LabelCluster)
		if err != nil {
			t.Fatal(err)
		}
		if !containsCluster(clusters, ns, "cache") {
			t.Fatalf("managed clusters %v lack %s/cache", clusters, ns)
		}
		changes, err := a.PruneCluster(ctx, ns, render.ManagedSelector("cache"), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 5 {
			t.Errorf("pruned %d objects, want 5: %+v", len(changes), changes)
		}
		for _, c := range changes {
			if c.Action != kube.Pruned {
				t.Errorf("%s: %s, want prune", c.Object, c.Action)
			}
		}
		if _, err := client.AppsV1().StatefulSets(ns).Get(ctx, "cache", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("StatefulSet after prune: %v, want not found", err)
		}
		pvcs, err := client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(pvcs.Items) != 6 {
			t.Errorf("PVCs after prune: %d, want all 6 kept", len(pvcs.Items))
		}
	})
}

func containsCluster(cs []kube.ClusterRef, ns, name string) bool {
	for _, c := range cs {
		if c.Namespace == ns && c.Name == name {
			return true
		}
	}
	return false
}
