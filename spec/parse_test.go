package spec

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const header = `apiVersion: redis-gitops.dev/v1alpha1
kind: RedisCluster
metadata:
  name: %s
  namespace: default
`

// doc returns a RedisCluster document named name with spec as its spec
// block (indented by the caller).
func doc(name, spec string) string {
	return fmt.Sprintf(header, name) + "spec:\n" + spec
}

func TestParseReadsEveryField(t *testing.T) {
	data := `apiVersion: redis-gitops.dev/v1alpha1
kind: RedisCluster
metadata:
  name: sessions
  namespace: payments
  labels: {team: payments, version: 1.10}
  annotations: {example.com/owner: "payments-oncall"}
spec:
  masters: 6
  replicasPerMaster: 2
  redis:
    image: redis:7.2
    nodeTimeout: 1m30s
    config: {maxmemory: 3gb, hz: 10, save: ""}
  resources:
    requests: {cpu: 1, memory: 4Gi}
    limits: {cpu: "2", memory: 4Gi}
  storage: {size: 20Gi, storageClassName: standard, retainOnScaleIn: false}
  placement:
    topologyKey: kubernetes.io/hostname
    zoneKey: topology.kubernetes.io/zone
    antiAffinity: required
    nodeSelector: {pool: redis}
    tolerations:
      - {key: dedicated, operator: Equal, value: redis, effect: NoExecute, tolerationSeconds: 30}
  auth: {secretRef: {name: sessions-auth, key: pw}}
  reconcile: {schedule: "@every 10m", drift: report, suspend: true}
  migration: {keysPerBatch: 500, parallelSlots: 2, profile: fast, latencyBudget: 5ms}
`
	clusters, errs := Parse("c.yaml", []byte(data))
	if errs != nil {
		t.Fatalf("Parse: %v", errs)
	}
	if len(clusters) != 1 {
		t.Fatalf("Parse returned %d clusters, want 1", len(clusters))
	}
	c := clusters[0]
	s := c.Spec
	tol := s.Placement.Tolerations[0]
	for _, tc := range []struct {
		field     string
		got, want any
	}{
		{"Key", c.Key(), "payments/sessions"},
		{"labels.version (as written, not 1.1)", c.Metadata.Labels["version"], "1.10"},
		{"annotations", c.Metadata.Annotations["example.com/owner"], "payments-oncall"},
		{"masters", s.Masters, 6},
		{"replicasPerMaster", s.Replicas(), 2},
		{"TotalNodes", s.TotalNodes(), 18},
		{"redis.image", s.Redis.Image, "redis:7.2"},
		{"redis.nodeTimeout", s.Redis.NodeTimeout.Duration, 90 * time.Second},
		{"redis.config maxmemory", s.Redis.Config["maxmemory"], "3gb"},
		{"redis.config hz (a number)", s.Redis.Config["hz"], "10"},
		{"redis.config save (empty)", s.Redis.Config["save"], ""},
		{"requests.cpu (a number)", s.Resources.Requests["cpu"], "1"},
		{"limits.cpu", s.Resources.Limits["cpu"], "2"},
		{"storage.size", s.Storage.Size, "20Gi"},
		{"storage.storageClassName", s.Storage.StorageClassName, "standard"},
		{"RetainOnScaleIn", s.RetainOnScaleIn(), false},
		{"placement.zoneKey", s.Placement.ZoneKey, "topology.kubernetes.io/zone"},
		{"placement.antiAffinity", s.Placement.AntiAffinity, AntiAffinityRequired},
		{"placement.nodeSelector", s.Placement.NodeSelector["pool"], "redis"},
		{"toleration", fmt.Sprint(tol.Key, tol.Operator, tol.Value, tol.Effect, *tol.TolerationSeconds), "dedicatedEqualredisNoExecute30"},
		{"auth.secretRef", s.Auth.SecretRef, SecretRef{Name: "sessions-auth", Key: "pw"}},
		{"reconcile.schedule", s.Reconcile.Schedule, "@every 10m"},
		{"ReportOnly", s.ReportOnly(), true},
		{"reconcile.suspend", s.Reconcile.Suspend, true},
		{"migration", s.Migration, Migration{KeysPerBatch: 500, ParallelSlots: 2, Profile: MigrationFast, LatencyBudget: Duration{5 * time.Millisecond}}},
		{"migration.Budget (fast: unpaced)", s.Migration.Budget(), time.Duration(0)},
		{"Source.File", c.Source.File, "c.yaml"},
		{"Source.Line", c.Source.Line, 1},
		{"position of spec.masters", c.Source.Fields["spec.masters"], Position{9, 12}},
		{"position of a config key", c.Source.Fields[`spec.redis.config["hz"]`], Position{14, 30}},
		{"position of a toleration", c.Source.Fields["spec.placement.tolerations[0].effect"], Position{25, 65}},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.field, tc.got, tc.want)
		}
	}
}

func TestParseAppliesDefaults(t *testing.T) {
	clusters, errs := Parse("c.yaml", []byte(doc("cache", "  masters: 3\n  replicasPerMaster: null\n  auth: {secretRef: {name: s}}\n")))
	if errs != nil {
		t.Fatalf("Parse: %v", errs)
	}
	s := clusters[0].Spec
	for _, tc := range []struct {
		field     string
		got, want any
	}{
		{"replicasPerMaster (null is unset)", *s.ReplicasPerMaster, DefaultReplicasPerMaster},
		{"redis.image", s.Redis.Image, DefaultImage},
		{"redis.nodeTimeout", s.Redis.NodeTimeout.Duration, DefaultNodeTimeout},
		{"storage.size", s.Storage.Size, DefaultStorageSize},
		{"storage.retainOnScaleIn", *s.Storage.RetainOnScaleIn, true},
		{"placement.topologyKey", s.Placement.TopologyKey, DefaultTopologyKey},
		{"placement.antiAffinity", s.Placement.AntiAffinity, AntiAffinityPreferred},
		{"auth.secretRef.key", s.Auth.SecretRef.Key, DefaultSecretKey},
		{"reconcile.drift", s.Reconcile.Drift, DriftCorrect},
		{"migration.keysPerBatch", s.Migration.KeysPerBatch, DefaultKeysPerBatch},
		{"migration.parallelSlots", s.Migration.ParallelSlots, DefaultParallelSlots},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.field, tc.got, tc.want)
		}
	}
}

func TestParseKeepsGoodDocumentsAroundBadOnes(t *testing.T) {
	data := strings.Join([]string{
		doc("one", "  masters: 3\n"),
		doc("two", "  masters: 2\n"), // invalid: too few masters
		doc("three", "  masters: 3\n  replicasPerMaster: 1\n    bad: indent\n"), // invalid YAML
		"# only a comment\n",
		doc("four", "  masters: 3\n"),
	}, "---\n")
	clusters, errs := Parse("multi.yaml", []byte(data))

	var names []string
	for _, c := range clusters {
		names = append(names, c.Metadata.Name)
	}
	if got, want := strings.Join(names, ","), "one,four"; got != want {
		t.Errorf("valid clusters = %s, want %s", got, want)
	}
	want := []string{
		"multi.yaml:15:12: spec.masters: must be at least 3",
		"multi.yaml:25: invalid YAML: mapping values are not allowed in this context",
	}
	if got := len(errs); got != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", got, len(want), errs)
	}
	for i, w := range want {
		if got := errs[i].Error(); !strings.HasPrefix(got, w) {
			t.Errorf("error %d = %q, want it to start %q", i, got, w)
		}
	}
	if got, want := errs[0].Cluster, "default/two"; got != want {
		t.Errorf("errs[0].Cluster = %q, want %q", got, want)
	}
	if got, want := clusters[1].Source.Line, 29; got != want {
		t.Errorf("fourth document's Source.Line = %d, want %d", got, want)
	}
}

func TestParseReportsEveryErrorOnce(t *testing.T) {
	// A value of the wrong type is reported as such, not again as the zero
	// value it leaves behind ("masters must be at least 3").
	_, errs := Parse("c.yaml", []byte(doc("cache", "  masters: three\n  replicasPerMaster: 9\n  placement: [a]\n  redis: {image: \"\"}\n")))
	want := []string{
		`c.yaml:7:12: spec.masters: expected an integer, got string "three"`,
		`c.yaml:8:22: spec.replicasPerMaster: must be between 0 and 5; got 9`,
		`c.yaml:9:14: spec.placement: expected a mapping of fields, got a list`,
	}
	if got, want := errs.Error(), strings.Join(want, "\n"); got != want {
		t.Errorf("errors:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseEmptyInput(t *testing.T) {
	for _, data := range []string{"", "\n", "# nothing yet\n", "---\n", "---\n---\n# x\n"} {
		clusters, errs := Parse("empty.yaml", []byte(data))
		if len(clusters) != 0 || errs != nil {
			t.Errorf("Parse(%q) = %d clusters, %v; want none and no error", data, len(clusters), errs)
		}
	}
}

func TestParseWindowsLineEndings(t *testing.T) {
	data := strings.ReplaceAll(doc("a", "  masters: 3\n")+"---\n"+doc("b", "  masters: 1\n"), "\n", "\r\n")
	clusters, errs := Parse("crlf.yaml", []byte(data))
	if got, want := len(clusters), 1; got != want {
		t.Errorf("got %d valid clusters, want %d", got, want)
	}
	if got, want := errs.Error(), "crlf.yaml:15:12: spec.masters: must be at least 3"; !strings.HasPrefix(got, want) {
		t.Errorf("error = %q, want it to start %q", got, want)
	}
}

func TestParseDirectiveStaysWithItsDocument(t *testing.T) {
	clusters, errs := Parse("d.yaml", []byte("%YAML 1.1\n---\n"+doc("a", "  masters: 3\n")))
	if len(clusters) != 1 || errs != nil {
		t.Errorf("Parse = %d clusters, %v; want 1 and no error", len(clusters), errs)
	}
}

func TestParseFollowsAliases(t *testing.T) {
	data := doc("a", `  masters: 3
  redis:
    config: &conf {maxmemory-policy: allkeys-lru}
  placement:
    nodeSelector: *conf
    tolerations:
      - &t {key: dedicated, operator: Exists}
      - *t
`)
	clusters, errs := Parse("a.yaml", []byte(data))
	if errs != nil {
		t.Fatalf("Parse: %v", errs)
	}
	p := clusters[0].Spec.Placement
	if got, want := len(p.Tolerations), 2; got != want {
		t.Errorf("len(tolerations) = %d, want %d", got, want)
	}
	if got, want := p.NodeSelector["maxmemory-policy"], "allkeys-lru"; got != want {
		t.Errorf("nodeSelector[maxmemory-policy] = %q, want %q", got, want)
	}
}

func TestParseDoesNotExpandAnAliasBomb(t *testing.T) {
	// "Billion laughs": 10^9 nodes if expanded. The decoder follows an
	// alias only where the Go type expects a value of its kind, so it
	// stops at the first list where a toleration should be.
	var b strings.Builder
	b.WriteString(fmt.Sprintf(header, "bomb"))
	b.WriteString("x0: &a0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("spec:\n  masters: 3\n  placement:\n    tolerations: *a8\n")
	start := time.Now()
	clusters, errs := Parse("bomb.yaml", []byte(b.String()))
	if len(clusters) != 0 {
		t.Errorf("Parse returned %d clusters, want none", len(clusters))
	}
	if got, want := len(errs), 19; got != want {
		t.Errorf("got %d errors, want %d (9 unknown fields, 10 tolerations that are lists):\n%v", got, want, errs)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Parse took %s", d)
	}
}

func TestParseBoundsTheNodesADocumentExpandsTo(t *testing.T) {
	var b strings.Builder
	b.WriteString(doc("many", "  masters: 3\n  placement:\n    tolerations: [&t {key: a, operator: Exists}"))
	for range 40_000 { // 3 nodes each
		b.WriteString(", *t")
	}
	b.WriteString("]\n")
	start := time.Now()
	clusters, errs := Parse("many.yaml", []byte(b.String()))
	if len(clusters) != 0 {
		t.Errorf("Parse returned %d clusters, want none", len(clusters))
	}
	if got, want := errs.Error(), "the document expands to more than 100000 YAML nodes"; !strings.Contains(got, want) {
		t.Errorf("errors do not mention %q:\n%.500s", want, got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Parse took %s", d)
	}
}

func TestParseDuplicateClusterInOneFile(t *testing.T) {
	data := doc("a", "  masters: 3\n") + "---\n" + doc("b", "  masters: 3\n") + "---\n" + doc("a", "  masters: 6\n")
	clusters, errs := Parse("dup.yaml", []byte(data))
	if got, want := len(clusters), 1; got != want {
		t.Errorf("got %d clusters, want %d (b only)", got, want)
	}
	if got, want := errs.Error(), "dup.yaml:20:9: metadata.name: cluster default/a is already declared at dup.yaml:4:9"; !strings.HasPrefix(got, want) {
		t.Errorf("error = %q, want it to start %q", got, want)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"masters", "replicasPerMaster", "redis", "resources", "storage"}
	for _, tc := range []struct{ name, want string }{
		{"master", "masters"},
		{"Masters", "masters"},
		{"replicaspermaster", "replicasPerMaster"},
		{"replicas", "replicasPerMaster"},
		{"storag", "storage"},
		{"resource", "resources"},
		{"image", ""},
		{"x", ""},
	} {
		if got := suggest(tc.name, known); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParentPath(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"spec.masters", "spec"},
		{"spec", ""},
		{`spec.redis.config["port"]`, "spec.redis.config"},
		{`metadata.labels["app.kubernetes.io/name"]`, "metadata.labels"},
		{`metadata.labels["a[\"b"]`, "metadata.labels"},
		{"spec.placement.tolerations[3]", "spec.placement.tolerations"},
		{"spec.placement.tolerations[3].key", "spec.placement.tolerations[3]"},
	} {
		if got := parentPath(tc.path); got != tc.want {
			t.Errorf("parentPath(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}
