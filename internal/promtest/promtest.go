// Package promtest runs Debian's prometheus for end-to-end tests: on a
// free loopback port, with its storage in a test's temporary directory,
// and reads its HTTP API.
//
// Debian's prometheus 2.42 is built without kubernetes_sd_configs (the
// package leaves out the Kubernetes client), so PodDiscovery serves a
// namespace's pods over http_sd_configs with the targets and the
// __meta_kubernetes_* labels that kubernetes_sd's role pod gives them:
// the relabeling a test configures is the one a kubernetes_sd config uses.
package promtest

import (
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
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Interval is the scrape and rule evaluation interval of a test's
// Prometheus.
const Interval = 2 * time.Second

// Server is a running prometheus.
type Server struct {
	base string
}

// Start runs prometheus with scrapeConfigs (YAML list items, each starting
// "  - job_name: ...") and the rule files that exist among ruleFiles. It
// stops it when the test ends, and logs its output if the test failed.
func Start(t testing.TB, scrapeConfigs string, ruleFiles ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus (Debian's package, make deps): %v", err)
	}
	dir := t.TempDir()
	var rules []string
	for _, f := range ruleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(abs); err == nil {
			rules = append(rules, strconv.Quote(abs))
		}
	}
	d := Interval.String()
	config := "global:\n  scrape_interval: " + d + "\n  scrape_timeout: " + d + "\n  evaluation_interval: " + d + "\n" +
		"rule_files: [" + strings.Join(rules, ", ") + "]\n" +
		"scrape_configs:\n" + scrapeConfigs
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
				t.Logf("prometheus config:\n%s\nprometheus log:\n%s", config, out)
			}
		}
	})
	s := &Server{base: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
			err = fmt.Errorf("%s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30s: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// PodJob is a scrape config (a YAML list item for Start) named job that
// scrapes the pods sd lists which are annotated prometheus.io/scrape
// "true", at their prometheus.io/port and prometheus.io/path, labelled
// namespace, pod and cluster (the pods' redis-gitops.dev/cluster label),
// as deploy/monitoring expects.
func PodJob(job string, sd *httptest.Server) string {
	return `  - job_name: ` + job + `
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
}

// StaticJob is a scrape config for Start scraping addr's /metrics.
func StaticJob(job, addr string) string {
	return "  - job_name: " + job + "\n    static_configs:\n      - targets: [" + strconv.Quote(addr) + "]\n"
}

// PodDiscovery serves, on loopback until the test ends, the pods of
// namespace ns as http_sd wants them: one target group per container port
// of every pod with an IP, labelled as kubernetes_sd_configs role pod
// labels it.
func PodDiscovery(t testing.TB, client kubernetes.Interface, ns string) *httptest.Server {
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
				"__meta_kubernetes_pod_ready":     strconv.FormatBool(ready(p)),
			}
			for k, v := range p.Labels {
				base["__meta_kubernetes_pod_label_"+LabelName(k)] = v
			}
			for k, v := range p.Annotations {
				base["__meta_kubernetes_pod_annotation_"+LabelName(k)] = v
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
	}))
	t.Cleanup(srv.Close)
	return srv
}

// LabelName is a Kubernetes label or annotation key as service discovery
// writes it in a meta label: every character not valid in a Prometheus
// label name becomes "_".
func LabelName(key string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, key)
}

func ready(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (s *Server) get(path string, params url.Values, out any) error {
	resp, err := http.Get(s.base + path + "?" + params.Encode())
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

// Target is an active scrape target.
type Target struct {
	ScrapePool string            `json:"scrapePool"`
	ScrapeURL  string            `json:"scrapeUrl"`
	Health     string            `json:"health"`
	LastError  string            `json:"lastError"`
	Labels     map[string]string `json:"labels"`
}

// Targets lists the active targets.
func (s *Server) Targets() ([]Target, error) {
	var data struct {
		Active []Target `json:"activeTargets"`
	}
	err := s.get("/api/v1/targets", url.Values{"state": {"active"}}, &data)
	return data.Active, err
}

// Sample is one series of an instant vector.
type Sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// Float is the sample's value.
func (s Sample) Float() float64 {
	v, _ := s.Value[1].(string)
	f, _ := strconv.ParseFloat(v, 64)
	return f
}

// Query runs an instant query; it must return a vector.
func (s *Server) Query(q string) ([]Sample, error) {
	var data struct {
		ResultType string   `json:"resultType"`
		Result     []Sample `json:"result"`
	}
	if err := s.get("/api/v1/query", url.Values{"query": {q}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: a %s, want a vector", q, data.ResultType)
	}
	return data.Result, nil
}

// HasData runs q and errs unless it returns a series: for a dashboard
// query that must show something for a live cluster.
func (s *Server) HasData(q string) error {
	res, err := s.Query(q)
	if err != nil {
		return err
	}
	if len(res) == 0 {
		return fmt.Errorf("%s: no series", q)
	}
	return nil
}

// UnhealthyRules lists the loaded rules whose last evaluation failed; an
// error when no rule is loaded.
func (s *Server) UnhealthyRules() ([]string, error) {
	var data struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := s.get("/api/v1/rules", url.Values{}, &data); err != nil {
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

// DashboardQueries returns every panel query (targets[].expr, in nested
// rows too) of a Grafana dashboard, with $namespace, $cluster and
// Grafana's interval variables replaced.
func DashboardQueries(t testing.TB, file, namespace, cluster string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the dashboard: %v", err)
	}
	type panel struct {
		Targets []struct{ Expr string }
		Panels  []json.RawMessage
	}
	var dash struct{ Panels []json.RawMessage }
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	vars := strings.NewReplacer("${namespace}", namespace, "${cluster}", cluster, "$namespace", namespace, "$cluster", cluster,
		"$__rate_interval", "1m", "$__interval", Interval.String(), "$__range", "5m")
	var out []string
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					out = append(out, vars.Replace(tg.Expr))
				}
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	return out
}
