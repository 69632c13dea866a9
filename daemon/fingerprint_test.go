package daemon

import (
	"slices"
	"testing"

	"github.com/redis-gitops/redis-gitops/spec"
)

func specYAML(name, extra string) string {
	return `apiVersion: redis-gitops.dev/v1alpha1
kind: RedisCluster
metadata:
  name: ` + name + `
  namespace: prod
spec:
  masters: 3
  replicasPerMaster: 1
` + extra
}

// TestChangedKeys: which clusters a new revision reconciles.
func TestChangedKeys(t *testing.T) {
	base := map[string]string{
		"clusters/a.yaml": specYAML("a", ""),
		"clusters/b.yaml": specYAML("b", ""),
		"clusters/c.yaml": specYAML("c", ""),
	}
	with := func(edits map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range edits {
			if v == "" {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"nothing moved", base, nil},
		{"a comment and reordered keys change nothing", with(map[string]string{
			"clusters/a.yaml": "# owned by the cache team\n" + specYAML("a", ""),
			"clusters/b.yaml": "kind: RedisCluster\n" + specYAML("b", "")[len("apiVersion: redis-gitops.dev/v1alpha1\nkind: RedisCluster\n"):] + "apiVersion: redis-gitops.dev/v1alpha1\n",
		}), nil},
		{"a setting changes that cluster only", with(map[string]string{
			"clusters/b.yaml": specYAML("b", "  redis:\n    config:\n      maxmemory: 100mb\n"),
		}), []string{"prod/b"}},
		{"a new image changes that cluster only", with(map[string]string{
			"clusters/c.yaml": specYAML("c", "  redis:\n    image: redis:7.0.15\n"),
		}), []string{"prod/c"}},
		{"a removed cluster is listed (to prune), a new one too", with(map[string]string{
			"clusters/a.yaml": "",
			"clusters/d.yaml": specYAML("d", ""),
		}), []string{"prod/a", "prod/d"}},
		{"a spec that no longer loads is listed", with(map[string]string{
			"clusters/b.yaml": specYAML("b", "  nonsense: 1\n"),
		}), []string{"prod/b"}},
		{"a spec moved to another file is the same", with(map[string]string{
			"clusters/a.yaml":      "",
			"clusters/team/a.yaml": specYAML("a", ""),
		}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			load := func(files map[string]string) map[string]string {
				b := map[string][]byte{}
				for k, v := range files {
					b[k] = []byte(v)
				}
				clusters, errs := spec.LoadFiles(b)
				return fingerprints(clusters, errs)
			}
			old := load(base)
			if len(old) != 3 {
				t.Fatalf("base: %d fingerprints, want 3", len(old))
			}
			if got := changedKeys(old, load(tc.files)); !slices.Equal(got, tc.want) {
				t.Errorf("changed %q, want %q", got, tc.want)
			}
		})
	}
}
