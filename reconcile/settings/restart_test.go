package settings

import (
	"context"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/internal/redistest"
)

func TestNeedsRestart(t *testing.T) {
	for _, tc := range []struct {
		major int
		key   string
		want  bool
	}{
		{7, "maxmemory", false},
		{7, "maxmemory-policy", false},
		{7, "port", false}, // modifiable since 7.0
		{7, "bind", false},
		{7, "tls-port", false},
		{7, "proc-title-template", false},
		{7, "cluster-enabled", true},
		{7, "databases", true},
		{7, "io-threads", true},
		{7, "appendfilename", true},
		{7, "Cluster-Config-File", true}, // Redis matches names in any case
		{7, "dir", true},                 // protected
		{7, "dbfilename", true},          // protected
		{7, "rename-command", true},      // read from the file only
		{7, "loadmodule", true},
		{7, "some-future-setting", false}, // unknown: CONFIG SET will tell
		{6, "maxmemory", false},
		{6, "port", true},
		{6, "bind", true},
		{6, "tls-port", true},
		{6, "dir", false},
		{6, "dbfilename", false},
		{6, "set-proc-title", true},
		{6, "cluster-port", false}, // no such directive in 6: unknown
		{6, "enable-debug-command", false},
		{5, "port", true},  // older than 6: the 6 table
		{8, "port", false}, // newer than 7: the 7 table
		{8, "cluster-enabled", true},
		{0, "cluster-enabled", true},
	} {
		if got := NeedsRestart(tc.major, tc.key); got != tc.want {
			t.Errorf("NeedsRestart(%d, %q) = %v, want %v", tc.major, tc.key, got, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	diffs := []Diff{
		{Key: "appendfilename", Live: "appendonly.aof", Declared: "a.aof"},
		{Key: "maxmemory", Live: "0", Declared: "1gb"},
		{Key: "port", Live: "6379", Declared: "6380"},
		{Key: "databases", Live: "16", Declared: "1"},
	}
	for _, tc := range []struct {
		major            int
		runtime, restart []string
	}{
		{7, []string{"maxmemory", "port"}, []string{"appendfilename", "databases"}},
		{6, []string{"maxmemory"}, []string{"appendfilename", "port", "databases"}},
	} {
		runtime, restart := Classify(tc.major, diffs)
		if got := keys(runtime); !reflect.DeepEqual(got, tc.runtime) {
			t.Errorf("Classify(%d) runtime = %v, want %v", tc.major, got, tc.runtime)
		}
		if got := keys(restart); !reflect.DeepEqual(got, tc.restart) {
			t.Errorf("Classify(%d) restart = %v, want %v", tc.major, got, tc.restart)
		}
	}
	if runtime, restart := Classify(7, nil); runtime != nil || restart != nil {
		t.Errorf("Classify(7, nil) = %v, %v, want nil, nil", runtime, restart)
	}
}

func keys(diffs []Diff) []string {
	var out []string
	for _, d := range diffs {
		out = append(out, d.Key)
	}
	return out
}

func TestMajorOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"redis:7.0.15", 7},
		{"redis:6.2.14-alpine", 6},
		{"redis:7-alpine", 7},
		{"redis:6", 6},
		{"docker.io/library/redis:6.2", 6},
		{"localhost:5000/redis:6.2.14", 6},
		{"bitnami/redis:6.2.14-debian-12-r0", 6},
		{"redis:6.2.14@sha256:0123abcd", 6},
		{"redis@sha256:0123abcd", NewestMajor},
		{"redis:v6.2.0", 6},
		{"7.0.15", 7}, // INFO redis_version
		{"6.2.14", 6},
		{"8.0.2", 8},
		{"redis", NewestMajor},
		{"redis:latest", NewestMajor},
		{"redis:alpine", NewestMajor},
		{"redis:7alpine", NewestMajor},
		{"localhost:5000/redis", NewestMajor},
		{"", NewestMajor},
	} {
		if got := MajorOf(tc.in); got != tc.want {
			t.Errorf("MajorOf(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// notSetBack are directives whose CONFIG GET value CONFIG SET refuses for
// a reason other than being immutable or protected, with why. None on
// redis-server 7.0.15 today; a new entry must say why, or the table test
// would hide a directive that does need a restart.
var notSetBack = map[string]string{}

// TestRestartTableMatchesRedisServer sets every directive the real
// redis-server reports (CONFIG GET *) to its own current value, and checks
// that the version-7 table lists exactly those Redis refuses. It fails
// when the table drifts from the server.
func TestRestartTableMatchesRedisServer(t *testing.T) {
	node := redistest.Start(t, 1)[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := node.Client

	version := serverVersion(ctx, t, node)
	if MajorOf(version) != 7 {
		t.Skipf("redis-server %s: this test checks the Redis 7 table", version)
	}

	all, err := c.ConfigGet(ctx, "*").Result()
	if err != nil {
		t.Fatalf("CONFIG GET *: %v", err)
	}
	if len(all) < 100 {
		t.Fatalf("CONFIG GET * returned %d directives, want the full list", len(all))
	}
	var immutable, protected []string
	for _, k := range sortedKeys(all) {
		err := c.ConfigSet(ctx, k, all[k]).Err()
		switch {
		case err == nil:
		case strings.Contains(err.Error(), "can't set immutable config"):
			immutable = append(immutable, k)
		case strings.Contains(err.Error(), "can't set protected config"):
			protected = append(protected, k)
		default:
			if _, ok := notSetBack[k]; !ok {
				t.Errorf("CONFIG SET %s %q (its own value): %v; list it in notSetBack with why, or in the table", k, all[k], err)
			}
		}
	}
	tbl := tables[7]
	if want := sortedKeys(tbl.immutable); !reflect.DeepEqual(immutable, want) {
		t.Errorf("immutable directives of redis-server %s:\n got (server) %v\nwant (table)  %v\nmissing from the table: %v\nnot immutable on the server: %v",
			version, immutable, want, minus(immutable, want), minus(want, immutable))
	}
	if want := sortedKeys(tbl.protected); !reflect.DeepEqual(protected, want) {
		t.Errorf("protected directives of redis-server %s: got (server) %v, want (table) %v", version, protected, want)
	}
	for _, k := range sortedKeys(tbl.fileOnly) {
		if _, ok := all[k]; ok {
			t.Errorf("%s is in CONFIG GET *: it is a config parameter, not a file-only directive", k)
		}
		err := c.ConfigSet(ctx, k, "x").Err()
		if err == nil || !strings.Contains(err.Error(), "Unknown option") {
			t.Errorf("CONFIG SET %s: %v, want an unknown-option error", k, err)
		}
	}
}

// TestProtectedDirectivesAreSettableWhenEnabled shows that dir and
// dbfilename are protected, not immutable: with enable-protected-configs
// yes, CONFIG SET takes them. redis-gitops does not render that setting,
// so the table counts them as restart-only.
func TestProtectedDirectivesAreSettableWhenEnabled(t *testing.T) {
	node := redistest.Start(t, 1, "enable-protected-configs yes")[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if version := serverVersion(ctx, t, node); MajorOf(version) != 7 {
		t.Skipf("redis-server %s: this test checks the Redis 7 table", version)
	}
	for _, k := range sortedKeys(tables[7].protected) {
		v, err := node.Client.ConfigGet(ctx, k).Result()
		if err != nil {
			t.Fatalf("CONFIG GET %s: %v", k, err)
		}
		if err := node.Client.ConfigSet(ctx, k, v[k]).Err(); err != nil {
			t.Errorf("CONFIG SET %s with enable-protected-configs yes: %v", k, err)
		}
	}
}

func serverVersion(ctx context.Context, t *testing.T, node *redistest.Node) string {
	t.Helper()
	info, err := node.Client.Info(ctx, "server").Result()
	if err != nil {
		t.Fatalf("INFO server: %v", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	t.Fatalf("INFO server has no redis_version")
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// minus is a without the elements of b.
func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
