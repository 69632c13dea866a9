package daemon_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/internal/giteatest"
	"github.com/redis-gitops/redis-gitops/internal/promtest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
)

// TestDaemonScrapedWithTheNodes: the daemon runs a 3×1 cluster with
// spec.monitoring on from Git; one Prometheus (Debian's) scrapes the six
// exporters, found by their pods' annotations, and the daemon's /metrics.
// Every target is up, and every query of deploy/monitoring/dashboard.json,
// the daemon's panels included, returns data for the live cluster.
func TestDaemonScrapedWithTheNodes(t *testing.T) {
	srv := giteatest.Shared(t)
	ns := sandboxtest.Namespace(t, "scraped")
	repo := srv.CreateRepo(t, "scraped-"+ns)
	d := startDaemon(t, "daemon-m", repo, ns)
	srv.AddWebhook(t, repo, "http://"+d.addr+"/hooks/gitea", webhookSecret)
	srv.PutFile(t, repo, "main", "clusters/cache.yaml",
		clusterSpec(ns, "cache", 3, 1, "", "  monitoring:\n    enabled: true\n"), "add cache, monitored")
	sandboxtest.Eventually(t, 3*time.Minute, "cluster_state:ok on every pod", func() error { return clusterStateOK(t, ns, "cache", 6) })
	waitStatus(t, srv, repo, ns, "cache", 2*time.Minute, "a Ready report committed", ready)

	sd := promtest.PodDiscovery(t, sandboxtest.Client(t), ns)
	prom := promtest.Start(t, promtest.PodJob("redis", sd)+promtest.StaticJob("redis-gitops", d.addr),
		filepath.Join("..", "deploy", "monitoring", "alerts.yaml"))

	sandboxtest.Eventually(t, 60*time.Second, "six exporters and the daemon scraped, all up", func() error {
		targets, err := prom.Targets()
		if err != nil {
			return err
		}
		up := map[string]int{}
		for _, tg := range targets {
			if tg.Health == "up" {
				up[tg.ScrapePool]++
			}
		}
		if len(targets) != 7 || up["redis"] != 6 || up["redis-gitops"] != 1 {
			return fmt.Errorf("%d targets, up by job %v: %+v", len(targets), up, targets)
		}
		return nil
	})
	sandboxtest.Eventually(t, 30*time.Second, "redis_up 1 on six nodes, and the daemon's passes over the cluster", func() error {
		res, err := prom.Query(fmt.Sprintf(`redis_up{namespace=%q, cluster="cache"} == 1`, ns))
		if err != nil {
			return err
		}
		if len(res) != 6 {
			return fmt.Errorf("%d nodes with redis_up 1", len(res))
		}
		res, err = prom.Query(fmt.Sprintf(`redis_gitops_reconciles_total{job="redis-gitops", cluster=%q}`, ns+"/cache"))
		if err != nil {
			return err
		}
		if len(res) == 0 {
			return fmt.Errorf("no redis_gitops_reconciles_total for %s/cache", ns)
		}
		return nil
	})

	queries := promtest.DashboardQueries(t, filepath.Join("..", "deploy", "monitoring", "dashboard.json"), ns, "cache")
	daemonQueries := 0
	for _, q := range queries {
		if strings.Contains(q, "redis_gitops_") {
			daemonQueries++
		}
		sandboxtest.Eventually(t, 30*time.Second, "dashboard query returns data: "+q, func() error { return prom.HasData(q) })
	}
	if daemonQueries == 0 {
		t.Fatal("the dashboard has no query on the daemon's metrics")
	}
	if bad, err := prom.UnhealthyRules(); err != nil || len(bad) > 0 {
		t.Errorf("alert rules: %v %v", bad, err)
	}
	t.Logf("dashboard: all %d queries return data, %d of them on the daemon's metrics", len(queries), daemonQueries)
}
