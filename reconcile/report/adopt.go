package report

import (
	"sort"
	"strings"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Adoption states.
const (
	// AdoptionTakingOver: old nodes are still in the cluster; the passes
	// move their shards onto the managed pods.
	AdoptionTakingOver = "taking-over"
	// AdoptionAdopted: every old node is released; the managed pods are
	// the whole cluster.
	AdoptionAdopted = "adopted"
	// AdoptionRefused: the takeover cannot start or go on; Detail says
	// why, and nothing was done for it.
	AdoptionRefused = "refused"
)

// Adoption is where the takeover of a running cluster (spec.adopt) stands.
type Adoption struct {
	StatefulSet string `yaml:"statefulSet"`
	State       string `yaml:"state"`
	// OldNodes are the old pods still in the cluster, with their roles.
	OldNodes []string `yaml:"oldNodes,omitempty"`
	// Released are the old pods the takeover released: no slot, no key,
	// forgotten by every node.
	Released []string `yaml:"released,omitempty"`
	Detail   string   `yaml:"detail,omitempty"`
}

// buildAdoption reads the takeover's state from the last observation and
// plan; nil for a spec with no adopt section or before any observation.
func buildAdoption(a *spec.Adopt, o *topology.Observed, plan topology.Plan) *Adoption {
	if a == nil || o == nil {
		return nil
	}
	out := &Adoption{StatefulSet: a.StatefulSet, State: AdoptionAdopted, Released: o.Released}
	for _, n := range o.Foreign {
		role := "master, slots " + formatSlots(n.Self.Slots)
		switch {
		case n.Self.Has("slave"):
			role = "replica"
			if m := o.Nodes[n.Self.MasterID]; m != nil {
				role = "replica of " + m.Pod.Name
			}
		case len(n.Self.Slots) == 0:
			role = "master, no slots"
		}
		out.OldNodes = append(out.OldNodes, n.Pod.Name+" ("+role+")")
	}
	for name := range o.ForeignUnreachable {
		out.OldNodes = append(out.OldNodes, name+" (not answering)")
	}
	sort.Strings(out.OldNodes)
	if o.Adopting() {
		out.State = AdoptionTakingOver
	}
	if strings.HasPrefix(plan.Blocked, "adopt:") {
		out.State, out.Detail = AdoptionRefused, redact(plan.Blocked)
	}
	return out
}

func formatSlots(rs []topology.SlotRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}
