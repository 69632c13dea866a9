package converge

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-gitops/redis-gitops/internal/redistest"
	"github.com/redis-gitops/redis-gitops/reconcile/acl"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

func TestACLUserReplyShapes(t *testing.T) {
	h := PasswordHash("s3cret")
	cases := []struct {
		name  string
		reply any
	}{
		{"RESP2 flat list", []any{"flags", []any{"on", "allkeys"}, "passwords", []any{h}, "commands", "+@all"}},
		{"RESP3 map", map[any]any{"flags": []any{"on", "allkeys"}, "passwords": []any{h}, "commands": "+@all"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := acl.ParseGetUser(c.reply)
			if err != nil || strings.Join(u.Flags, ",") != "on,allkeys" || len(u.Passwords) != 1 || u.Passwords[0] != h {
				t.Errorf("flags %v, passwords %v, %v", u.Flags, u.Passwords, err)
			}
		})
	}
}

// TestPasswordChangeOnLiveNodes runs on a real master and replica: auth
// turned on for a cluster that had none, then the password rotated. At
// every step the replica's link stays up with no new sync, a client on
// either the old or the new password is served while both are accepted,
// and the old one is refused only after the drop.
func TestPasswordChangeOnLiveNodes(t *testing.T) {
	ctx := context.Background()
	nodes := redistest.Start(t, 2)
	redistest.Cluster(t, nodes, 1)
	master, replica := nodes[0], nodes[1]
	waitLink(t, replica.Addr(), "")
	syncs := func(pw string) string {
		c := redis.NewClient(&redis.Options{Addr: master.Addr(), Password: pw, DisableIdentity: true})
		defer c.Close()
		info, err := c.Info(ctx, "stats").Result()
		if err != nil {
			t.Fatal(err)
		}
		return field(info, "sync_full") + "/" + field(info, "sync_partial_ok")
	}
	before := syncs("")
	pods := []topology.Pod{
		{Name: "c-0", IP: "127.0.0.1"},
		{Name: "c-1", IP: "127.0.0.1"},
	}
	// Both nodes listen on 127.0.0.1, each on its own port: ConvergeAuth
	// runs once per node with that node's port.
	run := func(pw string, drop bool, passwords ...string) AuthResult {
		t.Helper()
		var res AuthResult
		for i, n := range nodes {
			r, err := ConvergeAuth(ctx, FallbackDialer(ctx, passwords, nil), n.Port, pods[i:i+1], pw, drop, false)
			if err != nil {
				t.Fatalf("converge auth on %s: %v", pods[i].Name, err)
			}
			res.Nodes = append(res.Nodes, r.Nodes...)
			res.Added += r.Added
			res.MasterauthSet += r.MasterauthSet
			res.Dropped += r.Dropped
		}
		return res
	}
	accepts := func(addr, pw string) error {
		c := redis.NewClient(&redis.Options{Addr: addr, Password: pw, DisableIdentity: true, MaxRetries: -1})
		defer c.Close()
		return c.Ping(ctx).Err()
	}

	// Auth on a cluster that had none: from then on the password is needed.
	if r := run("old", false, "old", ""); r.Added != 2 || r.MasterauthSet != 2 {
		t.Fatalf("turning auth on: %+v", r)
	}
	for _, n := range nodes {
		if err := accepts(n.Addr(), ""); !IsAuthError(err) {
			t.Errorf("%s without a password: %v, want NOAUTH", n.Addr(), err)
		}
		if err := accepts(n.Addr(), "old"); err != nil {
			t.Errorf("%s with the password: %v", n.Addr(), err)
		}
	}
	if r := run("old", true, "old", ""); r.Added+r.MasterauthSet+r.Dropped != 0 {
		t.Errorf("a second pass changed something: %+v", r)
	}

	// A connection made with the old password, kept open through the drop.
	held := redis.NewClient(&redis.Options{Addr: master.Addr(), Password: "old", DisableIdentity: true, PoolSize: 1, MinIdleConns: 1})
	defer held.Close()
	if err := held.Set(ctx, "{a}held", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}

	// Rotation, first half: both passwords work on every node.
	if r := run("new", false, "new", "old", ""); r.Added != 2 || r.MasterauthSet != 2 || r.Dropped != 0 {
		t.Fatalf("rotation, first half: %+v", r)
	}
	for _, n := range nodes {
		for _, pw := range []string{"old", "new"} {
			if err := accepts(n.Addr(), pw); err != nil {
				t.Errorf("%s during the grace, with %q: %v", n.Addr(), pw, err)
			}
		}
	}
	// Rotation, second half: the old password is refused.
	if r := run("new", true, "new", "old", ""); r.Dropped != 2 {
		t.Fatalf("rotation, second half: %+v", r)
	}
	for _, n := range nodes {
		if err := accepts(n.Addr(), "old"); !IsAuthError(err) {
			t.Errorf("%s with the old password after the drop: %v, want WRONGPASS", n.Addr(), err)
		}
		if err := accepts(n.Addr(), "new"); err != nil {
			t.Errorf("%s with the new password: %v", n.Addr(), err)
		}
	}
	if err := held.Get(ctx, "{a}held").Err(); err != nil {
		t.Errorf("a connection authenticated before the drop: %v", err)
	}
	waitLink(t, replica.Addr(), "new")
	if after := syncs("new"); after != before {
		t.Errorf("the replica synced again (sync_full/sync_partial_ok %s -> %s): its link dropped", before, after)
	}
	// A replica that reconnects now authenticates with the new password.
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr(), Password: "new", DisableIdentity: true})
	defer rc.Close()
	if err := rc.Do(ctx, "CLIENT", "KILL", "TYPE", "master").Err(); err != nil {
		t.Fatal(err)
	}
	waitLink(t, replica.Addr(), "new")
}

func waitLink(t *testing.T, addr, pw string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Password: pw, DisableIdentity: true})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := c.Info(context.Background(), "replication").Result()
		if err == nil && field(info, "master_link_status") == "up" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: replication link not up: %v %s", addr, err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func field(info, key string) string {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), key+":"); ok {
			return v
		}
	}
	return ""
}

// PlanAuth orders a password change across the cluster and decides the
// drop from the drop flag alone: the caller's clock, not its own.
func TestPlanAuth(t *testing.T) {
	kinds := func(steps []AuthStep) string {
		var out []string
		for _, s := range steps {
			out = append(out, s.Pod+":"+string(s.Kind))
		}
		return strings.Join(out, ", ")
	}
	fresh := AuthResult{Nodes: []AuthNode{{Pod: "c-0", Others: 1}, {Pod: "c-1", Others: 1}}}
	for _, tc := range []struct {
		name string
		r    AuthResult
		drop bool
		want string
	}{
		{"a rotation starts: add everywhere, then masterauth, the old passwords wait", fresh, false,
			"c-0:add the new password, c-1:add the new password, c-0:set masterauth, c-1:set masterauth, c-0:keep the old passwords for now, c-1:keep the old passwords for now"},
		{"no grace: add, masterauth, then drop", fresh, true,
			"c-0:add the new password, c-1:add the new password, c-0:set masterauth, c-1:set masterauth, c-0:drop the old passwords, c-1:drop the old passwords"},
		{"grace over: only the drop is left", AuthResult{Nodes: []AuthNode{{Pod: "c-0", AcceptsDeclared: true, MasterauthDeclared: true, Others: 1}}}, true,
			"c-0:drop the old passwords"},
		{"a pod not read: the old passwords stay", AuthResult{Nodes: []AuthNode{{Pod: "c-0", AcceptsDeclared: true, MasterauthDeclared: true, Others: 1}}, Missed: []string{"c-1: not running"}}, true,
			"c-0:keep the old passwords for now"},
		{"done: nothing", AuthResult{Nodes: []AuthNode{{Pod: "c-0", AcceptsDeclared: true, MasterauthDeclared: true}}}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := kinds(PlanAuth(tc.r, false, tc.drop)); got != tc.want {
				t.Errorf("plan:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}
