package report

import (
	"errors"
	"testing"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// want is the status and reason of each condition, in report order.
type want struct {
	ready, progressing, degraded, stalled string // "True:Reason" or "False:Reason"
}

func TestConditions(t *testing.T) {
	pods := podsOn("a", "b", "c", "a", "b", "c")
	sts := kube.ObjectRef{Kind: "StatefulSet", Namespace: "prod", Name: "cache"}
	edit := kube.Drift{Object: sts, FieldDiff: kube.FieldDiff{Path: "spec.replicas", Live: 7.0, Desired: 6.0, Managers: []string{"kubectl-scale"}}}

	for _, tc := range []struct {
		name string
		in   func(t *testing.T) Input
		want want
	}{{
		name: "converged",
		in: func(t *testing.T) Input {
			return Input{Spec: cacheSpec(), Objects: unchanged(), Topology: converged(t)}
		},
		want: want{"True:Converged", "False:NoActions", "False:NoDrift", "False:NotStalled"},
	}, {
		name: "spec failed to load",
		in: func(t *testing.T) Input {
			return Input{SpecErrors: spec.ErrorList{{File: "c.yaml", Line: 1, Message: "bad"}}}
		},
		want: want{"False:SpecInvalid", "False:NoActions", "False:NoDrift", "True:SpecInvalid"},
	}, {
		name: "spec nil without errors is still invalid",
		in:   func(t *testing.T) Input { return Input{} },
		want: want{"False:SpecInvalid", "False:NoActions", "False:NoDrift", "True:SpecInvalid"},
	}, {
		name: "apply failed",
		in: func(t *testing.T) Input {
			return Input{Spec: cacheSpec(), ObjectsErr: errors.New("apply StatefulSet prod/cache: forbidden")}
		},
		want: want{"False:ApplyFailed", "False:NoActions", "False:NoDrift", "True:ApplyFailed"},
	}, {
		name: "converge failed",
		in: func(t *testing.T) Input {
			return Input{Spec: cacheSpec(), Objects: unchanged(), Topology: converged(t), TopologyErr: errors.New("not converged after 6 rounds")}
		},
		want: want{"False:ConvergeFailed", "False:NoActions", "False:NoDrift", "True:ConvergeFailed"},
	}, {
		name: "blocked plan wins over the error converge returns for it",
		in:   blockedBootstrapInput,
		want: want{"False:TopologyBlocked", "True:Converging", "True:PodsUnreachable", "True:TopologyBlocked"},
	}, {
		name: "executed actions are progress",
		in: func(t *testing.T) Input {
			in := Input{Spec: cacheSpec(), Objects: unchanged(), Topology: converged(t)}
			in.Topology.Executed = []topology.Action{{Kind: topology.Replicate, Pod: "cache-3", TargetPod: "cache-1"}}
			return in
		},
		want: want{"False:Converging", "True:Converging", "False:NoDrift", "False:NotStalled"},
	}, {
		name: "applied kube change is progress",
		in: func(t *testing.T) Input {
			objs := unchanged()
			objs.Changes[0] = kube.Change{Object: objs.Changes[0].Object, Action: kube.Configured, Applied: true}
			return Input{Spec: cacheSpec(), Objects: objs, Topology: converged(t)}
		},
		want: want{"False:Converging", "True:Converging", "False:NoDrift", "False:NotStalled"},
	}, {
		name: "dry run counts planned actions, not executed ones",
		in:   dryRunInput,
		want: want{"False:Converging", "True:Converging", "True:DriftDetected", "False:NotStalled"},
	}, {
		name: "dry run with nothing to plan is ready",
		in: func(t *testing.T) Input {
			return Input{Spec: cacheSpec(), Objects: unchanged(), Topology: converged(t), DryRun: true}
		},
		want: want{"True:Converged", "False:NoActions", "False:NoDrift", "False:NotStalled"},
	}, {
		name: "kube drift alone degrades",
		in: func(t *testing.T) Input {
			objs := unchanged()
			objs.Drift = []kube.Drift{edit}
			return Input{Spec: cacheSpec(), Objects: objs, Topology: converged(t), DryRun: true}
		},
		want: want{"False:DriftDetected", "False:NoActions", "True:DriftDetected", "False:NotStalled"},
	}, {
		name: "unreachable pod",
		in: func(t *testing.T) Input {
			views := healthyViews(map[int]string{6: line(6, "10.0.0.6", "slave,fail", 1, "")})
			o := observe(t, pods, views, cacheKeys, map[string]string{"cache-5": "i/o timeout"})
			plan := topology.PlanTopology(desired, o)
			return Input{Spec: cacheSpec(), Objects: unchanged(), DryRun: true,
				Topology: &converge.Result{Rounds: []topology.Plan{plan}, Final: o}}
		},
		want: want{"False:PodsUnreachable", "False:NoActions", "True:PodsUnreachable", "False:NotStalled"},
	}, {
		name: "placement degraded",
		in: func(t *testing.T) Input {
			in := Input{Spec: cacheSpec(), Objects: unchanged(), Topology: converged(t)}
			in.Topology.Rounds[0].Placement.Degraded = []string{"2 masters share zone zone-a"}
			return in
		},
		want: want{"False:PlacementDegraded", "False:NoActions", "True:PlacementDegraded", "False:NotStalled"},
	}, {
		name: "fewer nodes answer than the spec asks for",
		in: func(t *testing.T) Input {
			in := Input{Spec: cacheSpec(), Objects: unchanged(), Topology: converged(t)}
			two := 2
			in.Spec.Spec.ReplicasPerMaster = &two
			return in
		},
		want: want{"False:NodesMissing", "False:NoActions", "False:NoDrift", "False:NotStalled"},
	}, {
		name: "topology not observed",
		in: func(t *testing.T) Input {
			return Input{Spec: cacheSpec(), Objects: unchanged()}
		},
		want: want{"False:NodesMissing", "False:NoActions", "False:NoDrift", "False:NotStalled"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := Build(tc.in(t))
			got := want{}
			fields := map[string]*string{Ready: &got.ready, Progressing: &got.progressing, Degraded: &got.degraded, Stalled: &got.stalled}
			var order []string
			for _, c := range r.Conditions {
				order = append(order, c.Type)
				*fields[c.Type] = c.Status + ":" + c.Reason
				if c.Message == "" {
					t.Errorf("%s has no message", c.Type)
				}
			}
			if got != tc.want {
				t.Errorf("conditions (ready, progressing, degraded, stalled)\n got %v\nwant %v", got, tc.want)
			}
			if want := []string{Ready, Progressing, Degraded, Stalled}; len(order) != 4 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] || order[3] != want[3] {
				t.Errorf("condition order %v, want %v", order, want)
			}
		})
	}
}
