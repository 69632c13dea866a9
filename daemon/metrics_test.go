package daemon

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

type nopAdmin struct{ calls int }

func (n *nopAdmin) Do(context.Context, ...any) (any, error) { n.calls++; return "OK", nil }
func (n *nopAdmin) Close() error                            { return nil }

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
