package daemon_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/internal/giteatest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
)

// BenchmarkGitOps measures the daemon's loop on the sandbox and Gitea:
//
//   - push-to-ok-s: from the `git push` of a new 3×1 spec to
//     cluster_state:ok on every pod, through the webhook; the anchor,
//     anchor-to-ok-s, is the same spec given straight to `redis-gitops
//     reconcile --once` (no Git, no webhook) in the same run, and ratio is
//     push/anchor: what the GitOps loop costs on top;
//   - push-to-report-s: from the push of a spec edit (a runtime setting,
//     set with CONFIG SET on every node) to the status commit naming the
//     new revision (an edit that changes neither the spec nor its objects,
//     a comment, starts no pass at all);
//   - scan-writes: Kubernetes + Redis + Git write calls made by scheduled
//     scans of a converged cluster (target 0), over scans-counted scans.
func BenchmarkGitOps(b *testing.B) {
	srv := giteatest.Shared(b)
	for i := 0; i < b.N; i++ {
		ns := sandboxtest.Namespace(b, "bench")
		repo := srv.CreateRepo(b, "bench-"+ns)
		d := startDaemon(b, "bench-daemon", repo, ns)
		srv.AddWebhook(b, repo, "http://"+d.addr+"/hooks/gitea", webhookSecret)
		spec := clusterSpec(ns, "cache", 3, 1, "", "  reconcile:\n    schedule: \"@every 10s\"\n")

		start := time.Now()
		srv.PutFile(b, repo, "main", "clusters/cache.yaml", spec, "add cache")
		sandboxtest.Eventually(b, 3*time.Minute, "cluster_state:ok", func() error { return clusterStateOK(b, ns, "cache", 6) })
		pushToOK := time.Since(start)

		anchorNS := sandboxtest.Namespace(b, "anchor")
		file := filepath.Join(b.TempDir(), "cache.yaml")
		if err := os.WriteFile(file, []byte(clusterSpec(anchorNS, "cache", 3, 1, "", "")), 0o644); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		cmd := exec.Command(sandboxtest.Bin("redis-gitops"), "reconcile", "--once", "--kubeconfig", sandboxtest.Kubeconfig(), file)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("reconcile --once: %v\n%s", err, out)
		}
		sandboxtest.Eventually(b, 3*time.Minute, "anchor cluster_state:ok", func() error { return clusterStateOK(b, anchorNS, "cache", 6) })
		anchor := time.Since(start)

		waitStatus(b, srv, repo, ns, "cache", 2*time.Minute, "Ready", ready)
		start = time.Now()
		edited := clusterSpec(ns, "cache", 3, 1, "    config:\n      maxmemory-policy: allkeys-lru\n", "  reconcile:\n    schedule: \"@every 10s\"\n")
		rev := srv.PutFile(b, repo, "main", "clusters/cache.yaml", edited, "allkeys-lru")
		waitStatus(b, srv, repo, ns, "cache", time.Minute, "the report of "+rev, func(r report.Report) error {
			if r.ObservedRevision != rev {
				return fmt.Errorf("at %s", r.ObservedRevision)
			}
			return nil
		})
		pushToReport := time.Since(start)

		// Count from after the next scan: the push of the report just read
		// may not be counted yet.
		label := `cluster="` + ns + `/cache",result="ready"`
		first := d.metric("redis_gitops_reconciles_total", label)
		sandboxtest.Eventually(b, time.Minute, "a scheduled scan", func() error {
			if d.metric("redis_gitops_reconciles_total", label) < first+1 {
				return fmt.Errorf("waiting")
			}
			return nil
		})
		before, scans := d.writes(), d.metric("redis_gitops_reconciles_total", label)
		sandboxtest.Eventually(b, time.Minute, "two scheduled scans", func() error {
			if d.metric("redis_gitops_reconciles_total", label) < scans+2 {
				return fmt.Errorf("waiting")
			}
			return nil
		})
		after := d.writes()
		b.Logf("writes before the scans %v, after %v", before, after)
		counted := d.metric("redis_gitops_reconciles_total", label) - scans
		writes := 0.0
		for k := range after {
			writes += after[k] - before[k]
		}
		b.ReportMetric(pushToOK.Seconds(), "push-to-ok-s")
		b.ReportMetric(anchor.Seconds(), "anchor-to-ok-s")
		b.ReportMetric(pushToOK.Seconds()/anchor.Seconds(), "ratio")
		b.ReportMetric(pushToReport.Seconds(), "push-to-report-s")
		b.ReportMetric(writes, "scan-writes")
		b.ReportMetric(counted, "scans-counted")
	}
}
