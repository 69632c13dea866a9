package migrate

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestParseCapabilities(t *testing.T) {
	for _, tc := range []struct {
		info   string
		atomic bool
	}{
		{"# Server\r\nredis_version:7.0.15\r\nredis_mode:cluster\r\n", false},
		{"redis_version:8.2.1\r\n", false},
		{"redis_version:8.4.0\r\n", true},
		{"redis_version:8.10.2\r\n", true},
		{"redis_version:9.0.0\r\n", true},
		{"redis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:9.0.0\r\n", false},
		{"", false},
	} {
		if got := ParseCapabilities(tc.info); got.Atomic != tc.atomic {
			t.Errorf("%q: atomic %v, want %v", tc.info, got.Atomic, tc.atomic)
		}
	}
}

// fakeConn answers from a function: a fake for the one server this
// machine does not have (Redis 8.4 with CLUSTER MIGRATION).
type fakeConn struct {
	mu   sync.Mutex
	log  *[]string
	name string
	do   func(args []any) (any, error)
}

func (f *fakeConn) Do(_ context.Context, args ...any) (any, error) {
	f.mu.Lock()
	*f.log = append(*f.log, f.name+": "+strings.TrimSpace(fmt.Sprintln(args...)))
	f.mu.Unlock()
	return f.do(args)
}
func (f *fakeConn) Pipe(ctx context.Context, cmds ...[]any) ([]Reply, error) {
	out := make([]Reply, len(cmds))
	for i, c := range cmds {
		out[i].Val, out[i].Err = f.Do(ctx, c...)
	}
	return out, nil
}
func (f *fakeConn) Close() error { return nil }

// On servers that all offer CLUSTER MIGRATION, the engine imports each
// source's slots in ranges on the target and polls the task: no SETSLOT,
// no MIGRATE.
func TestAtomicPathWhereOffered(t *testing.T) {
	var log []string
	var mu sync.Mutex
	polls := map[string]int{}
	dial := func(addr string) Conn {
		return &fakeConn{log: &log, name: addr, do: func(args []any) (any, error) {
			cmd := strings.ToUpper(fmt.Sprint(args[0])) + " " + strings.ToUpper(fmt.Sprint(args[1]))
			switch {
			case cmd == "INFO SERVER":
				return "redis_version:8.4.0\r\n", nil
			case cmd == "CLUSTER MIGRATION" && args[2] == "IMPORT":
				return "task-" + addr, nil
			case cmd == "CLUSTER MIGRATION" && args[2] == "STATUS":
				mu.Lock()
				defer mu.Unlock()
				polls[addr]++
				if polls[addr] < 2 {
					return []any{[]any{"id", "task-" + addr, "state", "running"}}, nil
				}
				return []any{[]any{"id", "task-" + addr, "state", "completed"}}, nil
			}
			return nil, fmt.Errorf("unexpected %v", args)
		}}
	}
	a, b, c := Node{ID: "a", Addr: "a:1"}, Node{ID: "b", Addr: "b:1"}, Node{ID: "c", Addr: "c:1"}
	moves := []Move{{0, a, c}, {1, a, c}, {2, a, c}, {7, a, c}, {100, b, c}}
	res, err := (&Engine{Dial: dial}).Run(context.Background(), moves)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Atomic || res.Slots != 5 {
		t.Errorf("result %+v, want atomic with 5 slots", res)
	}
	joined := strings.Join(log, "\n")
	for _, want := range []string{"c:1: CLUSTER MIGRATION IMPORT 0 2 7 7", "c:1: CLUSTER MIGRATION IMPORT 100 100"} {
		if !strings.Contains(joined, want) {
			t.Errorf("commands lack %q:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "SETSLOT") || strings.Contains(joined, "MIGRATE ") {
		t.Errorf("the key-by-key protocol ran:\n%s", joined)
	}
}

// A failed task is an error with the server's reason.
func TestAtomicFailureIsReported(t *testing.T) {
	var log []string
	dial := func(addr string) Conn {
		return &fakeConn{log: &log, name: addr, do: func(args []any) (any, error) {
			switch strings.ToUpper(fmt.Sprint(args[0])) {
			case "INFO":
				return "redis_version:8.4.0\r\n", nil
			}
			if args[2] == "IMPORT" {
				return "t1", nil
			}
			return map[any]any{"state": "failed", "last_error": "source down"}, nil
		}}
	}
	_, err := (&Engine{Dial: dial}).Run(context.Background(), []Move{{5, Node{ID: "a", Addr: "a:1"}, Node{ID: "b", Addr: "b:1", Name: "cache-3"}}})
	if err == nil || !strings.Contains(err.Error(), "failed: source down") || !strings.Contains(err.Error(), "cache-3") {
		t.Errorf("err = %v", err)
	}
}
