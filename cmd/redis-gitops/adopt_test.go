package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/internal/redistest"
	"github.com/redis-gitops/redis-gitops/spec"
)

// TestAdopt: `redis-gitops adopt` on a real 3×1 cluster of redis-server
// processes writes a spec that validates, says on stderr what it could
// not carry over, and refuses (exit 1, naming the node) once a node is
// dead. No Kubernetes: an empty kubeconfig.
func TestAdopt(t *testing.T) {
	t.Setenv("KUBECONFIG", writeFile(t, t.TempDir(), "kubeconfig", ""))
	nodes := redistest.Start(t, 6)
	redistest.Cluster(t, nodes, 3)
	out := filepath.Join(t.TempDir(), "adopted.yaml")

	code, stdout, stderr := runCmd(t, "adopt", "--from", nodes[0].Addr(), "--namespace", "shop", "--statefulset", "redis-cluster", "-o", out)
	if code != 0 {
		t.Fatalf("adopt: exit %d\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing with -o", stdout)
	}
	for _, want := range []string{"note: setting port:", "wrote " + out + " (shop/redis-cluster-gitops)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	clusters, errs := spec.Parse(out, data)
	if len(errs) > 0 || len(clusters) != 1 {
		t.Fatalf("the written spec: %v\n%s", errs, data)
	}
	c := clusters[0]
	if c.Spec.Masters != 3 || c.Spec.Adopt == nil || c.Spec.Adopt.StatefulSet != "redis-cluster" || c.Spec.Adopt.Port != nodes[0].Port {
		t.Errorf("masters %d, adopt %+v", c.Spec.Masters, c.Spec.Adopt)
	}
	if !strings.Contains(string(data), "#   - setting port:") {
		t.Errorf("the spec does not list what was not carried over:\n%s", data)
	}

	nodes[5].Kill()
	code, stdout, stderr = runCmd(t, "adopt", "--from", nodes[0].Addr(), "--statefulset", "redis-cluster")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "node "+nodes[5].Addr()+": does not answer") {
		t.Errorf("adopt with a dead node: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}

// TestAdoptUsage: without --from, or with a bad one, adopt cannot run.
func TestAdoptUsage(t *testing.T) {
	t.Setenv("KUBECONFIG", writeFile(t, t.TempDir(), "kubeconfig", ""))
	for _, args := range [][]string{
		{"adopt"},
		{"adopt", "--from", "no-port"},
		{"adopt", "--from", "pod/redis-cluster-0"}, // a pod needs Kubernetes
		{"adopt", "--from", "127.0.0.1:6379", "--password-secret", "/key"},
	} {
		if code, _, stderr := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr)
		}
	}
}
