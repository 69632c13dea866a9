package report

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

const conf = `# Rendered by redis-gitops; edit the RedisCluster in Git instead.
port 6379
cluster-enabled yes
cluster-config-file /data/nodes.conf
appendonly yes
maxmemory 100mb
maxmemory-policy allkeys-lru
`

func TestLineDiff(t *testing.T) {
	for _, tc := range []struct {
		name           string
		a, b           string
		removed, added []string
	}{
		{"one line changes", conf, strings.Replace(conf, "maxmemory 100mb", "maxmemory 200mb", 1),
			[]string{"maxmemory 100mb"}, []string{"maxmemory 200mb"}},
		{"a line added", conf, conf + "timeout 300\n", nil, []string{"timeout 300"}},
		{"a line removed", conf, strings.Replace(conf, "appendonly yes\n", "", 1), []string{"appendonly yes"}, nil},
		{"a line moved", "a\nb\nc\n", "b\nc\na\n", []string{"a"}, []string{"a"}},
		{"two apart", "a\nb\nc\nd\ne", "a\nB\nc\nD\ne", []string{"b", "d"}, []string{"B", "D"}},
		{"from nothing", "", "a\nb\n", nil, []string{"a", "b"}},
		{"a final newline only", "a\nb", "a\nb\n", nil, nil},
		{"equal", conf, conf, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			removed, added := lineDiff(tc.a, tc.b)
			if !slices.Equal(removed, tc.removed) || !slices.Equal(added, tc.added) {
				t.Errorf("lineDiff = -%q +%q, want -%q +%q", removed, added, tc.removed, tc.added)
			}
		})
	}
}

func TestFieldCells(t *testing.T) {
	long := "registry.example.com/platform/cache/redis-with-modules-and-a-long-name:7.2.4-"
	head := strings.Repeat("x", 60)
	tail := strings.Repeat("y", 60)
	var many, manyMore strings.Builder
	for i := range 12 {
		fmt.Fprintf(&many, "rename-command CMD%d \"\"\n", i)
		fmt.Fprintf(&manyMore, "rename-command CMD%d \"X\"\n", i)
	}
	for _, tc := range []struct {
		name          string
		live, desired string
		wantLive      string
		wantDesired   string
	}{
		{"short values as they are", "6", "8", "`6`", "`8`"},
		{"empty side", "", "8", "", "`8`"},
		{"redis.conf: the changed line", conf, strings.Replace(conf, "maxmemory 100mb", "maxmemory 200mb", 1),
			"`- maxmemory 100mb`", "`+ maxmemory 200mb`"},
		{"redis.conf: a line added", conf, conf + "timeout 300\n", "", "`+ timeout 300`"},
		{"redis.conf: two lines change", conf, strings.NewReplacer("maxmemory 100mb", "maxmemory 200mb", "appendonly yes", "appendonly no").Replace(conf),
			"`- appendonly yes`<br>`- maxmemory 100mb`", "`+ appendonly no`<br>`+ maxmemory 200mb`"},
		{"many lines: eight, then a count", many.String(), manyMore.String(),
			cellsOf("-", many.String(), 8) + "<br>4 more lines", cellsOf("+", manyMore.String(), 8) + "<br>4 more lines"},
		{"long values that differ at the end: head and tail", long + "alpine", long + "bookworm",
			"`registry.example.com/platform/cache/red…ith-modules-and-a-long-name:7.2.4-alpine`",
			"`registry.example.com/platform/cache/red…h-modules-and-a-long-name:7.2.4-bookworm`"},
		{"long values that differ in the middle: the place they part", head + "AAA" + tail, head + "BBB" + tail,
			"`…" + strings.Repeat("x", 20) + "AAA" + strings.Repeat("y", 55) + "…`",
			"`…" + strings.Repeat("x", 20) + "BBB" + strings.Repeat("y", 55) + "…`"},
		{"a secret line is masked", "port 6379\nrequirepass hunter2\n", "port 6379\nrequirepass s3cret\n",
			"`- requirepass ***`", "`+ requirepass ***`"},
		{"a secret value is masked before the cut", "masterauth " + strings.Repeat("h", 100), "masterauth s3cret",
			"`masterauth ***`", "`masterauth ***`"},
		{"backticks do not end the span", "a`b", "c", "`a'b`", "`c`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live, desired := FieldCells(tc.live, tc.desired)
			if live != tc.wantLive || desired != tc.wantDesired {
				t.Errorf("FieldCells:\n live    %s\n desired %s\nwant\n live    %s\n desired %s", live, desired, tc.wantLive, tc.wantDesired)
			}
			for _, c := range []string{live, desired} {
				if r := len([]rune(c)); strings.Count(c, "<br>") == 0 && r > cellRunes+2 {
					t.Errorf("cell of %d runes: %s", r, c)
				}
				// The whole comment is redacted again: a cell must read the same.
				if again := Redact(c); again != c {
					t.Errorf("Redact changes the cell:\n %s\n %s", c, again)
				}
			}
		})
	}
}

func cellsOf(sign, s string, n int) string {
	var parts []string
	for _, l := range lines(s)[:n] {
		parts = append(parts, "`"+sign+" "+strings.ReplaceAll(l, "`", "'")+"`")
	}
	return strings.Join(parts, "<br>")
}

// A drift of the ConfigMap's redis.conf (someone edited it by hand) shows
// in the report's drift table as the line that changed.
func TestMarkdownDriftShowsChangedLines(t *testing.T) {
	r := Report{Cluster: "prod/cache", Drift: []DriftEntry{{Source: SourceKubernetes, Kind: KindLiveEdit, Subject: "ConfigMap prod/cache-config",
		Path: "data.redis.conf", Live: strings.Replace(conf, "maxmemory 100mb", "maxmemory 5gb", 1), Desired: conf, Detail: "the apply restored the desired value"}}}
	md := string(r.Markdown())
	if want := "| `data.redis.conf` | `- maxmemory 5gb` | `+ maxmemory 100mb` |"; !strings.Contains(md, want) {
		t.Errorf("drift table lacks %q:\n%s", want, md)
	}
	if strings.Contains(md, "port 6379") {
		t.Errorf("drift table shows unchanged lines:\n%s", md)
	}
}
