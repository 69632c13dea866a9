package reconcile_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/spec"
)

// TestEveryExampleApplies applies every file of examples/ in the sandbox
// as the daemon would (its namespace replaced by the test's): the real API
// server accepts every object rendered, and a report-only example writes
// nothing. The clusters of examples/minimal and a NodePort cluster like
// examples/external-access also converge, in TestTopologyConverges and
// TestExternalAccess; examples/production asks for 18 pods of 4 GiB, more
// than the sandbox's three nodes hold, so it is applied, not converged.
func TestEveryExampleApplies(t *testing.T) {
	files, _ := filepath.Glob("../examples/*/cluster.yaml")
	if len(files) < 4 {
		t.Fatalf("examples: %v, want at least minimal, production, external-access and report-only", files)
	}
	ctx := context.Background()
	client := sandboxtest.Client(t)
	a := &kube.Applier{Client: client, Dynamic: sandboxtest.Dynamic(t)}
	nsLine := regexp.MustCompile(`(?m)^  namespace: .*$`)
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f))
		t.Run(name, func(t *testing.T) {
			ns := sandboxtest.Namespace(t, "ex-"+name)
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			clusters, errs := spec.Parse(f, []byte(nsLine.ReplaceAllString(string(data), "  namespace: "+ns)))
			if len(errs) > 0 || len(clusters) != 1 {
				t.Fatalf("%s: %v", f, errs)
			}
			c := clusters[0]
			if c.Spec.Auth != nil {
				if _, err := client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Name: c.Spec.Auth.SecretRef.Name},
					StringData: map[string]string{c.Spec.Auth.SecretRef.Key: "example-Pa55"},
				}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			res := reconcile.ApplyObjects(ctx, a, clusters, nil, false, false)
			co := res.Clusters[0]
			if co.Err != nil {
				t.Fatalf("apply %s: %v", f, co.Err)
			}
			_, stsErr := client.AppsV1().StatefulSets(ns).Get(ctx, c.Metadata.Name, metav1.GetOptions{})
			if c.Spec.ReportOnly() {
				if !co.DryRun || co.Result.Writes() != 0 || !apierrors.IsNotFound(stsErr) {
					t.Errorf("drift: report wrote: dry run %v, %d writes, StatefulSet: %v", co.DryRun, co.Result.Writes(), stsErr)
				}
				if len(co.Result.Changes) == 0 {
					t.Error("drift: report planned nothing for a cluster that does not exist")
				}
				return
			}
			if stsErr != nil {
				t.Fatalf("the StatefulSet: %v", stsErr)
			}
			created := 0
			for _, ch := range co.Result.Changes {
				if ch.Action == kube.Created && ch.Applied {
					created++
				}
			}
			want := 5 // ConfigMap, 2 Services, PDB, StatefulSet
			if e := c.Spec.ExternalAccess; e != nil && e.Type != spec.ExternalHostname {
				want += c.Spec.TotalNodes()
			}
			if created != want {
				t.Errorf("%d objects created, want %d: %+v", created, want, co.Result.Changes)
			}
		})
	}
}
