package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/spec"
)

func TestWriteReportOnlyWhenChanged(t *testing.T) {
	dir := t.TempDir()
	bad := report.Build(report.Input{Cluster: "prod/cache", Revision: "abc123",
		SpecErrors: spec.ErrorList{{File: "clusters/cache.yaml", Line: 7, Column: 3, Path: "spec.masters", Message: "must be at least 3"}}})
	wrote, err := writeReport(dir, bad)
	if err != nil || !wrote {
		t.Fatalf("first write: %v, %v", wrote, err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "status", "prod", "cache.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "clusters/cache.yaml:7:3") {
		t.Errorf("markdown report lacks the spec error's location:\n%s", md)
	}
	if wrote, err = writeReport(dir, bad); err != nil || wrote {
		t.Errorf("same report again: wrote %v (%v), want no write", wrote, err)
	}
	bad.ObservedRevision = "def456"
	if wrote, err = writeReport(dir, bad); err != nil || !wrote {
		t.Errorf("changed report: wrote %v (%v), want a write", wrote, err)
	}
	if _, err := writeReport(dir, report.Report{Cluster: "no-slash"}); err == nil {
		t.Error("a cluster key without namespace: want an error")
	}
}
