package report

import (
	"fmt"
	"strings"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// Condition is one kstatus-style condition: Status is "True" or "False",
// Reason a CamelCase word, Message a sentence for people.
type Condition struct {
	Type    string `yaml:"type"`
	Status  string `yaml:"status"`
	Reason  string `yaml:"reason"`
	Message string `yaml:"message"`
}

// Condition types, in the order a report lists them.
const (
	Ready       = "Ready"
	Progressing = "Progressing"
	Degraded    = "Degraded"
	Stalled     = "Stalled"
)

// Condition statuses.
const (
	True  = "True"
	False = "False"
)

// Reasons. The rules, checked in this order within each condition:
//
// Stalled is True when the pass cannot get further without a person:
//   - SpecInvalid: the spec has errors or did not load;
//   - ApplyFailed: applying the Kubernetes objects failed;
//   - TopologyBlocked: the topology plan is blocked (it will not act
//     safely yet, such as a bootstrap waiting for every pod);
//   - ConvergeFailed: converging Redis failed for another reason.
//
// Otherwise it is False with NotStalled.
//
// Progressing is True with Converging when the pass executed actions (in a
// dry run: planned any), Kubernetes or Redis; otherwise False, NoActions.
//
// Degraded is True when anything differs from Git, with the most specific
// reason: PodsUnreachable (a pod's Redis could not be asked),
// PlacementDegraded (the placement cannot honour every rule), or
// DriftDetected (any other drift entry). Otherwise False, NoDrift. Drift is
// what the pass found, so a pass that corrects it still says Degraded (and
// Progressing); the next pass, finding none, says Ready.
//
// Ready is True with Converged only when the cluster is not stalled, not
// progressing, not degraded, and the topology has masters × (1 + replicas)
// Redis nodes answering. When False its reason is the first of Stalled's,
// Converging, Degraded's, or NodesMissing (fewer nodes answer than the spec
// asks for, or none was observed).
const (
	ReasonSpecInvalid       = "SpecInvalid"
	ReasonApplyFailed       = "ApplyFailed"
	ReasonTopologyBlocked   = "TopologyBlocked"
	ReasonBlockedByPolicy   = "BlockedByPolicy" // a destructive step waits for a person (spec.reconcile.destructive)
	ReasonConvergeFailed    = "ConvergeFailed"
	ReasonNotStalled        = "NotStalled"
	ReasonConverging        = "Converging"
	ReasonNoActions         = "NoActions"
	ReasonPodsUnreachable   = "PodsUnreachable"
	ReasonPlacementDegraded = "PlacementDegraded"
	ReasonDriftDetected     = "DriftDetected"
	ReasonNoDrift           = "NoDrift"
	ReasonRemovedFromGit    = "RemovedFromGit"
	ReasonPruneFailed       = "PruneFailed"
	ReasonNodesMissing      = "NodesMissing"
	ReasonConverged         = "Converged"
)

// conditions applies the rules above to a report whose drift, actions and
// topology are already built.
func conditions(in Input, r Report, plan topology.Plan) []Condition {
	if in.Removed {
		return removedConditions(in, r)
	}
	stalled := stalledCondition(in, plan)
	progressing := Condition{Type: Progressing, Status: False, Reason: ReasonNoActions, Message: "nothing to do"}
	if n := len(r.Actions); n > 0 {
		verb := "executed"
		if in.DryRun || in.Suspended {
			verb = "planned"
		}
		progressing = Condition{Type: Progressing, Status: True, Reason: ReasonConverging, Message: fmt.Sprintf("%s %s", verb, plural(n, "action"))}
	}
	degraded := degradedCondition(r, plan)

	ready := Condition{Type: Ready, Status: True, Reason: ReasonConverged}
	want := r.Topology.Desired.Nodes()
	switch {
	case stalled.Status == True:
		ready = Condition{Type: Ready, Status: False, Reason: stalled.Reason, Message: stalled.Message}
	case progressing.Status == True:
		ready = Condition{Type: Ready, Status: False, Reason: ReasonConverging, Message: progressing.Message}
	case degraded.Status == True:
		ready = Condition{Type: Ready, Status: False, Reason: degraded.Reason, Message: degraded.Message}
	case in.Topology == nil || r.Topology.Answering < want:
		ready = Condition{Type: Ready, Status: False, Reason: ReasonNodesMissing,
			Message: fmt.Sprintf("%d of %d Redis nodes answer", r.Topology.Answering, want)}
	default:
		ready.Message = fmt.Sprintf("%s × %s, %s answering", plural(r.Topology.Desired.Masters, "master"), plural(r.Topology.Desired.ReplicasPerMaster, "replica"), plural(r.Topology.Answering, "node"))
	}
	if in.Suspended {
		ready.Message += "; reconcile is suspended: nothing is written"
	}
	return []Condition{ready, progressing, degraded, stalled}
}

func stalledCondition(in Input, plan topology.Plan) Condition {
	c := Condition{Type: Stalled, Status: True}
	switch {
	case len(in.SpecErrors) > 0 || in.Spec == nil:
		c.Reason = ReasonSpecInvalid
		c.Message = "the spec is invalid"
		if n := len(in.SpecErrors); n > 0 {
			c.Message = fmt.Sprintf("the spec has %s; fix it in Git", plural(n, "error"))
		}
	case in.ObjectsErr != nil:
		c.Reason, c.Message = ReasonApplyFailed, redact("apply: "+in.ObjectsErr.Error())
	case plan.Blocked != "":
		c.Reason, c.Message = ReasonTopologyBlocked, redact(plan.Blocked)
	case in.TopologyErr != nil:
		c.Reason, c.Message = ReasonConvergeFailed, redact(in.TopologyErr.Error())
	case len(plan.BlockedSteps()) > 0:
		b := plan.BlockedSteps()
		c.Reason, c.Message = ReasonBlockedByPolicy, redact(fmt.Sprintf("%s held back by policy: %s", plural(len(b), "destructive step"), b[0].String()))
	default:
		return Condition{Type: Stalled, Status: False, Reason: ReasonNotStalled, Message: "nothing blocks the pass"}
	}
	return c
}

func degradedCondition(r Report, plan topology.Plan) Condition {
	c := Condition{Type: Degraded, Status: True}
	switch {
	case len(r.Topology.Unreachable) > 0:
		pods := make([]string, len(r.Topology.Unreachable))
		for i, u := range r.Topology.Unreachable {
			pods[i] = u.Pod
		}
		c.Reason, c.Message = ReasonPodsUnreachable, fmt.Sprintf("unreachable: %s", strings.Join(pods, ", "))
	case len(plan.Placement.Degraded) > 0:
		c.Reason, c.Message = ReasonPlacementDegraded, redact(strings.Join(plan.Placement.Degraded, "; "))
	case len(r.Drift) > 0:
		c.Reason, c.Message = ReasonDriftDetected, driftSummary(r.Drift)
	default:
		return Condition{Type: Degraded, Status: False, Reason: ReasonNoDrift, Message: "no drift"}
	}
	return c
}

// driftSummary counts drift by source: "2 drift entries: 1 in Kubernetes, 1 in Redis".
func driftSummary(drift []DriftEntry) string {
	var kube, redis int
	for _, d := range drift {
		if d.Source == SourceKubernetes {
			kube++
		} else {
			redis++
		}
	}
	var parts []string
	if kube > 0 {
		parts = append(parts, fmt.Sprintf("%d in Kubernetes", kube))
	}
	if redis > 0 {
		parts = append(parts, fmt.Sprintf("%d in Redis", redis))
	}
	noun := "drift entries"
	if len(drift) == 1 {
		noun = "drift entry"
	}
	return fmt.Sprintf("%d %s: %s", len(drift), noun, strings.Join(parts, ", "))
}

// removedConditions: a cluster whose spec left Git is never Ready again; its
// report says what was pruned and that its volumes were kept.
func removedConditions(in Input, r Report) []Condition {
	msg := "the spec was removed from Git: its objects are pruned, its PersistentVolumeClaims (the data) are kept"
	ready := Condition{Type: Ready, Status: False, Reason: ReasonRemovedFromGit, Message: msg}
	progressing := Condition{Type: Progressing, Status: False, Reason: ReasonNoActions, Message: "nothing to do"}
	if n := len(r.Actions); n > 0 {
		progressing = Condition{Type: Progressing, Status: True, Reason: ReasonConverging, Message: "pruned " + plural(n, "object")}
	}
	degraded := Condition{Type: Degraded, Status: False, Reason: ReasonNoDrift, Message: "no cluster is declared"}
	stalled := Condition{Type: Stalled, Status: False, Reason: ReasonNotStalled, Message: "nothing blocks the pass"}
	if in.PruneErr != nil {
		stalled = Condition{Type: Stalled, Status: True, Reason: ReasonPruneFailed, Message: redact("prune: " + in.PruneErr.Error())}
	}
	return []Condition{ready, progressing, degraded, stalled}
}
