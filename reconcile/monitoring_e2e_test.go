package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
		h.password = password
		_, err := h.client.CoreV1().Secrets(h.ns).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "cache-auth"},
			StringData: map[string]string{"password": password},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h.c.Spec.Auth = &spec.Auth{SecretRef: spec.SecretRef{Name: "cache-auth", Key: "password"}}
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
	prom := startPrometheus(t, h.ns, rules)

	sandboxtest.Eventually(t, 90*time.Second, "Prometheus scrapes six exporters, all up", func() error {
		targets, err := prom.targets()
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
		res, err := prom.query(fmt.Sprintf(`redis_up{namespace=%q, cluster="cache"} == 1`, h.ns))
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
		res, err := prom.query(fmt.Sprintf(`redis_db_keys{namespace=%q, cluster="cache", db="db0"} and on (namespace, pod) redis_instance_info{role="master"}`, h.ns))
		if err != nil {
			return err
		}
		got := map[string]int{}
		for _, s := range res {
			got[s.Metric["pod"]] = int(s.value())
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
// The daemon's panels (redis_gitops_*) need the daemon's /metrics, which
// this test does not run; they are counted and logged, not run.
func checkDashboard(t *testing.T, prom *prometheus, ns string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", "monitoring", "dashboard.json"))
	if err != nil {
		t.Fatalf("the dashboard: %v", err)
	}
	var dash struct{ Panels []dashPanel }
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	var exprs []string
	var walk func([]dashPanel)
	walk = func(ps []dashPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					exprs = append(exprs, tg.Expr)
				}
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	vars := strings.NewReplacer("$namespace", ns, "$cluster", "cache", "${namespace}", ns, "${cluster}", "cache", "$__rate_interval", "1m", "$__interval", "2s")
	ran, daemon := 0, 0
	for _, e := range exprs {
		if strings.Contains(e, "redis_gitops_") {
			daemon++
			continue
		}
		q := vars.Replace(e)
		// The dashboard's 5m windows hold enough samples at a 2s scrape
		// interval once two scrapes are in.
		sandboxtest.Eventually(t, 30*time.Second, "dashboard query returns data: "+q, func() error {
			res, err := prom.query(q)
			if err != nil {
				return err
			}
			if len(res) == 0 {
				return fmt.Errorf("no series")
			}
			return nil
		})
		ran++
	}
	if ran == 0 {
		t.Fatal("the dashboard has no query on the Redis nodes")
	}
	t.Logf("dashboard: %d Redis queries return data; %d daemon queries not run (no daemon here)", ran, daemon)
}

type dashPanel struct {
	Title   string
	Targets []struct{ Expr string }
	Panels  []dashPanel
}

// checkNodeDownRule kills the Kubernetes node of one pod (both of its pods
// stop: exporter and Redis) and waits for the RedisNodeDown rule's
// expression to return them; its `for` is longer than a test should wait.
func checkNodeDownRule(t *testing.T, h *harness, prom *prometheus, rules string) {
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
	if bad, err := prom.unhealthyRules(); err != nil || len(bad) > 0 {
		t.Fatalf("rules: %v %v", bad, err)
	}
	if res, err := prom.query(expr); err != nil || len(res) != 0 {
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
					return fmt.Errorf("%s: %s", p.Name, p.Status.Phase)
				}
			}
			return nil
		})
	})
	start := time.Now()
	sandboxtest.Eventually(t, 60*time.Second, "RedisNodeDown returns the killed node's pods", func() error {
		res, err := prom.query(expr)
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

// podDiscovery serves the pods of namespace ns as Prometheus's http_sd
// wants them: one target group per container port of every pod with an
// IP, labelled as kubernetes_sd_configs role pod labels it.
func podDiscovery(t *testing.T, ns string) http.Handler {
	client := sandboxtest.Client(t)
	meta := func(name string) string {
		return strings.Map(func(r rune) rune {
			if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '_'
		}, name)
	}
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := client.CoreV1().Pods(ns).List(r.Context(), metav1.ListOptions{})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		groups := []group{}
		for _, p := range list.Items {
			if p.Status.PodIP == "" {
				continue
			}
			base := map[string]string{
				"__meta_kubernetes_namespace":     p.Namespace,
				"__meta_kubernetes_pod_name":      p.Name,
				"__meta_kubernetes_pod_ip":        p.Status.PodIP,
				"__meta_kubernetes_pod_node_name": p.Spec.NodeName,
				"__meta_kubernetes_pod_ready":     strconv.FormatBool(podReady(p)),
			}
			for k, v := range p.Labels {
				base["__meta_kubernetes_pod_label_"+meta(k)] = v
			}
			for k, v := range p.Annotations {
				base["__meta_kubernetes_pod_annotation_"+meta(k)] = v
			}
			for _, c := range p.Spec.Containers {
				for _, port := range c.Ports {
					l := maps.Clone(base)
					l["__meta_kubernetes_pod_container_name"] = c.Name
					l["__meta_kubernetes_pod_container_port_name"] = port.Name
					l["__meta_kubernetes_pod_container_port_number"] = strconv.Itoa(int(port.ContainerPort))
					groups = append(groups, group{Targets: []string{net.JoinHostPort(p.Status.PodIP, strconv.Itoa(int(port.ContainerPort)))}, Labels: l})
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(groups)
	})
}

// prometheus is Debian's prometheus, run by a test on loopback.
type prometheus struct {
	base string
}

// startPrometheus runs prometheus on a free loopback port with its storage
// in a temporary directory, scraping every 2 s the pods of namespace ns
// annotated prometheus.io/scrape, at the annotated port and path. It
// loads the rules file when there is one. The labels are the ones
// deploy/monitoring expects: namespace, pod and cluster.
//
// Debian's prometheus 2.42 is built without kubernetes_sd_configs (the
// package leaves out the Kubernetes client), so the test discovers the
// pods itself: podDiscovery serves, over http_sd_configs, the targets and
// __meta_kubernetes_* labels kubernetes_sd's role pod gives, read from the
// sandbox's API server. The relabeling is the one a kubernetes_sd config
// uses.
func startPrometheus(t *testing.T, ns, rules string) *prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus (Debian's package, make deps): %v", err)
	}
	dir := t.TempDir()
	sd := httptest.NewServer(podDiscovery(t, ns))
	t.Cleanup(sd.Close)
	ruleFiles := ""
	if abs, err := filepath.Abs(rules); err == nil {
		if _, err := os.Stat(abs); err == nil {
			ruleFiles = "rule_files: [" + strconv.Quote(abs) + "]\n"
		}
	}
	config := `global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
` + ruleFiles + `scrape_configs:
  - job_name: redis
    http_sd_configs:
      - url: ` + strconv.Quote(sd.URL+"/pods") + `
        refresh_interval: 2s
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        regex: "true"
        action: keep
      # One target per pod: the discovery gives one per container port.
      - source_labels: [__meta_kubernetes_pod_container_port_name]
        regex: metrics
        action: keep
      - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
        regex: '([^:]+)(?::\d+)?;(\d+)'
        replacement: '$1:$2'
        target_label: __address__
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
        regex: (.+)
        target_label: __metrics_path__
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_pod_label_redis_gitops_dev_cluster]
        target_label: cluster
`
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	log, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		log.Close()
		if t.Failed() {
			if out, err := os.ReadFile(log.Name()); err == nil {
				t.Logf("prometheus log:\n%s", out)
			}
		}
	})
	p := &prometheus{base: "http://" + addr}
	sandboxtest.Eventually(t, 30*time.Second, "prometheus ready", func() error {
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		return nil
	})
	return p
}

func (p *prometheus) get(path string, params url.Values, out any) error {
	resp, err := http.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s %s: %s", path, params.Encode(), body.Error)
	}
	return json.Unmarshal(body.Data, out)
}

type promTarget struct {
	ScrapeURL string            `json:"scrapeUrl"`
	Health    string            `json:"health"`
	LastError string            `json:"lastError"`
	Labels    map[string]string `json:"labels"`
}

func (p *prometheus) targets() ([]promTarget, error) {
	var data struct {
		Active []promTarget `json:"activeTargets"`
	}
	err := p.get("/api/v1/targets", url.Values{"state": {"active"}}, &data)
	return data.Active, err
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s promSample) value() float64 {
	v, _ := s.Value[1].(string)
	f, _ := strconv.ParseFloat(v, 64)
	return f
}

// query runs an instant query; it must return a vector.
func (p *prometheus) query(q string) ([]promSample, error) {
	var data struct {
		ResultType string       `json:"resultType"`
		Result     []promSample `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {q}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: a %s, want a vector", q, data.ResultType)
	}
	return data.Result, nil
}

// unhealthyRules lists the loaded rules whose last evaluation failed;
// an error when none are loaded.
func (p *prometheus) unhealthyRules() ([]string, error) {
	var data struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get("/api/v1/rules", url.Values{}, &data); err != nil {
		return nil, err
	}
	var bad []string
	n := 0
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health == "err" {
				bad = append(bad, r.Name+": "+r.LastError)
			}
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("no rules loaded")
	}
	return bad, nil
}
