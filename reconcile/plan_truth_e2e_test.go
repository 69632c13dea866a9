package reconcile_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// TestDriftReportShowsTheRoll: under drift: report, a spec whose image the
// live pods do not run yet plans the whole rolling restart (replicas
// first, a planned failover before each master) and writes nothing: the
// StatefulSet keeps its template and no pod is replaced (invariant 6).
func TestDriftReportShowsTheRoll(t *testing.T) {
	h := newHarness(t, "reportroll")
	h.pass()
	before := map[string]string{}
	for name, p := range h.pods() {
		before[name] = string(p.UID)
	}
	h.c.Spec.Reconcile.Drift = spec.DriftReport
	h.c.Spec.Redis.Image = "redis:7.0.15"
	oc := h.pass()
	restarts, failovers := 0, 0
	for _, a := range oc.Report.Actions {
		switch {
		case strings.HasPrefix(a, "planned: restart-pod "):
			restarts++
		case strings.HasPrefix(a, "planned: failover "):
			failovers++
		}
	}
	if restarts != 6 || failovers != 3 {
		t.Errorf("report plans %d restarts and %d failovers, want 6 and 3:\n%s", restarts, failovers, strings.Join(oc.Report.Actions, "\n"))
	}
	if oc.Report.Mode != report.ModeReport {
		t.Errorf("mode %s", oc.Report.Mode)
	}
	sts, err := h.client.AppsV1().StatefulSets(h.ns).Get(context.Background(), h.c.Metadata.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := sts.Spec.Template.Spec.Containers[0].Image; img != "redis:7.0" {
		t.Errorf("drift: report changed the StatefulSet's image to %s", img)
	}
	for name, p := range h.pods() {
		if string(p.UID) != before[name] {
			t.Errorf("drift: report replaced pod %s", name)
		}
	}
}

// TestForgetNeedsThePolicy: a pod that lost its volume leaves its old
// node ID in every node's table. With reconcile.destructive.forgetNodes
// false the forget is planned, reported blocked and not run; allowed, the
// next pass forgets it (invariant 3).
func TestForgetNeedsThePolicy(t *testing.T) {
	h := newHarness(t, "forget")
	h.converge()
	victim, oldID := h.aReplica()
	keep := false
	h.c.Spec.Reconcile.Destructive.ForgetNodes = &keep
	h.losePVC(victim)
	oc := h.pass()
	for _, a := range oc.Topology.Executed {
		if a.Kind == topology.Forget {
			t.Errorf("forget ran without the policy's consent: %s", a)
		}
	}
	blocked := false
	for _, w := range oc.Report.Warnings {
		blocked = blocked || strings.Contains(w, "blocked by policy: forget") && strings.Contains(w, "forgetNodes is false")
	}
	if !blocked {
		t.Errorf("the report does not show the blocked forget: %v", oc.Report.Warnings)
	}
	if c := oc.Report.Condition(report.Stalled); c.Reason != report.ReasonBlockedByPolicy {
		t.Errorf("Stalled %s %s: %s, want reason %s", c.Status, c.Reason, c.Message, report.ReasonBlockedByPolicy)
	}
	first := ""
	for name := range h.pods() {
		if name != victim {
			first = name
			break
		}
	}
	if out := h.exec(first, "redis-cli", "cluster", "nodes"); !strings.Contains(out, oldID) {
		t.Errorf("the lost node %s was forgotten without consent:\n%s", oldID[:8], out)
	}

	allow := true
	h.c.Spec.Reconcile.Destructive.ForgetNodes = &allow
	oc = h.pass()
	forgot := false
	for _, a := range oc.Topology.Executed {
		forgot = forgot || a.Kind == topology.Forget && a.Target == oldID
	}
	if !forgot {
		t.Errorf("with consent the forget did not run: %v", oc.Topology.Executed)
	}
	if out := h.exec(first, "redis-cli", "cluster", "nodes"); strings.Contains(out, oldID) {
		t.Errorf("the lost node %s is still known:\n%s", oldID[:8], out)
	}
	h.check()
}
