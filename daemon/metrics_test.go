package daemon

import (
	"github.com/redis-gitops/redis-gitops/reconcile/migrate"

	"context"
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
