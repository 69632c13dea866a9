package daemon

import (
	"github.com/redis-gitops/redis-gitops/reconcile/migrate"

	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

type nopAdmin struct{ calls int }

func (n *nopAdmin) Do(context.Context, ...any) (any, error) { n.calls++; return "OK", nil }
func (n *nopAdmin) Close() error                            { return nil }
func (n *nopAdmin) Pipe(_ context.Context, cmds ...[]any) ([]migrate.Reply, error) {
	n.calls++
	return make([]migrate.Reply, len(cmds)), nil
}

func TestRedisWritesCounted(t *testing.T) {
	cases := []struct {
		args  []any
		write bool
	}{
		{[]any{"CLUSTER", "NODES"}, false},
		{[]any{"cluster", "info"}, false},
		{[]any{"INFO", "replication"}, false},
		{[]any{"DBSIZE"}, false},
		{[]any{"CONFIG", "GET", "maxmemory"}, false},
		{[]any{"CLUSTER", "GETKEYSINSLOT", 1, 10}, false},
		{[]any{"CLUSTER", "MEET", "10.0.0.1", 6379}, true},
		{[]any{"CLUSTER", "ADDSLOTSRANGE", 0, 5460}, true},
		{[]any{"CLUSTER", "FAILOVER"}, true},
		{[]any{"CLUSTER", "SETSLOT", 1, "NODE", "x"}, true},
		{[]any{"CONFIG", "SET", "maxmemory", "1gb"}, true},
		{[]any{"MIGRATE", "10.0.0.1", 6379, "", 0, 5000, "KEYS", "a"}, true},
		{[]any{"DUMP", "a"}, false},
		{[]any{"ASKING"}, false},
		{[]any{"MEMORY", "USAGE", "a"}, false},
	}
	for _, tc := range cases {
		m := NewMetrics()
		inner := &nopAdmin{}
		a := m.CountRedisWrites(inner)
		if _, err := a.Do(context.Background(), tc.args...); err != nil {
			t.Fatal(err)
		}
		got := testutil.ToFloat64(m.Writes.WithLabelValues("redis"))
		if want := map[bool]float64{true: 1, false: 0}[tc.write]; got != want || inner.calls != 1 {
			t.Errorf("%v: counted %v writes (want %v), passed on %d", tc.args, got, want, inner.calls)
		}
		// The same command in a pipeline counts the same.
		if _, err := a.Pipe(context.Background(), tc.args, []any{"CLUSTER", "NODES"}); err != nil {
			t.Fatal(err)
		}
		if got2 := testutil.ToFloat64(m.Writes.WithLabelValues("redis")); got2 != 2*got {
			t.Errorf("%v in a pipeline: counted %v writes in all, want %v", tc.args, got2, 2*got)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:tok3n@git.example/org/repo.git": "https://***@git.example/org/repo.git",
		"https://git.example/org/repo.git":            "https://git.example/org/repo.git",
		"git@git.example:org/repo.git":                "git@git.example:org/repo.git",
		"ssh://git@git.example/org/repo.git":          "ssh://git@git.example/org/repo.git",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestClusterWritesCounted: a write made under a cluster's pass counts for
// that cluster too; reads and writes outside a pass do not.
func TestClusterWritesCounted(t *testing.T) {
	m := NewMetrics()
	ctx := withCluster(context.Background(), "ns/a")
	a := m.CountRedisWrites(&nopAdmin{})
	for _, args := range [][]any{{"CONFIG", "SET", "maxmemory", "1gb"}, {"CLUSTER", "NODES"}} {
		if _, err := a.Do(ctx, args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Do(context.Background(), "CLUSTER", "MEET", "10.0.0.1", 6379); err != nil {
		t.Fatal(err)
	}
	rt := m.CountKubernetesWrites(roundTripper(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK}, nil
	}))
	for _, method := range []string{http.MethodPatch, http.MethodGet, http.MethodDelete} {
		req, err := http.NewRequestWithContext(ctx, method, "https://apiserver/api/v1/namespaces/ns/configmaps/a", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	for target, want := range map[string]float64{"redis": 1, "kubernetes": 2} {
		if got := testutil.ToFloat64(m.ClusterWrites.WithLabelValues("ns/a", target)); got != want {
			t.Errorf("ns/a %s writes = %v, want %v", target, got, want)
		}
	}
	if got := testutil.ToFloat64(m.Writes.WithLabelValues("redis")); got != 2 {
		t.Errorf("all redis writes = %v, want 2", got)
	}
}
