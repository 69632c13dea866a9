// Package monitoring_test checks the alert rules and the Grafana dashboard
// of deploy/monitoring with Debian's promtool (the product never runs it):
// the rules load, their unit tests pass, every dashboard query parses as
// PromQL, uses only defined variables, and names only metrics the exporter
// (as captured in testdata) or the daemon (daemon/metrics.go) has.
package monitoring_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// promtool runs Debian's promtool in this directory and fails the test
// with its output when it fails.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (Debian package prometheus; make deps): %v", err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestAlertRules: promtool loads alerts.yaml and its unit tests pass;
// every alert has a severity, a summary and a description, and a test
// where it fires and one where it does not.
func TestAlertRules(t *testing.T) {
	promtool(t, "check", "rules", "alerts.yaml")
	promtool(t, "test", "rules", "alerts_test.yaml")

	var rules ruleFile
	readYAML(t, "alerts.yaml", &rules)
	// Nothing but groups: the file is also a PrometheusRule's spec.
	var top map[string]any
	readYAML(t, "alerts.yaml", &top)
	for k := range top {
		if k != "groups" {
			t.Errorf("alerts.yaml has %q beside groups: it would not do as a PrometheusRule's spec", k)
		}
	}
	var tests ruleTests
	readYAML(t, "alerts_test.yaml", &tests)
	if !slices.Equal(tests.RuleFiles, []string{"alerts.yaml"}) {
		t.Errorf("alerts_test.yaml tests %v, want alerts.yaml", tests.RuleFiles)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	known := knownMetrics(t)
	alerts := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			switch r.Labels["severity"] {
			case "critical", "warning", "info":
			default:
				t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, r.Labels["severity"])
			}
			for _, k := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[k]) == "" {
					t.Errorf("%s: no %s annotation", r.Alert, k)
				}
			}
			if !strings.Contains(r.Annotations["description"], "Runbook") {
				t.Errorf("%s: the description gives no runbook hint", r.Alert)
			}
			if !fires[r.Alert] {
				t.Errorf("%s: no test in alerts_test.yaml where it fires", r.Alert)
			}
			if !quiet[r.Alert] {
				t.Errorf("%s: no test in alerts_test.yaml where it does not fire", r.Alert)
			}
			for _, m := range metricNames(r.Expr) {
				if !known[m] {
					t.Errorf("%s: metric %s is neither the exporter's (testdata) nor the daemon's", r.Alert, m)
				}
			}
		}
	}
	if alerts < 8 {
		t.Errorf("%d alerts, want at least the 8 the issue lists", alerts)
	}
}

type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
			Query      any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int     `json:"id"`
	Type       string  `json:"type"`
	Title      string  `json:"title"`
	Datasource any     `json:"datasource"`
	Panels     []panel `json:"panels"` // a collapsed row's
	Targets    []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// Variables Grafana defines itself.
var builtins = map[string]bool{
	"__interval": true, "__interval_ms": true, "__rate_interval": true, "__range": true,
	"__range_s": true, "__range_ms": true, "__from": true, "__to": true, "__dashboard": true,
}

var variableRef = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]`)

func variables(s string) []string {
	var out []string
	for _, m := range variableRef.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1]+m[2]+m[3])
	}
	return out
}

// TestDashboard: dashboard.json parses; every panel's queries parse as
// PromQL (each is fed to promtool as a recording rule, with the variables
// given a value), use only variables the dashboard defines, and name only
// metrics that exist.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("dashboard uid %q, title %q, schemaVersion %d", d.UID, d.Title, d.SchemaVersion)
	}
	defined := map[string]bool{}
	for _, v := range d.Templating.List {
		defined[v.Name] = true
	}
	// A variable's query may use the variables defined before it.
	seen := map[string]bool{}
	for _, v := range d.Templating.List {
		for _, u := range variables(v.Definition) {
			if !seen[u] && !builtins[u] {
				t.Errorf("variable %s uses $%s, not defined before it", v.Name, u)
			}
		}
		seen[v.Name] = true
	}
	known := knownMetrics(t)
	ids := map[int]bool{}
	var exprs []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			ds, _ := json.Marshal(p.Datasource)
			for _, u := range variables(string(ds)) {
				if !defined[u] {
					t.Errorf("panel %q: data source uses $%s, not defined", p.Title, u)
				}
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q, query %s: no expr", p.Title, tg.RefID)
					continue
				}
				for _, u := range variables(tg.Expr) {
					if !defined[u] && !builtins[u] {
						t.Errorf("panel %q, query %s: $%s is not defined", p.Title, tg.RefID, u)
					}
				}
				for _, m := range metricNames(tg.Expr) {
					if !known[m] {
						t.Errorf("panel %q, query %s: metric %s is neither the exporter's (testdata) nor the daemon's", p.Title, tg.RefID, m)
					}
				}
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)

	// promtool has no query parser of its own offline; a recording rule's
	// expression is parsed when the rules are checked.
	var rf strings.Builder
	rf.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(substitute(e))
		fmt.Fprintf(&rf, "      - record: dashboard_query_%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	if err := os.WriteFile(path, []byte(rf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, "check", "rules", path)
}

// substitute gives the variables a value as Grafana would.
func substitute(expr string) string {
	return variableRef.ReplaceAllStringFunc(expr, func(ref string) string {
		name := variables(ref)[0]
		switch name {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		case "__interval_ms", "__range_ms":
			return "300000"
		case "__range_s":
			return "300"
		}
		return "value-of-" + name
	})
}

// knownMetrics are the exporter's metric names, as captured from Debian's
// prometheus-redis-exporter 1.45 in front of a cluster-mode redis-server
// (a master, a replica, and a node down; testdata), the daemon's, read
// from daemon/metrics.go, and Prometheus's own per target.
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{"up": true, "ALERTS": true, "ALERTS_FOR_STATE": true}
	files, err := filepath.Glob("testdata/redis_exporter-1.45-*.prom")
	if err != nil || len(files) == 0 {
		t.Fatalf("no exporter capture in testdata: %v", err)
	}
	sample := regexp.MustCompile(`(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range sample.FindAllStringSubmatch(string(b), -1) {
			known[m[1]] = true
		}
	}
	src, err := os.ReadFile("../../daemon/metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	defs := regexp.MustCompile(`(?s)New(Counter|Gauge|Histogram)(Vec|Func)?\(prometheus\.(?:Counter|Gauge|Histogram)Opts\{\s*Name:\s*"([a-z_:]+)"`)
	n := 0
	for _, m := range defs.FindAllStringSubmatch(string(src), -1) {
		n++
		known[m[3]] = true
		if m[1] == "Histogram" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				known[m[3]+s] = true
			}
		}
	}
	if n < 10 {
		t.Fatalf("read %d metric definitions in daemon/metrics.go; has its form changed?", n)
	}
	return known
}

var (
	stringLit  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	matchers   = regexp.MustCompile(`\{[^}]*\}`)
	ranges     = regexp.MustCompile(`\[[^\]]*\]`)
	labelLists = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identifier = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?`)
	keywords   = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true,
	}
)

// metricNames are the metric names a PromQL expression selects: its
// identifiers that are not functions, keywords, or label names (in
// matchers and label lists).
func metricNames(expr string) []string {
	s := stringLit.ReplaceAllString(expr, `""`)
	s = matchers.ReplaceAllString(s, "{}")
	s = ranges.ReplaceAllString(s, "[]")
	s = labelLists.ReplaceAllString(s, " ")
	set := map[string]bool{}
	for _, m := range identifier.FindAllStringSubmatch(s, -1) {
		if m[2] != "" || keywords[strings.ToLower(m[1])] {
			continue // a function call, or a keyword
		}
		set[m[1]] = true
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestMetricNames(t *testing.T) {
	got := metricNames(`max by (namespace, pod) (rate(redis_up{a="b{"}[5m]) / on (pod) group_left (x) up == 0 and bool absent(foo:bar) > 1e-9)`)
	if want := []string{"foo:bar", "redis_up", "up"}; !slices.Equal(got, want) {
		t.Errorf("metricNames = %v, want %v", got, want)
	}
}
