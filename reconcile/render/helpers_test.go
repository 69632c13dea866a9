package render

import (
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/redis-gitops/redis-gitops/spec"
)

// testCluster is a defaulted, valid cluster, as Render expects; tests
// change what they need.
func testCluster() *spec.RedisCluster {
	one, retain := 1, true
	return &spec.RedisCluster{
		APIVersion: spec.APIVersion,
		Kind:       spec.Kind,
		Metadata:   spec.Metadata{Name: "cache", Namespace: "prod"},
		Spec: spec.ClusterSpec{
			Masters:           3,
			ReplicasPerMaster: &one,
			Redis: spec.Redis{
				Image:       "redis:7.0",
				NodeTimeout: spec.Duration{Duration: 15 * time.Second},
			},
			Storage: spec.Storage{Size: "1Gi", RetainOnScaleIn: &retain},
			Placement: spec.Placement{
				TopologyKey:  "kubernetes.io/hostname",
				AntiAffinity: "preferred",
			},
		},
	}
}

func mustRender(t *testing.T, c *spec.RedisCluster) Objects {
	t.Helper()
	objs, err := Render(c)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return objs
}

// generic turns an apply configuration into plain maps and slices, the
// shape the API server sees, for tests that walk the whole object.
func generic(t *testing.T, obj any) map[string]any {
	t.Helper()
	b, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// get walks m along path (map keys, or int indexes into lists).
func get(m any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			mm, ok := m.(map[string]any)
			if !ok {
				return nil
			}
			m = mm[p]
		case int:
			l, ok := m.([]any)
			if !ok || p >= len(l) {
				return nil
			}
			m = l[p]
		}
	}
	return m
}

func ptr[T any](v T) *T { return &v }
