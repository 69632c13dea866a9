package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/redis-gitops/redis-gitops/internal/promtest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/spec"
)

// TestMonitoringWithPrometheus: a 3×1 cluster with a password and
// spec.monitoring on, scraped by a real Prometheus (Debian's) that finds
// the exporters by the pods' prometheus.io annotations, the pods read
// from the sandbox's API server (see startPrometheus). Every
// exporter target is up, redis_up is 1 on six nodes (so the exporters
// authenticate with the Secret), keys per master match what the masters
// hold, every Redis panel of deploy/monitoring/dashboard.json returns data,
// and the exporter's arguments and environment hold no password. Then a
// Kubernetes node is killed, and the RedisNodeDown rule of
// deploy/monitoring/alerts.yaml returns its pods.
func TestMonitoringWithPrometheus(t *testing.T) {
	const password = "m0nitor-Pa55"
	h := newHarnessWith(t, "monitoring", func(h *harness) {
		h.withPassword(password)
		h.c.Spec.Monitoring = spec.Monitoring{Enabled: true}
		h.c.SetDefaults()
		if errs := h.c.Validate(); errs != nil {
			t.Fatal(errs)
		}
	})
	h.pass()
	h.check()
	const keys = 3000
	h.writeKeys(keys)
	h.readKeys(keys) // hits, for the hit ratio

	pods := h.pods()
	if len(pods) != 6 {
		t.Fatalf("%d pods, want 6", len(pods))
	}
	for _, p := range pods {
		checkExporterHoldsNoPassword(t, p, password)
	}

	rules := filepath.Join("..", "deploy", "monitoring", "alerts.yaml")
	sd := promtest.PodDiscovery(t, h.client, h.ns)
	prom := promtest.Start(t, promtest.PodJob("redis", sd), rules)

	sandboxtest.Eventually(t, 90*time.Second, "Prometheus scrapes six exporters, all up", func() error {
		targets, err := prom.Targets()
		if err != nil {
			return err
		}
		up := 0
		for _, tg := range targets {
			if tg.Health == "up" && strings.HasSuffix(tg.ScrapeURL, ":9121/metrics") {
				up++
			}
		}
		if len(targets) != 6 || up != 6 {
			return fmt.Errorf("%d targets, %d of them up on :9121/metrics: %+v", len(targets), up, targets)
		}
		return nil
	})
	sandboxtest.Eventually(t, 30*time.Second, "redis_up is 1 on six nodes", func() error {
		res, err := prom.Query(fmt.Sprintf(`redis_up{namespace=%q, cluster="cache"} == 1`, h.ns))
		if err != nil {
			return err
		}
		if len(res) != 6 {
			return fmt.Errorf("%d nodes with redis_up 1: %v", len(res), res)
		}
		return nil
	})

	// Keys per master: what each master holds (DBSIZE, read directly) is
	// what Prometheus has from its exporter, and the masters hold every key.
	want := map[string]int{}
	total := 0
	for _, p := range pods {
		c := redis.NewClient(&redis.Options{Addr: p.Status.PodIP + ":6379", Password: password})
		role, err := c.Do(context.Background(), "ROLE").Slice()
		if err == nil && len(role) > 0 && role[0] == "master" {
			n, err := c.DBSize(context.Background()).Result()
			if err != nil {
				t.Fatalf("DBSIZE on %s: %v", p.Name, err)
			}
			want[p.Name] = int(n)
			total += int(n)
		}
		c.Close()
	}
	if len(want) != 3 || total != keys {
		t.Fatalf("masters hold %v (%d keys), want 3 masters and %d keys", want, total, keys)
	}
	sandboxtest.Eventually(t, 30*time.Second, "keys per master in Prometheus match the masters", func() error {
		res, err := prom.Query(fmt.Sprintf(`redis_db_keys{namespace=%q, cluster="cache", db="db0"} and on (namespace, pod) redis_instance_info{role="master"}`, h.ns))
		if err != nil {
			return err
		}
		got := map[string]int{}
		for _, s := range res {
			got[s.Metric["pod"]] = int(s.Float())
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("Prometheus has %v, the masters hold %v", got, want)
		}
		return nil
	})
	t.Logf("keys per master: %v", want)

	checkDashboard(t, prom, h.ns)
	checkNodeDownRule(t, h, prom, rules)
}

// checkExporterHoldsNoPassword reads the live pod spec: the exporter's
// arguments and environment hold no password, and its only variable takes
// the password from the Secret by reference.
func checkExporterHoldsNoPassword(t *testing.T, p corev1.Pod, password string) {
	t.Helper()
	i := slices.IndexFunc(p.Spec.Containers, func(c corev1.Container) bool { return c.Name == render.ExporterContainerName })
	if i < 0 {
		t.Fatalf("pod %s has no exporter", p.Name)
	}
	exp := p.Spec.Containers[i]
	for _, a := range append(slices.Clone(exp.Command), exp.Args...) {
		if strings.Contains(a, password) || strings.Contains(strings.ToLower(a), "password") {
			t.Errorf("pod %s: the exporter's argument %q holds or names a password", p.Name, a)
		}
	}
	for _, e := range exp.Env {
		if strings.Contains(e.Value, password) {
			t.Errorf("pod %s: the exporter's variable %s holds the password", p.Name, e.Name)
		}
		if e.Name == "REDIS_PASSWORD" && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "cache-auth") {
			t.Errorf("pod %s: REDIS_PASSWORD is %+v, want a reference to the Secret cache-auth", p.Name, e)
		}
	}
	if len(exp.Env) != 1 {
		t.Errorf("pod %s: the exporter has %d variables, want REDIS_PASSWORD alone", p.Name, len(exp.Env))
	}
}

// checkDashboard runs every query of deploy/monitoring/dashboard.json on
// the cluster's series against the live Prometheus, with $namespace and
// $cluster set to this cluster: each must succeed and return a series.
// The daemon's panels (redis_gitops_*) need the daemon's /metrics: the
// daemon's end-to-end test (daemon/monitoring_e2e_test.go) runs those.
func checkDashboard(t *testing.T, prom *promtest.Server, ns string) {
	t.Helper()
	ran, daemon := 0, 0
	for _, q := range promtest.DashboardQueries(t, filepath.Join("..", "deploy", "monitoring", "dashboard.json"), ns, "cache") {
		if strings.Contains(q, "redis_gitops_") {
			daemon++
			continue
		}
		// The dashboard's 5m windows hold enough samples at a 2s scrape
		// interval once two scrapes are in.
		sandboxtest.Eventually(t, 30*time.Second, "dashboard query returns data: "+q, func() error { return prom.HasData(q) })
		ran++
	}
	if ran == 0 {
		t.Fatal("the dashboard has no query on the Redis nodes")
	}
	t.Logf("dashboard: %d Redis queries return data; %d daemon queries not run (no daemon here: daemon/monitoring_e2e_test.go runs them)", ran, daemon)
}

// checkNodeDownRule kills the Kubernetes node of one pod (both of its pods
// stop: exporter and Redis) and waits for the RedisNodeDown rule's
// expression to return them; its `for` is longer than a test should wait.
func checkNodeDownRule(t *testing.T, h *harness, prom *promtest.Server, rules string) {
	t.Helper()
	data, err := os.ReadFile(rules)
	if err != nil {
		t.Fatalf("the alert rules: %v", err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	expr := ""
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert == "RedisNodeDown" {
				expr = r.Expr
			}
		}
	}
	if expr == "" {
		t.Fatal("alerts.yaml has no RedisNodeDown rule")
	}
	// Prometheus loaded the file: every rule is healthy.
	if bad, err := prom.UnhealthyRules(); err != nil || len(bad) > 0 {
		t.Fatalf("rules: %v %v", bad, err)
	}
	if res, err := prom.Query(expr); err != nil || len(res) != 0 {
		t.Fatalf("RedisNodeDown before any node is down: %v, %v; want nothing", res, err)
	}

	victim := h.pods()[h.c.Metadata.Name+"-0"]
	node := victim.Spec.NodeName
	var down []string
	for _, p := range h.pods() {
		if p.Spec.NodeName == node {
			down = append(down, p.Name)
		}
	}
	slices.Sort(down)
	t.Logf("killing node %s, which runs %v", node, down)
	sandboxtest.Sandbox(t, "node", "kill", node)
	t.Cleanup(func() {
		sandboxtest.Sandbox(t, "node", "start", node)
		sandboxtest.Eventually(t, 2*time.Minute, "pods on the restarted node running again", func() error {
			for _, p := range h.pods() {
				if p.Status.Phase != corev1.PodRunning || !podReady(p) {
					return fmt.Errorf("%s on %s: %s, conditions %+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Conditions)
				}
			}
			return nil
		})
	})
	start := time.Now()
	sandboxtest.Eventually(t, 60*time.Second, "RedisNodeDown returns the killed node's pods", func() error {
		res, err := prom.Query(expr)
		if err != nil {
			return err
		}
		var got []string
		for _, s := range res {
			if s.Metric["namespace"] == h.ns {
				got = append(got, s.Metric["pod"])
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, down) {
			return fmt.Errorf("RedisNodeDown returns %v, want %v", got, down)
		}
		return nil
	})
	t.Logf("RedisNodeDown returned %v %.1f s after the node was killed", down, time.Since(start).Seconds())
}
