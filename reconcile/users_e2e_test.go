package reconcile_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/reconcile/acl"
	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/spec"
)

// secret creates (or replaces) Secret name with key password = pw.
func (h *harness) secret(name, pw string) {
	h.t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: map[string]string{"password": pw}}
	if _, err := h.client.CoreV1().Secrets(h.ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// node is a plain client to one pod's Redis, logged in as user (the
// default user when user is "").
func node(p corev1.Pod, user, pw string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: p.Status.PodIP + ":6379", Username: user, Password: pw, MaxRetries: -1, DisableIdentity: true})
}

// clusterAs is a cluster client logged in as user.
func (h *harness) clusterAs(user, pw string) *redis.ClusterClient {
	var addrs []string
	for _, p := range h.pods() {
		addrs = append(addrs, p.Status.PodIP+":6379")
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16, Username: user, Password: pw, DisableIdentity: true})
}

// allowed: the node ran the command or redirected it (MOVED: the key's
// slot is elsewhere, which ACL checked before).
func allowed(err error) bool {
	return err == nil || err == redis.Nil || strings.HasPrefix(err.Error(), "MOVED")
}

func noPerm(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOPERM") }

// clusterCommands let a cluster client (go-redis) find the slots and the
// commands' keys.
var clusterCommands = []string{"+ping", "+command", "+cluster|slots", "+cluster|shards", "+cluster|nodes"}

// TestACLUsers: two users declared in Git with different key patterns can
// each do exactly what their rules allow on every node; a rule edited by
// hand is reported (and left) under drift: report, corrected under drift:
// correct; a user made by hand is reported and kept; a user removed from
// Git is gone from every node; a restarted pod starts with its users,
// before any pass; a user's password rotates through a second Secret with no
// failed write; a rule Redis refuses or a Secret without its key fails
// the pass by name and changes no node; no password reaches a report. The cluster has spec.auth:
// the daemon's admin access (default) and the readiness probe's user keep
// working throughout.
func TestACLUsers(t *testing.T) {
	ctx := context.Background()
	const (
		appPW1, appPW2, repPW = "app-pw-1-Xq", "app-pw-2-Zk", "rep-pw-Jv"
	)
	h := newHarnessWith(t, "users", func(h *harness) {
		h.withPassword("admin-pw-Rt")
		h.secret("app-1", appPW1)
		h.secret("reports", repPW)
		h.c.Spec.Users = []spec.User{
			{Name: "app", PasswordSecretRefs: []spec.SecretRef{{Name: "app-1"}},
				Commands: append([]string{"+@read", "+@write", "-@dangerous"}, clusterCommands...), Keys: []string{"app:*"}},
			{Name: "reports", PasswordSecretRefs: []spec.SecretRef{{Name: "reports"}},
				Commands: append([]string{"+get", "+mget"}, clusterCommands...), Keys: []string{"rep:*"}},
		}
		h.c.SetDefaults()
	})
	var reports []report.Report
	start := time.Now()
	oc := h.pass()
	reports = append(reports, oc.Report)
	t.Logf("cluster formed with its users in %s", time.Since(start).Round(time.Second))
	h.check()

	// Each user, on every node, can do what its rules allow and nothing else.
	pods := h.pods()
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range pods {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		p := pods[name]
		app, rep := node(p, "app", appPW1), node(p, "reports", repPW)
		for _, tc := range []struct {
			who  string
			err  error
			want func(error) bool
		}{
			{"app SET app:k", app.Set(ctx, "app:k", "v", 0).Err(), allowed},
			{"app GET app:k", app.Get(ctx, "app:k").Err(), allowed},
			{"app SET rep:k", app.Set(ctx, "rep:k", "v", 0).Err(), noPerm},
			{"app FLUSHALL", app.FlushAll(ctx).Err(), noPerm},
			{"app KEYS", app.Keys(ctx, "*").Err(), noPerm},
			{"reports GET rep:k", rep.Get(ctx, "rep:k").Err(), allowed},
			{"reports GET app:k", rep.Get(ctx, "app:k").Err(), noPerm},
			{"reports SET rep:k", rep.Set(ctx, "rep:k", "v", 0).Err(), noPerm},
			{"app with the reports password", node(p, "app", repPW).Ping(ctx).Err(), func(err error) bool { return err != nil && strings.Contains(err.Error(), "WRONGPASS") }},
		} {
			if !tc.want(tc.err) {
				t.Errorf("%s on %s: %v", tc.who, name, tc.err)
			}
		}
		app.Close()
		rep.Close()
	}
	// Through the cluster: app writes its keys; reports reads keys the
	// default user wrote, and not app's.
	appc, repc, def := h.clusterAs("app", appPW1), h.clusterAs("reports", repPW), h.data()
	defer appc.Close()
	defer repc.Close()
	defer def.Close()
	for i := range 200 {
		if err := appc.Set(ctx, fmt.Sprintf("app:%d", i), i, 0).Err(); err != nil {
			t.Fatalf("app writes app:%d: %v", i, err)
		}
		if err := def.Set(ctx, fmt.Sprintf("rep:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		if got, err := repc.Get(ctx, fmt.Sprintf("rep:%d", i)).Int(); err != nil || got != i {
			t.Fatalf("reports reads rep:%d: %d, %v", i, got, err)
		}
		if err := repc.Get(ctx, fmt.Sprintf("app:%d", i)).Err(); !noPerm(err) {
			t.Fatalf("reports reads app:%d: %v, want NOPERM", i, err)
		}
	}
	// Nothing to change: nothing planned, nothing written.
	again := h.pass()
	if u := again.Topology.Users; u == nil || len(u.Plan.Steps) > 0 || !u.Done {
		t.Errorf("the pass after: users %+v, want nothing to do", u)
	}

	// A rule edited by hand on one node, and a user made by hand.
	victim := pods[names[len(names)-1]]
	adm := node(victim, "", h.password)
	defer adm.Close()
	if err := adm.Do(ctx, "ACL", "SETUSER", "app", "+flushall", "~other:*").Err(); err != nil {
		t.Fatal(err)
	}
	if err := adm.Do(ctx, "ACL", "SETUSER", "alice", "on", ">alice-pw", "~*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	h.c.Spec.Reconcile.Drift = spec.DriftReport
	reported := h.pass()
	reports = append(reports, reported.Report)
	drift := usersDrift(reported.Report)
	for _, want := range []string{victim.Name + " spec.users[app].commands", victim.Name + " spec.users[app].keys", victim.Name + " spec.users"} {
		if _, ok := drift[want]; !ok {
			t.Errorf("drift: report does not report %q; it reports %v", want, drift)
		}
	}
	if d := drift[victim.Name+" spec.users"]; d.Live != "user alice" || !strings.Contains(d.Detail, "added by hand") {
		t.Errorf("the hand-made user is reported as %+v", d)
	}
	if !slices.ContainsFunc(reported.Report.Actions, func(a string) bool {
		return a == "planned: acl: set user app on "+victim.Name+" again (differs in commands, keys)"
	}) {
		t.Errorf("the dry run's actions do not plan the correction: %q", reported.Report.Actions)
	}
	// The pull-request plan of the same spec, against the live cluster.
	pl := reconcile.Planner{Applier: &kube.Applier{Client: h.client, Dynamic: sandboxtest.Dynamic(t)}, Redis: h.redis}.
		Plan(ctx, nil, []*spec.RedisCluster{h.c}, nil)
	if cp := pl.Clusters[0]; !slices.ContainsFunc(cp.Users, func(st acl.Step) bool {
		return st.Pod == victim.Name && st.User == "app" && st.Kind == acl.Update
	}) || !slices.Contains(cp.UnmanagedUsers, acl.Unmanaged{Pod: victim.Name, User: "alice"}) {
		t.Errorf("the plan's users: %+v, unmanaged %+v; want app set again on %s and alice reported", cp.Users, cp.UnmanagedUsers, victim.Name)
	}
	if err := node(victim, "app", appPW1).Set(ctx, "other:k", "v", 0).Err(); !allowed(err) {
		t.Errorf("drift: report or the plan changed the hand edit (SET other:k: %v)", err)
	}
	h.c.Spec.Reconcile.Drift = spec.DriftCorrect
	corrected := h.pass()
	reports = append(reports, corrected.Report)
	if d := usersDrift(corrected.Report)[victim.Name+" spec.users[app].commands"]; !strings.HasPrefix(d.Detail, "corrected") {
		t.Errorf("drift: correct reports the edit as %+v", d)
	}
	for _, name := range names {
		c := node(pods[name], "app", appPW1)
		if err := c.Set(ctx, "other:k", "v", 0).Err(); !noPerm(err) {
			t.Errorf("%s after correction: app SET other:k: %v, want NOPERM", name, err)
		}
		if err := c.FlushAll(ctx).Err(); !noPerm(err) {
			t.Errorf("%s after correction: app FLUSHALL: %v, want NOPERM", name, err)
		}
		c.Close()
	}
	if err := node(victim, "alice", "alice-pw").Ping(ctx).Err(); err != nil {
		t.Errorf("the hand-made user was touched: %v", err)
	}

	// A user removed from Git is gone from every node; alice stays.
	h.c.Spec.Users = h.c.Spec.Users[:1]
	removed := h.pass()
	reports = append(reports, removed.Report)
	for _, name := range names {
		c := node(pods[name], "", h.password)
		users, err := c.Do(ctx, "ACL", "USERS").StringSlice()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(users, "reports") {
			t.Errorf("%s still has user reports: %v", name, users)
		}
		if name == victim.Name && !slices.Contains(users, "alice") {
			t.Errorf("%s lost the hand-made user alice: %v", name, users)
		}
	}
	if err := repc.Get(ctx, "rep:1").Err(); err == nil {
		t.Error("reports still reads after its removal from Git")
	}

	// A pod restarts (ACL SETUSER lives in memory): it starts with the
	// users as the daemon last wrote them, before any pass, and without
	// the user Git dropped.
	restartPod(t, h, victim.Name)
	restarted := h.pods()[victim.Name]
	// Its cluster may be down until the pass meets it at its new address:
	// CLUSTERDOWN comes after the ACL check, as MOVED does.
	if err := node(restarted, "app", appPW1).Set(ctx, "app:k", "v", 0).Err(); !allowed(err) && !strings.HasPrefix(err.Error(), "CLUSTERDOWN") {
		t.Errorf("app on %s after its restart, before any pass: %v", victim.Name, err)
	}
	if err := node(restarted, "app", appPW1).Set(ctx, "other:k", "v", 0).Err(); !noPerm(err) {
		t.Errorf("app SET other:k on %s after its restart: %v, want NOPERM", victim.Name, err)
	}
	if err := node(restarted, "app", appPW1).FlushAll(ctx).Err(); !noPerm(err) {
		t.Errorf("app FLUSHALL on %s after its restart: %v, want NOPERM", victim.Name, err)
	}
	if err := node(restarted, "reports", repPW).Ping(ctx).Err(); err == nil {
		t.Errorf("reports logs in on %s after its restart: Git dropped it", victim.Name)
	}
	if again := h.pass(); again.Topology.Users == nil || len(again.Topology.Users.Plan.Steps) > 0 {
		t.Errorf("the pass after the restart has users steps: %+v", again.Topology.Users)
	}
	state, err := h.client.CoreV1().Secrets(h.ns).Get(ctx, "cache-redis-gitops-users", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range state.Data {
		for _, pw := range []string{appPW1, appPW2, repPW} {
			if strings.Contains(string(v), pw) {
				t.Errorf("the users-state Secret's %s holds a password in plaintext", k)
			}
		}
	}

	reports = append(reports, rotateUserPassword(t, h, appPW1, appPW2)...)
	reports = append(reports, badUserInput(t, h, appPW2)...)
	h.check()
	for name, p := range h.pods() {
		if !podReady(p) {
			t.Errorf("%s is not Ready: the readiness probe's user", name)
		}
	}

	for _, r := range reports {
		y, err := r.YAML()
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{appPW1, appPW2, repPW, converge.PasswordHash(appPW1), converge.PasswordHash(appPW2)} {
			if strings.Contains(string(y)+string(r.Markdown()), secret) {
				t.Errorf("a password or its hash is in a report:\n%s", y)
			}
		}
	}
}

// restartPod deletes a pod and waits until the StatefulSet has it running
// and Ready again.
func restartPod(t *testing.T, h *harness, name string) {
	t.Helper()
	ctx := context.Background()
	old := h.pods()[name]
	if err := h.client.CoreV1().Pods(h.ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	sandboxtest.Eventually(t, 3*time.Minute, name+" back and Ready", func() error {
		p, err := h.client.CoreV1().Pods(h.ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err != nil:
			return err
		case p.UID == old.UID:
			return fmt.Errorf("not replaced yet")
		case p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || !podReady(*p):
			return fmt.Errorf("pod %s", p.Status.Phase)
		}
		return nil
	})
}

// badUserInput: a rule Redis refuses, and a Secret without the key named,
// each fail the pass naming the cause, change no node (app keeps its keys
// and its password) and leave the pods' startup file as it was.
func badUserInput(t *testing.T, h *harness, pw string) []report.Report {
	t.Helper()
	ctx := context.Background()
	good := h.c.Spec.Users[0]
	stateBefore := usersStateFile(t, h)
	var out []report.Report
	for _, tc := range []struct {
		name string
		mod  func(u *spec.User)
		want string
	}{
		{"a rule Redis refuses", func(u *spec.User) {
			u.Commands = append(slices.Clone(u.Commands), "+nosuchcommand")
		}, `refuses a command rule: "+nosuchcommand": no command "nosuchcommand"`},
		{"a Secret without the key", func(u *spec.User) {
			u.PasswordSecretRefs = append(slices.Clone(u.PasswordSecretRefs), spec.SecretRef{Name: "app-1", Key: "nokey"})
		}, `Secret ` + h.ns + `/app-1 has no key "nokey"`},
	} {
		u := good
		u.Keys = []string{"*"} // would let app write other:k, were it applied
		tc.mod(&u)
		h.c.Spec.Users[0] = u
		pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		p := reconcile.Pass{Applier: &kube.Applier{Client: h.client, Dynamic: sandboxtest.Dynamic(t)}, Redis: h.redis, Log: h.redis.Log}
		oc := p.Run(pctx, []*spec.RedisCluster{h.c}, nil).Clusters[0]
		cancel()
		out = append(out, oc.Report)
		if err := oc.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: the pass ends with %v, want an error containing %q", tc.name, err, tc.want)
		}
		for name, p := range h.pods() {
			c := node(p, "app", pw)
			if err := c.Set(ctx, "other:k", "v", 0).Err(); !noPerm(err) {
				t.Errorf("%s: app SET other:k on %s: %v, want NOPERM (no node changed)", tc.name, name, err)
			}
			c.Close()
		}
		if got := usersStateFile(t, h); got != stateBefore {
			t.Errorf("%s: the pods' startup users changed:\n%s", tc.name, got)
		}
	}
	h.c.Spec.Users[0] = good
	return out
}

// usersStateFile is the users file the pods start with.
func usersStateFile(t *testing.T, h *harness) string {
	t.Helper()
	s, err := h.client.CoreV1().Secrets(h.ns).Get(context.Background(), "cache-redis-gitops-users", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return string(s.Data["users.acl"])
}

// usersDrift is a report's ACL user drift by "pod path".
func usersDrift(r report.Report) map[string]report.DriftEntry {
	out := map[string]report.DriftEntry{}
	for _, d := range r.Drift {
		if d.Kind == report.KindACLUser {
			out[d.Subject+" "+d.Path] = d
		}
	}
	return out
}

// rotateUserPassword rotates app's password as a team would: a second
// Secret listed, the application moves to it, the first removed; a writer
// logged in as app runs throughout with no failed write, and after it the
// old password is refused on every node.
func rotateUserPassword(t *testing.T, h *harness, old, new string) []report.Report {
	t.Helper()
	ctx := context.Background()
	w := startRotationWriter(h.clusterAs("app", old), "app:rot", 500)

	h.secret("app-2", new)
	h.c.Spec.Users[0].PasswordSecretRefs = append(h.c.Spec.Users[0].PasswordSecretRefs, spec.SecretRef{Name: "app-2", Key: "password"})
	both := h.pass()
	for name, p := range h.pods() {
		for _, pw := range []string{old, new} {
			if err := node(p, "app", pw).Ping(ctx).Err(); err != nil {
				t.Errorf("%s with both Secrets listed refuses one: %v", name, err)
			}
		}
	}
	time.Sleep(2 * time.Second)
	w.Move(h.clusterAs("app", new)) // the application moves
	time.Sleep(2 * time.Second)
	h.c.Spec.Users[0].PasswordSecretRefs = h.c.Spec.Users[0].PasswordSecretRefs[1:]
	after := h.pass()
	for name, p := range h.pods() {
		if err := node(p, "app", old).Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Errorf("%s after the rotation, with the old password: %v, want WRONGPASS", name, err)
		}
		if err := node(p, "app", new).Ping(ctx).Err(); err != nil {
			t.Errorf("%s after the rotation, with the new password: %v", name, err)
		}
	}
	time.Sleep(2 * time.Second)
	w.finish(t, "the writer as app")
	return []report.Report{both.Report, after.Report}
}
