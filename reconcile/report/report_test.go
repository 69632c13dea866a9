package report

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenCases are the passes whose reports are kept in testdata/<name>.yaml
// and testdata/<name>.md.
func goldenCases(t *testing.T) map[string]Input {
	return map[string]Input{
		"converged":         {Cluster: "prod/cache", Revision: "4f2a9c1", Spec: cacheSpec(), Objects: unchanged(), Topology: converged(t)},
		"drift":             driftInput(t),
		"invalid-spec":      invalidSpecInput(),
		"dry-run":           dryRunInput(t),
		"blocked-bootstrap": blockedBootstrapInput(t),
		"removed":           removedInput(),
		"migration-stopped": migrationStoppedInput(t),
	}
}

// removedInput: the spec file was deleted from Git; the pass pruned the
// cluster's objects and kept its claims.
func removedInput() Input {
	ref := func(kind, name string) kube.ObjectRef {
		return kube.ObjectRef{Kind: kind, Namespace: "prod", Name: name}
	}
	return Input{Cluster: "prod/cache", Revision: "9e1d0b7", Removed: true, Pruned: []kube.Change{
		{Object: ref("StatefulSet", "cache"), Action: kube.Pruned, Reason: "cluster removed from Git", Applied: true},
		{Object: ref("Service", "cache"), Action: kube.Pruned, Reason: "cluster removed from Git", Applied: true},
	}}
}

// driftInput: someone ran kubectl edit on the StatefulSet's image, and
// replica cache-3 follows the master on its own Kubernetes node; the pass
// restores the image and moves the replica.
func driftInput(t *testing.T) Input {
	pods := podsOn("a", "b", "c", "a", "b", "c")
	// Node 4 (pod cache-3, node a) follows node 1 (cache-0, node a), and
	// node 6 (cache-5, node c) follows node 2 (cache-1, node b).
	swapped := map[int]string{4: line(4, "10.0.0.4", "slave", 1, ""), 6: line(6, "10.0.0.6", "slave", 2, "")}
	before := observe(t, pods, healthyViews(swapped), cacheKeys, nil)
	first := topology.PlanTopology(desired, before)
	after := observe(t, pods, healthyViews(nil), cacheKeys, nil)

	objs := unchanged()
	sts := kube.ObjectRef{Kind: "StatefulSet", Namespace: "prod", Name: "cache"}
	image := kube.FieldDiff{Path: "spec.template.spec.containers[name=redis].image", Live: "redis:7.4-debug", Desired: "redis:7.4.2", Managers: []string{"kubectl-edit"}}
	objs.Changes[4] = kube.Change{Object: sts, Action: kube.Configured, Fields: []kube.FieldDiff{image}, Applied: true}
	objs.Drift = []kube.Drift{{Object: sts, FieldDiff: image}}
	return Input{Cluster: "prod/cache", Revision: "9b1e0d7", Spec: cacheSpec(), Objects: objs,
		Topology: &converge.Result{Rounds: []topology.Plan{first, topology.PlanTopology(desired, after)}, Final: after, Executed: first.Actions}}
}

// migrationStoppedInput: a scale-out whose migration stopped part-way (a
// source master died); the report says how far it got and that the next
// pass resumes it.
func migrationStoppedInput(t *testing.T) Input {
	pods := podsOn("a", "b", "c", "a", "b", "c")
	o := observe(t, pods, healthyViews(nil), cacheKeys, nil)
	plan := topology.PlanTopology(desired, o)
	move := topology.Action{Kind: topology.MoveSlots, Pod: "cache-1", Node: id(2), Target: id(7), TargetPod: "cache-6",
		Slots: []topology.SlotRange{{Start: 5461, End: 6825}}, Keys: 1365, Reason: "rebalance: cache-1 holds more than an even share, cache-6 less"}
	spc := cacheSpec()
	spc.Spec.Masters = 4
	return Input{Cluster: "prod/cache", Revision: "5ca1e0u", Spec: spc, Objects: unchanged(),
		Topology: &converge.Result{Rounds: []topology.Plan{plan}, Final: o, Executed: []topology.Action{move},
			Migration: &converge.Migration{SlotsPlanned: 4096, SlotsMoved: 1210, Keys: 3025, Elapsed: 2500 * time.Millisecond,
				Err: "slot 5900: set migrating on cache-1: dial tcp 10.0.0.2:6379: connect: connection refused"}},
		TopologyErr: errors.New("move-slots cache-1 -> cache-6: slot 5900: set migrating on cache-1: dial tcp 10.0.0.2:6379: connect: connection refused")}
}

func invalidSpecInput() Input {
	return Input{Cluster: "prod/cache", Revision: "c0ffee1", SpecErrors: spec.ErrorList{
		{File: "clusters/prod/cache.yaml", Line: 9, Column: 14, Path: "spec.replicasPerMaster", Message: "must be between 0 and 5, not 7"},
		{File: "clusters/prod/cache.yaml", Line: 6, Column: 12, Path: "spec.masters", Message: "must be at least 3, not 2"},
	}}
}

// dryRunInput: drift: report on a cluster whose last pod lost its data and
// came back as a fresh node: the pass plans to join and replicate it, and a
// label a person added to the Service is reported, not removed.
func dryRunInput(t *testing.T) Input {
	pods := podsOn("a", "b", "c", "a", "b", "c")
	views := healthyViews(map[int]string{6: line(6, "10.0.0.6", "slave,fail", 1, "")})
	views["cache-5"] = line(7, "10.0.0.6", "myself,master", 0, "") + "\n"
	o := observe(t, pods, views, cacheKeys, nil)
	plan := topology.PlanTopology(desired, o)
	if len(plan.Actions) == 0 {
		t.Fatal("dry-run case: the plan has no actions")
	}
	objs := unchanged()
	svc := kube.ObjectRef{Kind: "Service", Namespace: "prod", Name: "cache"}
	label := kube.FieldDiff{Path: "spec.selector.tier", Live: "cache", Managers: []string{"kubectl-client-side-apply"}}
	objs.Changes[1] = kube.Change{Object: svc, Action: kube.Configured, Fields: []kube.FieldDiff{label}}
	objs.Drift = []kube.Drift{{Object: svc, FieldDiff: label}}
	spc := cacheSpec()
	spc.Spec.Reconcile.Drift = "report"
	return Input{Cluster: "prod/cache", Revision: "77aa310", Spec: spc, Objects: objs, DryRun: true,
		Topology: &converge.Result{Rounds: []topology.Plan{plan}, Final: o}}
}

// blockedBootstrapInput: a new cluster whose objects were just created; two
// pods are not up yet, so the bootstrap waits.
func blockedBootstrapInput(t *testing.T) Input {
	pods := podsOn("a", "b", "c", "a", "b", "c")
	views := map[string]string{}
	for i := range 4 {
		// A fresh node: no slots, no peers, config epoch 0.
		views[pods[i].Name] = fmt.Sprintf("%s %s:6379@16379 myself,master - 0 0 0 connected\n", id(i+1), pods[i].IP)
	}
	down := map[string]string{"cache-4": "dial tcp 10.0.0.5:6379: connect: connection refused", "cache-5": "pod is Pending"}
	o := observe(t, pods, views, nil, down)
	plan := topology.PlanTopology(desired, o)
	if plan.Blocked == "" {
		t.Fatal("blocked-bootstrap case: the plan is not blocked")
	}
	var objs kube.Result
	for _, ref := range rendered() {
		objs.Changes = append(objs.Changes, kube.Change{Object: ref, Action: kube.Created, Applied: true})
	}
	return Input{Cluster: "prod/cache", Revision: "1d3c5e7", Spec: cacheSpec(), Objects: &objs,
		Topology: &converge.Result{Rounds: []topology.Plan{plan}, Final: o}, TopologyErr: fmt.Errorf("prod/cache: %s", plan.Blocked)}
}

func TestGolden(t *testing.T) {
	for name, in := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			r := Build(in)
			y, err := r.YAML()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".yaml", y)
			golden(t, name+".md", r.Markdown())
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// A second pass over the same cluster gives the same bytes: nothing to commit.
func TestYAMLIsDeterministic(t *testing.T) {
	for name, in := range goldenCases(t) {
		first, err := Build(in).YAML()
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			again, err := Build(in).YAML()
			if err != nil {
				t.Fatal(err)
			}
			if Changed(first, again) {
				t.Fatalf("%s: YAML differs between two builds of the same input:\n%s\n---\n%s", name, first, again)
			}
		}
	}
}

func TestChanged(t *testing.T) {
	a := []byte("cluster: prod/cache\n")
	if Changed(a, []byte("cluster: prod/cache\n")) {
		t.Error("Changed(same bytes) = true, want false")
	}
	if !Changed(a, []byte("cluster: prod/cache2\n")) {
		t.Error("Changed(different bytes) = false, want true")
	}
	if !Changed(nil, a) {
		t.Error("Changed(nothing committed yet, report) = false, want true")
	}
}

func TestVerdict(t *testing.T) {
	for name, want := range map[string]string{
		"converged":         "✅ ready: 3 masters × 1 replica, no drift",
		"drift":             "⚠️ degraded: ",
		"invalid-spec":      "❌ stalled: the spec has 2 errors",
		"dry-run":           "⚠️ degraded: ",
		"blocked-bootstrap": "❌ stalled: bootstrap waits",
	} {
		in := goldenCases(t)[name]
		if got := Build(in).Verdict(); !strings.HasPrefix(got, want) {
			t.Errorf("%s: verdict %q, want it to start with %q", name, got, want)
		}
	}
}

func TestDryRunActionsArePlanned(t *testing.T) {
	r := Build(dryRunInput(t))
	if len(r.Actions) == 0 {
		t.Fatal("no actions")
	}
	for _, a := range r.Actions {
		if !strings.HasPrefix(a, "planned: ") {
			t.Errorf("dry-run action %q lacks the planned: prefix", a)
		}
	}
}

// Invariant 8: no secret in a report, even when one reaches its inputs.
func TestReportMasksSecrets(t *testing.T) {
	const secret = "hunter2-s3cret"
	in := Input{Cluster: "prod/cache", Revision: "abc", Spec: cacheSpec(), Topology: converged(t),
		Objects: &kube.Result{
			Drift: []kube.Drift{
				{Object: kube.ObjectRef{Kind: "Secret", Namespace: "prod", Name: "cache-auth"},
					FieldDiff: kube.FieldDiff{Path: "data.password", Live: secret, Desired: secret + "x", Managers: []string{"kubectl-edit"}}},
				{Object: kube.ObjectRef{Kind: "Secret", Namespace: "prod", Name: "cache-auth"},
					FieldDiff: kube.FieldDiff{Path: "data.other", Live: map[string]any{"k": secret}, Managers: []string{"kubectl-edit"}}},
				{Object: kube.ObjectRef{Kind: "ConfigMap", Namespace: "prod", Name: "cache-config"},
					FieldDiff: kube.FieldDiff{Path: "data.requirepass", Live: secret, Desired: "x", Managers: []string{"helm"}}},
				{Object: kube.ObjectRef{Kind: "ConfigMap", Namespace: "prod", Name: "cache-config"},
					FieldDiff: kube.FieldDiff{Path: "data.masterauth", Live: secret, Managers: []string{"helm"}}},
				{Object: kube.ObjectRef{Kind: "StatefulSet", Namespace: "prod", Name: "cache"},
					FieldDiff: kube.FieldDiff{Path: "spec.template.spec.containers[name=redis].env[name=AUTH_TOKEN].value", Live: secret, Managers: []string{"kubectl-edit"}}},
			},
			Warnings: []string{"redis.conf had requirepass " + secret},
		},
		ObjectsErr:  errors.New(`apply ConfigMap prod/cache-config: field "masterauth": ` + secret),
		TopologyErr: errors.New("AUTH failed: password=" + secret + ", token: " + secret),
	}
	r := Build(in)
	y, err := r.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range [][]byte{y, r.Markdown()} {
		if strings.Contains(string(out), secret) {
			t.Errorf("report contains the secret:\n%s", out)
		}
	}
	for _, d := range r.Drift {
		if d.Live != "" && d.Live != masked || d.Desired != "" && d.Desired != masked {
			t.Errorf("drift %s %s: live %q desired %q, want %q", d.Subject, d.Path, d.Live, d.Desired, masked)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"requirepass s3cret", "requirepass ***"},
		{"config set masterauth s3cret now", "config set masterauth *** now"},
		{`{"password":"s3cret"}`, `{"password":"***"}`},
		{"PASSWORD=s3cret, next", "PASSWORD=***, next"},
		{"token: abc def", "token: *** def"},
		{"connection refused", "connection refused"},
		{"", ""},
	} {
		if got := redact(tc.in); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Drift values keep their shape: strings as is, anything else as JSON.
func TestDriftValues(t *testing.T) {
	in := Input{Cluster: "prod/cache", Spec: cacheSpec(), Objects: &kube.Result{Drift: []kube.Drift{{
		Object:    kube.ObjectRef{Kind: "StatefulSet", Namespace: "prod", Name: "cache"},
		FieldDiff: kube.FieldDiff{Path: "spec.template.metadata.annotations", Live: map[string]any{"b": "2", "a": float64(1)}, Desired: nil, Managers: []string{"z", "kubectl-edit"}},
	}}}}
	d := Build(in).Drift[0]
	if got, want := d.Live, `{"a":1,"b":"2"}`; got != want {
		t.Errorf("live %q, want %q", got, want)
	}
	if d.Desired != "" {
		t.Errorf("desired %q, want empty (unset)", d.Desired)
	}
	if got, want := strings.Join(d.Managers, ","), "kubectl-edit,z"; got != want {
		t.Errorf("managers %q, want %q", got, want)
	}
}

// The committed document is enough to show the report again: the status
// command parses it and prints the same Markdown.
func TestParseRoundTrip(t *testing.T) {
	for name, in := range goldenCases(t) {
		r := Build(in)
		y, err := r.YAML()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(y)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		y2, err := back.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if Changed(y, y2) {
			t.Errorf("%s: YAML changed through Parse:\n%s\n---\n%s", name, y, y2)
		}
		if got, want := string(back.Markdown()), string(r.Markdown()); got != want {
			t.Errorf("%s: Markdown changed through Parse:\n%s\n---\n%s", name, got, want)
		}
	}
	if _, err := Parse([]byte("apiVersion: v1\nkind: ConfigMap\n")); err == nil {
		t.Error("Parse(a ConfigMap) succeeded, want an error")
	}
}

// A password rotation in its grace is drift (the old password still
// works) that says when it ends, and its steps are actions; a node that
// cannot announce its external address yet is a warning.
func TestPasswordRotationAndAddressesInTheReport(t *testing.T) {
	in := goldenCases(t)["converged"]
	top := *in.Topology
	until := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	top.Auth = &converge.AuthProgress{AuthResult: converge.AuthResult{
		Nodes: []converge.AuthNode{{Pod: "cache-0", AcceptsDeclared: true, Others: 1, MasterauthDeclared: true}},
		Added: 6, MasterauthSet: 6,
	}, DropAfter: until}
	top.AnnounceWaiting = []string{"cache-3: its load balancer has no IP yet"}
	in.Topology = &top
	r := Build(in)
	if r.Condition(Ready).Status == True {
		t.Errorf("ready during a rotation: %+v", r.Conditions)
	}
	found := false
	for _, d := range r.Drift {
		if d.Kind == "password" && strings.Contains(d.Detail, "dropped after 2026-11-25T04:00:00Z") {
			found = true
		}
	}
	if !found {
		t.Errorf("no password drift with its end: %+v", r.Drift)
	}
	want := []string{"password: the new password accepted on 6 nodes, besides the old one", "password: masterauth set to the new password on 6 nodes"}
	for _, w := range want {
		if !slices.Contains(r.Actions, w) {
			t.Errorf("actions %q lack %q", r.Actions, w)
		}
	}
	if !slices.Contains(r.Warnings, "external address waits: cache-3: its load balancer has no IP yet") {
		t.Errorf("warnings %q", r.Warnings)
	}
}

// TestTLSWarningsInTheReport: what the certificate check warns of is in
// the report's warnings, as it was said (dates, not durations, so the
// report does not change from one pass to the next).
func TestTLSWarningsInTheReport(t *testing.T) {
	in := goldenCases(t)["converged"]
	in.TLSWarnings = []string{"tls.crt expires at 2027-01-04T10:00:00Z, within spec.tls.expiryWarning (720h0m0s): renew it"}
	r := Build(in)
	if want := "tls: " + in.TLSWarnings[0]; !slices.Contains(r.Warnings, want) {
		t.Errorf("warnings %q lack %q", r.Warnings, want)
	}
	if again := Build(in); !slices.Equal(again.Warnings, r.Warnings) {
		t.Errorf("two builds differ: %q and %q", r.Warnings, again.Warnings)
	}
}
