package plan

import (
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/reconcile/kube"
)

const redisConf = `# Rendered by redis-gitops; edit the RedisCluster in Git instead.
port 6379
cluster-enabled yes
cluster-config-file /data/nodes.conf
cluster-node-timeout 5000
appendonly yes
maxmemory 100mb
maxmemory-policy allkeys-lru
`

// The pull request: the ConfigMap row of a redis.conf change shows
// the line that changes, not two truncated copies of the file's head.
func TestMarkdownConfigMapShowsChangedLine(t *testing.T) {
	c := scaleOut()
	c.Objects = append(c.Objects, kube.Change{Object: kube.ObjectRef{Kind: "ConfigMap", Namespace: "prod", Name: "cache-config"}, Action: kube.Configured,
		Fields: []kube.FieldDiff{{Path: "data.redis.conf", Live: redisConf, Desired: strings.Replace(redisConf, "maxmemory 100mb", "maxmemory 200mb", 1)}}})
	md := Result{Clusters: []Cluster{c}}.Markdown()
	if want := "| ConfigMap prod/cache-config | configure | `data.redis.conf` | `- maxmemory 100mb` | `+ maxmemory 200mb` |"; !strings.Contains(md, want) {
		t.Errorf("Markdown lacks %q:\n%s", want, md)
	}
	if strings.Contains(md, "port 6379") {
		t.Errorf("Markdown shows lines that do not change:\n%s", md)
	}
}

func TestFieldCells(t *testing.T) {
	long := "registry.example.com/platform/cache/redis-with-modules-and-a-long-name:7.2.4-"
	for _, tc := range []struct {
		name          string
		f             kube.FieldDiff
		live, desired string
	}{
		{"numbers", kube.FieldDiff{Live: 6, Desired: 8}, "`6`", "`8`"},
		{"added field", kube.FieldDiff{Desired: "x"}, "—", "`x`"},
		{"removed field", kube.FieldDiff{Live: "x"}, "`x`", "—"},
		{"a line only added", kube.FieldDiff{Live: redisConf, Desired: redisConf + "timeout 300\n"}, "—", "`+ timeout 300`"},
		{"long image: both tails show", kube.FieldDiff{Live: long + "alpine", Desired: long + "bookworm"},
			"`registry.example.com/platform/cache/red…ith-modules-and-a-long-name:7.2.4-alpine`",
			"`registry.example.com/platform/cache/red…h-modules-and-a-long-name:7.2.4-bookworm`"},
		{"pipes escaped", kube.FieldDiff{Live: "a|b", Desired: "a\nb|c"}, "`- a\\|b`", "`+ a`<br>`+ b\\|c`"},
		{"redacted", kube.FieldDiff{Live: "requirepass hunter2\nport 1", Desired: "requirepass s3cret\nport 1"}, "`- requirepass ***`", "`+ requirepass ***`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live, desired := fieldCells(tc.f)
			if live != tc.live || desired != tc.desired {
				t.Errorf("fieldCells = %s | %s, want %s | %s", live, desired, tc.live, tc.desired)
			}
		})
	}
}
