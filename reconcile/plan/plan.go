// Package plan is what a change of cluster specs will do, before it is
// merged: for each cluster whose spec differs, the Kubernetes objects that
// change (server-side dry-run diffs by field path), the Redis topology
// actions (slots and estimated keys and bytes to move, replicas to place),
// pods and PVCs to add or remove, and every destructive step flagged. It
// is computed against the live cluster when it can be reached, against an
// empty one otherwise (and says so). Output is Markdown for people (a pull
// request comment) or JSON for machines.
package plan

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/redis-gitops/redis-gitops/reconcile/acl"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Change of a cluster's spec between base and head.
const (
	Added     = "added"
	Changed   = "changed"
	Removed   = "removed"
	Unchanged = "unchanged" // plan FILE... of a spec the live cluster already matches
)

// What a plan was computed against.
const (
	AgainstLive  = "live"
	AgainstEmpty = "empty"
	// AgainstBase: offline, the base revision's spec stands in for the
	// live cluster (its rendered objects, the topology it converges to).
	AgainstBase = "base"
)

// Result is the plan of a whole change.
type Result struct {
	Clusters []Cluster `json:"clusters"`
	// SpecErrors are the head's invalid specs: nothing of theirs is planned
	// or applied.
	SpecErrors []string `json:"specErrors,omitempty"`
}

// Cluster is one cluster's plan.
type Cluster struct {
	Cluster string `json:"cluster"` // namespace/name
	Change  string `json:"change"`
	Against string `json:"against"`
	// AgainstNote says why the plan is against an empty cluster, or what
	// part of the live cluster could not be read.
	AgainstNote string `json:"againstNote,omitempty"`
	Shape       Shape  `json:"shape"`
	// Objects are the Kubernetes objects that change.
	Objects []kube.Change `json:"objects,omitempty"`
	// Actions are the Redis topology steps, in order.
	Actions []topology.Action `json:"actions,omitempty"`
	// Settings are the redis.conf settings that change, and how each
	// reaches the nodes: at runtime, or by a restart.
	Settings []Setting `json:"settings,omitempty"`
	// Users are the ACL user steps (spec.users), node by node: created,
	// set again (with the fields that differ) or deleted, live, no
	// restart. No password or hash is in them.
	Users []acl.Step `json:"users,omitempty"`
	// UnmanagedUsers are users found on the nodes that Git never declared:
	// left as they are.
	UnmanagedUsers []acl.Unmanaged `json:"unmanagedUsers,omitempty"`
	// Restarts is the rolling restart, in order: each pod's restart, with
	// the planned failover before a master's.
	Restarts []topology.Action `json:"restarts,omitempty"`
	// Estimate is the time and risk of the restarts, failovers and slot
	// moves, from measured rates (an estimate, and said so).
	Estimate topology.Estimate `json:"estimate"`
	// After is the cluster as the plan leaves it (placement, slots per
	// master), for the pictures; nil when the plan does not change them.
	After *report.Topology `json:"after,omitempty"`
	// ScaleIn is a scale-in's steps, in order, when pods are removed.
	ScaleIn []string `json:"scaleIn,omitempty"`
	Pods    Names    `json:"pods"`
	PVCs    PVCs     `json:"pvcs"`
	Move    Move     `json:"move"`
	// Destructive lists every step that deletes or forgets something.
	Destructive []string `json:"destructive,omitempty"`
	// Warnings: placement that falls short, and why; what the spec's
	// Warnings say is valid but unwise (a cluster past spec.WarnNodes).
	Warnings []string `json:"warnings,omitempty"`
	// Blocked says why the topology cannot converge as declared (a scale-in
	// the remaining memory cannot hold, for example).
	Blocked string   `json:"blocked,omitempty"`
	Errors  []string `json:"errors,omitempty"`
}

// Setting is one redis.conf directive that changes.
type Setting struct {
	Key  string `json:"key"`
	From string `json:"from"`
	To   string `json:"to"`
	// Nodes it changes on.
	Nodes int `json:"nodes"`
	// Restart: Redis cannot change it at runtime; the pods that run it
	// restart (they are in Restarts). Otherwise CONFIG SET, no restart.
	Restart bool `json:"restart"`
}

// Shape is masters × replicas, before and after.
type Shape struct {
	MastersBefore  int `json:"mastersBefore"`
	MastersAfter   int `json:"mastersAfter"`
	ReplicasBefore int `json:"replicasPerMasterBefore"`
	ReplicasAfter  int `json:"replicasPerMasterAfter"`
}

// Names are pods to add and to remove.
type Names struct {
	Add    []string `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// PVCs of removed pods: deleted or kept (storage.retainOnScaleIn).
type PVCs struct {
	Delete []string `json:"delete,omitempty"`
	Keep   []string `json:"keep,omitempty"`
}

// Move sums the slots a plan moves between masters, with estimates of
// their keys and bytes.
type Move struct {
	Slots int   `json:"slots"`
	Keys  int64 `json:"keys"`
	Bytes int64 `json:"bytes"`
}

// HasChanges tells whether anything would change (exit code 1).
func (r Result) HasChanges() bool {
	for _, c := range r.Clusters {
		if c.Change != Unchanged {
			return true
		}
	}
	return false
}

// Failed tells whether the change must not merge as is: an invalid spec,
// or a cluster whose plan is blocked.
func (r Result) Failed() bool {
	if len(r.SpecErrors) > 0 {
		return true
	}
	for _, c := range r.Clusters {
		if c.Failed() {
			return true
		}
	}
	return false
}

// Failed: the cluster's plan is blocked or could not be made.
func (c Cluster) Failed() bool { return c.Blocked != "" || len(c.Errors) > 0 }

// Summary is one line for a commit status.
func (c Cluster) Summary() string {
	if c.Failed() {
		if c.Blocked != "" {
			return "blocked: " + c.Blocked
		}
		return "cannot plan: " + c.Errors[0]
	}
	var parts []string
	switch c.Change {
	case Removed:
		return "removed from Git: objects pruned, PVCs kept"
	case Unchanged:
		return "no change"
	}
	if c.Shape.MastersBefore != c.Shape.MastersAfter || c.Shape.ReplicasBefore != c.Shape.ReplicasAfter {
		parts = append(parts, fmt.Sprintf("%d×%d → %d×%d", c.Shape.MastersBefore, c.Shape.ReplicasBefore, c.Shape.MastersAfter, c.Shape.ReplicasAfter))
	}
	if n := len(c.Pods.Add); n > 0 {
		parts = append(parts, fmt.Sprintf("+%d pods", n))
	}
	if n := len(c.Pods.Remove); n > 0 {
		parts = append(parts, fmt.Sprintf("-%d pods", n))
	}
	if c.Move.Slots > 0 {
		parts = append(parts, fmt.Sprintf("%d slots (~%d keys) move", c.Move.Slots, c.Move.Keys))
	}
	if n := c.Estimate.Restarts; n > 0 {
		parts = append(parts, fmt.Sprintf("%s restart, %s", plural(n, "pod"), plural(c.Estimate.Failovers, "planned failover")))
	}
	if n := runtimeSettings(c.Settings); n > 0 {
		parts = append(parts, fmt.Sprintf("%s set at runtime", plural(n, "setting")))
	}
	if n := len(c.Users); n > 0 {
		parts = append(parts, fmt.Sprintf("%s on the nodes", plural(n, "ACL user step")))
	}
	if n := objectChanges(c.Objects); n > 0 {
		parts = append(parts, fmt.Sprintf("%d objects change", n))
	}
	if n := len(c.Destructive); n > 0 {
		parts = append(parts, fmt.Sprintf("%d destructive steps", n))
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}

func objectChanges(cs []kube.Change) int {
	n := 0
	for _, c := range cs {
		if c.Action != kube.Unchanged {
			n++
		}
	}
	return n
}

// JSON is the plan for machines, secrets masked.
func (r Result) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return []byte(report.Redact(string(b)) + "\n"), nil
}

// SpecErrorLines formats load errors as file:line:col: path: message.
func SpecErrorLines(errs spec.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, report.Redact(e.Error()))
	}
	return out
}

func runtimeSettings(ss []Setting) int {
	n := 0
	for _, s := range ss {
		if !s.Restart {
			n++
		}
	}
	return n
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
