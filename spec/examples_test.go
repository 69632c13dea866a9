package spec

import (
	"os"
	"path/filepath"
	"testing"
)

// TestExamplesValidate loads every example in the repo's examples/: each
// must validate, and each file must declare at least one cluster.
func TestExamplesValidate(t *testing.T) {
	const dir = "../examples"
	clusters, errs := Load(dir)
	if errs != nil {
		t.Fatalf("examples do not validate:\n%v", errs)
	}
	byFile := map[string]int{}
	for _, c := range clusters {
		byFile[c.Source.File]++
	}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && IsSpecFile(path) && byFile[path] == 0 {
			t.Errorf("%s declares no cluster", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	byKey := map[string]*RedisCluster{}
	for _, c := range clusters {
		byKey[c.Key()] = c
	}
	for _, tc := range []struct {
		key   string
		check func(s ClusterSpec) bool
		what  string
	}{
		{"default/cache", func(s ClusterSpec) bool { return s.Masters == 3 && s.Replicas() == 1 }, "3 masters x 1 replica"},
		{"payments/sessions", func(s ClusterSpec) bool {
			return s.Placement.ZoneKey != "" && s.Placement.AntiAffinity == AntiAffinityRequired &&
				s.Auth != nil && s.Storage.StorageClassName != "" && len(s.Resources.Limits) > 0
		}, "zones, required anti-affinity, auth, storage and resources"},
		{"ops/legacy-cache", func(s ClusterSpec) bool { return s.ReportOnly() && s.Reconcile.Schedule != "" }, "drift: report with a schedule"},
	} {
		c, ok := byKey[tc.key]
		switch {
		case !ok:
			t.Errorf("no example declares %s", tc.key)
		case !tc.check(c.Spec):
			t.Errorf("example %s (%s) does not show %s", tc.key, c.Source.File, tc.what)
		}
	}
}
