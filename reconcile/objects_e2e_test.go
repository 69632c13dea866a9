package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/spec"
)

func TestMain(m *testing.M) { os.Exit(sandboxtest.Main(m)) }

const doc = `apiVersion: redis-gitops.dev/v1alpha1
kind: RedisCluster
metadata:
  name: %s
  namespace: %s
spec:
  masters: %s
`

// TestBadSpecIsolated: an invalid spec is never applied, not even partly,
// every valid cluster still is, and nothing is pruned while the repo has
// errors.
func TestBadSpecIsolated(t *testing.T) {
	ctx := context.Background()
	ns := sandboxtest.Namespace(t, "isolated")
	client := sandboxtest.Client(t)
	a := &kube.Applier{Client: client, Dynamic: sandboxtest.Dynamic(t)}
	repo := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(repo, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A cluster that Git later forgets, to check nothing is pruned while a spec is broken.
	write("old.yaml", fmt.Sprintf(doc, "old", ns, "3"))
	clusters, errs := spec.Load(repo)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	reconcile.ApplyObjects(ctx, a, clusters, nil, false, true)
	os.Remove(filepath.Join(repo, "old.yaml"))

	write("good.yaml", fmt.Sprintf(doc, "good", ns, "3"))
	write("bad.yaml", fmt.Sprintf(doc, "bad", ns, "-3"))
	clusters, errs = spec.Load(repo)
	if len(errs) == 0 || !strings.Contains(errs.Error(), "bad.yaml") {
		t.Fatalf("load errors: %v, want one in bad.yaml", errs)
	}
	res := reconcile.ApplyObjects(ctx, a, clusters, errs, false, true)
	for _, c := range res.Clusters {
		if c.Err != nil {
			t.Errorf("%s: %v", c.Cluster, c.Err)
		}
	}
	if _, err := client.AppsV1().StatefulSets(ns).Get(ctx, "good", metav1.GetOptions{}); err != nil {
		t.Errorf("valid cluster not applied: %v", err)
	}
	for _, name := range []string{"bad", "bad-config", "bad-nodes"} {
		if _, err := client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("configmap %s of the invalid cluster: %v, want not found", name, err)
		}
	}
	if _, err := client.AppsV1().StatefulSets(ns).Get(ctx, "bad", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("invalid cluster's StatefulSet: %v, want not found", err)
	}
	if res.PruneSkipped == "" || len(res.Removed) != 0 {
		t.Errorf("prune with a broken spec: skipped %q, removed %+v; want skipped, nothing removed", res.PruneSkipped, res.Removed)
	}
	if _, err := client.AppsV1().StatefulSets(ns).Get(ctx, "old", metav1.GetOptions{}); err != nil {
		t.Errorf("cluster missing from Git was pruned while a spec is broken: %v", err)
	}

	// Once the repo loads cleanly, the forgotten cluster goes.
	os.Remove(filepath.Join(repo, "bad.yaml"))
	clusters, errs = spec.Load(repo)
	res = reconcile.ApplyObjects(ctx, a, clusters, errs, false, true)
	if res.PruneSkipped != "" || len(res.Removed) != 5 {
		t.Errorf("prune: skipped %q, removed %d objects, want 5", res.PruneSkipped, len(res.Removed))
	}
	if _, err := client.AppsV1().StatefulSets(ns).Get(ctx, "old", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("forgotten cluster after a clean load: %v, want pruned", err)
	}
}
