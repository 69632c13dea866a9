package spec

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEditFile: each testdata/edit/NAME.yaml edited gives NAME.want.yaml
// byte for byte (comments, blank lines, indentation, quoting and flow
// style kept), and the result parses to the new values.
func TestEditFile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edits []Edit
		check func(c *RedisCluster) string
		want  string // check of the parsed result
	}{
		{"commented", []Edit{{Path: `spec.redis.config["maxmemory"]`, Value: "209715200"}},
			func(c *RedisCluster) string {
				return c.Spec.Redis.Config["maxmemory"] + " " + c.Spec.Redis.Config["maxmemory-policy"]
			}, "209715200 allkeys-lru"},
		{"odd-indent", []Edit{
			{Path: "spec.masters", Value: "5", Integer: true},
			{Path: `spec.redis.config["maxmemory-policy"]`, Value: "volatile-lru"},
			{Path: `spec.redis.config["maxmemory"]`, Value: "200mb"},
			{Path: "spec.replicasPerMaster", Value: "2", Integer: true},
		}, func(c *RedisCluster) string {
			return strings.Join([]string{strconv.Itoa(c.Spec.Masters), strconv.Itoa(c.Spec.Replicas()), c.Spec.Redis.Config["maxmemory"], c.Spec.Redis.Config["maxmemory-policy"]}, " ")
		}, "5 2 200mb volatile-lru"},
		{"flow", []Edit{{Path: `spec.redis.config["maxmemory"]`, Value: "200mb"}},
			func(c *RedisCluster) string {
				return c.Spec.Redis.Config["maxmemory"] + " " + c.Spec.Redis.Config["maxmemory-policy"]
			}, "200mb allkeys-lru"},
		{"missing", []Edit{{Path: `spec.redis.config["maxmemory"]`, Value: "200mb"}},
			func(c *RedisCluster) string {
				return c.Spec.Redis.Config["maxmemory"] + " " + c.Spec.Placement.AntiAffinity
			}, "200mb required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := readFile(t, filepath.Join("testdata", "edit", tc.name+".yaml"))
			want := readFile(t, filepath.Join("testdata", "edit", tc.name+".want.yaml"))
			got, err := EditFile(in, "prod/cache", tc.edits)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("edited file differs from %s.want.yaml:\n--- got\n%s--- want\n%s", tc.name, got, want)
			}
			clusters, errs := Parse("cache.yaml", got)
			if len(errs) > 0 {
				t.Fatalf("the edited file does not parse: %v", errs)
			}
			found := false
			for _, c := range clusters {
				if c.Key() == "prod/cache" {
					found = true
					if got := tc.check(c); got != tc.want {
						t.Errorf("parsed back %q, want %q", got, tc.want)
					}
				}
			}
			if !found {
				t.Error("prod/cache is gone from the edited file")
			}
		})
	}
}

func TestEditFileValues(t *testing.T) {
	in := readFile(t, filepath.Join("testdata", "edit", "commented.yaml"))
	for _, tc := range []struct{ value, line string }{
		{"2gb", "      maxmemory: 2gb   # leave room for fork"},
		{"a: b", `      maxmemory: "a: b"   # leave room for fork`},
		{"true", `      maxmemory: "true"   # leave room for fork`},
		{"", `      maxmemory: ""   # leave room for fork`},
	} {
		got, err := EditFile(in, "prod/cache", []Edit{{Path: `spec.redis.config["maxmemory"]`, Value: tc.value}})
		if err != nil {
			t.Fatal(err)
		}
		if changed := changedLines(string(in), string(got)); len(changed) != 1 || changed[0] != tc.line {
			t.Errorf("value %q: changed lines %q, want only %q", tc.value, changed, tc.line)
		}
		clusters, errs := Parse("cache.yaml", got)
		if len(errs) > 0 || len(clusters) != 1 {
			t.Fatalf("value %q: %v", tc.value, errs)
		}
		if v := clusters[0].Spec.Redis.Config["maxmemory"]; v != tc.value && tc.value != "" {
			t.Errorf("value %q reads back as %q", tc.value, v)
		}
	}
	// Quoted values keep their quotes.
	got, err := EditFile(in, "prod/cache", []Edit{{Path: `spec.redis.config["maxmemory-policy"]`, Value: "noeviction"}})
	if err != nil {
		t.Fatal(err)
	}
	if changed := changedLines(string(in), string(got)); len(changed) != 1 || changed[0] != `      maxmemory-policy: "noeviction"` {
		t.Errorf("changed lines %q", changed)
	}
}

func TestEditFileRefuses(t *testing.T) {
	in := []byte("apiVersion: redis-gitops.dev/v1alpha1\nkind: RedisCluster\nmetadata:\n  name: cache\n  namespace: prod\nspec:\n  masters: 3\n  redis:\n    config:\n      notify-keyspace-events: |\n        KEA\n")
	for _, tc := range []struct {
		cluster string
		edit    Edit
		want    string
	}{
		{"prod/other", Edit{Path: "spec.masters", Value: "4", Integer: true}, "no document declares prod/other"},
		{"prod/cache", Edit{Path: `spec.redis.config["notify-keyspace-events"]`, Value: "KE"}, "block scalar"},
		{"prod/cache", Edit{Path: "spec.masters.x", Value: "1"}, "spec.masters is not a mapping"},
	} {
		got, err := EditFile(in, tc.cluster, []Edit{tc.edit})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: err %v, want %q", tc.cluster, tc.edit.Path, err, tc.want)
		}
		if string(got) != string(in) {
			t.Errorf("%s: the file changed on error", tc.edit.Path)
		}
	}
}

// changedLines are the lines of b that differ from a's, for files with
// the same number of lines.
func changedLines(a, b string) []string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(al) != len(bl) {
		return []string{"line count changed"}
	}
	var out []string
	for i := range al {
		if al[i] != bl[i] {
			out = append(out, bl[i])
		}
	}
	return out
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
