package render

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/redis-gitops/redis-gitops/spec"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml from the current rendering")

// goldenInputs maps each golden file's name (without .golden.yaml) to the
// spec it renders: every example (../../examples/<name>/cluster.yaml, the
// golden file named after the example) and this package's own fixtures
// (testdata/inputs/<name>.yaml), which cover what the examples do not.
func goldenInputs(t *testing.T) map[string]string {
	t.Helper()
	inputs := map[string]string{}
	examples, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*", "cluster.yaml"))
	for _, f := range examples {
		inputs[filepath.Base(filepath.Dir(f))] = f
	}
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "inputs", "*.yaml"))
	for _, f := range fixtures {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if other, ok := inputs[name]; ok {
			t.Fatalf("%s and %s would share testdata/%s.golden.yaml; rename the fixture", f, other, name)
		}
		inputs[name] = f
	}
	if len(inputs) == 0 {
		t.Fatal("no examples and no fixtures to render")
	}
	return inputs
}

// renderFile renders every cluster of file as `redis-gitops render` does.
func renderFile(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	clusters, errs := spec.Parse(file, data)
	if len(errs) > 0 {
		t.Fatalf("%s is invalid:\n%v", file, errs)
	}
	if len(clusters) == 0 {
		t.Fatalf("%s has no clusters", file)
	}
	var out bytes.Buffer
	for i, c := range clusters {
		objs, err := Render(c)
		if err != nil {
			t.Fatal(err)
		}
		y, err := objs.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(y)
	}
	return out.Bytes()
}

func TestGolden(t *testing.T) {
	inputs := goldenInputs(t)
	for _, name := range slices.Sorted(maps.Keys(inputs)) {
		t.Run(name, func(t *testing.T) {
			got := renderFile(t, inputs[name])
			checkDecodesStrictly(t, got)
			golden := filepath.Join("testdata", name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./reconcile/render -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("rendering %s differs from %s (run go test ./reconcile/render -update and review the diff):\n%s",
					inputs[name], golden, lineDiff(string(want), string(got)))
			}
		})
	}
	// A golden file whose input is gone would never be checked again.
	goldens, _ := filepath.Glob(filepath.Join("testdata", "*.golden.yaml"))
	for _, g := range goldens {
		name := strings.TrimSuffix(filepath.Base(g), ".golden.yaml")
		if _, ok := inputs[name]; !ok {
			if *update {
				os.Remove(g)
				continue
			}
			t.Errorf("%s has no example or fixture; remove it (or run -update)", g)
		}
	}
}

// checkDecodesStrictly decodes every document into its Kubernetes type,
// rejecting unknown fields: the apply configurations must only produce
// what the API server knows.
func checkDecodesStrictly(t *testing.T, stream []byte) {
	t.Helper()
	for i, doc := range strings.Split(string(stream), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		var obj any
		switch meta.Kind {
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "Service":
			obj = &corev1.Service{}
		case "PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "PodMonitor":
			obj = &podMonitorDoc{}
		default:
			t.Fatalf("document %d: unexpected kind %q", i, meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Errorf("document %d (%s): %v", i, meta.Kind, err)
		}
	}
}

// podMonitorDoc is the part of the Prometheus Operator's PodMonitor
// (monitoring.coreos.com/v1) that Render writes, as its CRD names the
// fields; the project does not depend on the operator's Go types.
type podMonitorDoc struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port        string `json:"port"`
			Path        string `json:"path"`
			Relabelings []struct {
				SourceLabels []string `json:"sourceLabels"`
				TargetLabel  string   `json:"targetLabel"`
			} `json:"relabelings"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// lineDiff shows the first lines where want and got differ, enough to
// find the change; the full diff is `git diff` after -update.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  - " + wl + "\n  + " + gl + "\n")
			shown++
		}
	}
	return b.String()
}
