package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/redis-gitops/redis-gitops/reconcile/report"
)

// writeReport writes status/<namespace>/<name>.yaml and .md under dir,
// only when the content changed (reports carry no timestamps, so an
// unchanged cluster rewrites nothing). It returns whether it wrote.
func writeReport(dir string, r report.Report) (bool, error) {
	ns, name, ok := strings.Cut(r.Cluster, "/")
	if !ok {
		return false, fmt.Errorf("report for %q: want namespace/name", r.Cluster)
	}
	yml, err := r.YAML()
	if err != nil {
		return false, err
	}
	base := filepath.Join(dir, "status", ns, name)
	old, _ := os.ReadFile(base + ".yaml")
	if !report.Changed(old, yml) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return false, err
	}
	for path, data := range map[string][]byte{base + ".yaml": yml, base + ".md": r.Markdown()} {
		if err := writeAtomic(path, data); err != nil {
			return false, err
		}
	}
	return true, nil
}

// writeAtomic replaces a file through a rename, so a reader never sees half.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
