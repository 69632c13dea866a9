package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validSpec = `apiVersion: redis-gitops.dev/v1alpha1
kind: RedisCluster
metadata:
  name: cache
  namespace: prod
spec:
  masters: 3
`

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRender(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "cache.yaml", validSpec)
	code, out, errOut := runCmd(t, "render", file)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for _, want := range []string{
		"kind: ConfigMap\n", "kind: Service\n", "kind: PodDisruptionBudget\n", "kind: StatefulSet\n",
		"  name: cache-config\n", "  name: cache-nodes\n",
		"app.kubernetes.io/managed-by: redis-gitops\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if got, want := strings.Count(out, "\n---\n"), 4; got != want {
		t.Errorf("%d document separators, want %d", got, want)
	}

	// Two clusters, from a directory: one stream, in file order.
	writeFile(t, dir, "other.yaml", strings.ReplaceAll(validSpec, "name: cache", "name: other"))
	code, out, errOut = runCmd(t, "render", dir)
	if code != 0 {
		t.Fatalf("directory: exit %d, stderr:\n%s", code, errOut)
	}
	if got, want := strings.Count(out, "\n---\n"), 9; got != want {
		t.Errorf("directory: %d document separators, want %d", got, want)
	}
	if i, j := strings.Index(out, "name: cache-config"), strings.Index(out, "name: other-config"); i < 0 || j < i {
		t.Errorf("directory: clusters out of file order")
	}
}

func TestRenderErrors(t *testing.T) {
	dir := t.TempDir()
	invalid := writeFile(t, dir, "bad.yaml", strings.Replace(validSpec, "masters: 3", "masters: 3\n  replicasPerMaster: many", 1))
	valid := writeFile(t, dir, "good.yaml", validSpec)
	tests := []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"no path", []string{"render"}, 2, "usage: redis-gitops render"},
		{"missing file", []string{"render", filepath.Join(dir, "nope.yaml")}, 2, "nope.yaml"},
		{"invalid spec", []string{"render", invalid}, 1, "bad.yaml:8:"},
		{"one invalid among valid", []string{"render", valid, invalid}, 1, "bad.yaml:8:"},
		{"no clusters", []string{"render", writeFile(t, dir, "empty.yml", "# nothing\n")}, 1, "no RedisCluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, errOut)
			}
			if out != "" {
				t.Errorf("stdout is not empty:\n%s", out)
			}
			if !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.inStderr, errOut)
			}
		})
	}
}

// TestRenderExamples: `redis-gitops render` of each example prints exactly
// the golden file the render package keeps for it.
func TestRenderExamples(t *testing.T) {
	examples, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*", "cluster.yaml"))
	if len(examples) == 0 {
		t.Fatal("no examples/*/cluster.yaml found: the examples are part of what this test checks")
	}
	for _, ex := range examples {
		name := filepath.Base(filepath.Dir(ex))
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("..", "..", "reconcile", "render", "testdata", name+".golden.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCmd(t, "render", ex)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, errOut)
			}
			if out != string(want) {
				t.Errorf("render %s differs from the render package's golden file", ex)
			}
		})
	}
}
