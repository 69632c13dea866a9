package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/plan"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Planner plans a change of specs against the live clusters. It writes
// nothing: objects are compared by server-side dry runs, Redis is only
// read. Applier nil (no Kubernetes to reach) plans every cluster against
// an empty one.
type Planner struct {
	Applier *kube.Applier
	Redis   *Redis
	// Source labels objects as the daemon would (so the dry run shows no
	// label change); "" for the CLI's.
	Source string
	// Unreachable, when set, says why the live cluster was not asked (the
	// plan says so).
	Unreachable string
}

// Plan compares base with head: every cluster added, changed or removed is
// planned. base nil plans every head cluster against what is live
// (`plan FILE...`).
func (p Planner) Plan(ctx context.Context, base, head []*spec.RedisCluster, headErrs spec.ErrorList) plan.Result {
	res := plan.Result{SpecErrors: plan.SpecErrorLines(headErrs)}
	invalid := map[string]bool{}
	for _, e := range headErrs {
		invalid[e.Cluster] = true
	}
	before := map[string]*spec.RedisCluster{}
	for _, c := range base {
		before[c.Key()] = c
	}
	seen := map[string]bool{}
	for _, c := range head {
		seen[c.Key()] = true
		old, ok := before[c.Key()]
		change := plan.Changed
		switch {
		case base == nil:
		case !ok:
			change = plan.Added
		case old.Same(c):
			continue
		}
		cp := p.planCluster(ctx, old, c, change)
		if base == nil && cp.Against == plan.AgainstLive && noChange(cp) {
			cp.Change = plan.Unchanged
		}
		res.Clusters = append(res.Clusters, cp)
	}
	for _, c := range base {
		if seen[c.Key()] || invalid[c.Key()] {
			continue // a cluster whose head spec is invalid is not removed
		}
		res.Clusters = append(res.Clusters, p.planRemoved(c))
	}
	return res
}

func noChange(c plan.Cluster) bool {
	for _, o := range c.Objects {
		if o.Action != kube.Unchanged {
			return false
		}
	}
	return len(c.Actions) == 0 && len(c.Pods.Add)+len(c.Pods.Remove) == 0
}

func shapeOf(c *spec.RedisCluster) (int, int) {
	if c == nil {
		return 0, 0
	}
	return c.Spec.Masters, c.Spec.Replicas()
}

func (p Planner) planCluster(ctx context.Context, old, c *spec.RedisCluster, change string) plan.Cluster {
	cp := plan.Cluster{Cluster: c.Key(), Change: change, Against: plan.AgainstLive}
	cp.Shape.MastersBefore, cp.Shape.ReplicasBefore = shapeOf(old)
	cp.Shape.MastersAfter, cp.Shape.ReplicasAfter = shapeOf(c)

	// Objects: a server-side dry run of each, or all created.
	live := int32(0)
	liveKnown := false
	if p.Applier == nil {
		cp.Against, cp.AgainstNote = plan.AgainstEmpty, p.unreachable("no Kubernetes API configured")
		objs, err := render.Render(c)
		if err != nil {
			cp.Errors = append(cp.Errors, err.Error())
			return cp
		}
		for _, o := range objs.All() {
			cp.Objects = append(cp.Objects, kube.Change{Object: kube.RefOf(o), Action: kube.Created})
		}
	} else {
		res := ApplyObjectsFrom(ctx, p.Applier, p.Source, []*spec.RedisCluster{c}, nil, true, false)
		if err := res.Clusters[0].Err; err != nil {
			cp.Errors = append(cp.Errors, err.Error())
			return cp
		}
		cp.Objects = res.Clusters[0].Result.Changes
		sts, err := p.Applier.Client.AppsV1().StatefulSets(c.Metadata.Namespace).Get(ctx, c.Metadata.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			liveKnown = true
		case err != nil:
			cp.AgainstNote = "the StatefulSet could not be read: " + err.Error()
		case sts.Spec.Replicas != nil:
			live, liveKnown = *sts.Spec.Replicas, true
		}
		for _, o := range cp.Objects {
			if o.Action == kube.Recreated {
				cp.Destructive = append(cp.Destructive, fmt.Sprintf("recreate %s (%s): pods are orphaned and adopted again, not restarted", o.Object, o.Reason))
			}
		}
	}

	// Pods and volumes.
	want := int32(c.Spec.TotalNodes())
	var newPods []topology.Pod
	for i := live; i < want; i++ {
		name := c.Metadata.Name + "-" + strconv.Itoa(int(i))
		cp.Pods.Add = append(cp.Pods.Add, name)
		newPods = append(newPods, topology.Pod{Name: name, Ordinal: int(i), Domain: "unscheduled/" + name})
	}
	for i := want; i < live; i++ {
		name := c.Metadata.Name + "-" + strconv.Itoa(int(i))
		cp.Pods.Remove = append(cp.Pods.Remove, name)
		if c.Spec.RetainOnScaleIn() {
			cp.PVCs.Keep = append(cp.PVCs.Keep, "data-"+name)
		} else {
			cp.PVCs.Delete = append(cp.PVCs.Delete, "data-"+name)
			cp.Destructive = append(cp.Destructive, fmt.Sprintf("delete PVC data-%s with pod %s (storage.retainOnScaleIn: false), once the pod is drained", name, name))
		}
	}
	if len(cp.Pods.Remove) > 0 {
		cp.Destructive = append(cp.Destructive, fmt.Sprintf("remove pods %v: their slots move to the remaining masters first, and the StatefulSet shrinks only once they hold no slot and no key", cp.Pods.Remove))
	}

	// Topology: the live cluster, grown by the pods to come, else fresh.
	var o *topology.Observed
	if p.Applier != nil && liveKnown && live > 0 && p.Redis != nil {
		var err error
		o, err = p.observe(ctx, c)
		if err != nil {
			cp.AgainstNote = joinNote(cp.AgainstNote, "the Redis topology is planned on fresh nodes: "+err.Error())
			o = nil
		} else if len(o.Nodes) == 0 {
			cp.AgainstNote = joinNote(cp.AgainstNote, "no Redis node answered: the topology is planned on fresh nodes")
			o = nil
		}
	}
	d := DesiredFor(c)
	var tp topology.Plan
	if o == nil {
		var pods []topology.Pod
		for i := 0; i < int(want); i++ {
			name := c.Metadata.Name + "-" + strconv.Itoa(i)
			pods = append(pods, topology.Pod{Name: name, Ordinal: i, Domain: "unscheduled/" + name})
		}
		tp = topology.PlanTopology(d, topology.Fresh(pods))
		if cp.Against == plan.AgainstLive && liveKnown && live == 0 {
			cp.AgainstNote = joinNote(cp.AgainstNote, "the cluster does not exist yet: it is bootstrapped on fresh nodes")
		}
	} else {
		tp = topology.PlanTopology(d, topology.WithNewPods(o, newPods))
	}
	cp.Actions = tp.Actions
	if tp.Blocked != "" && !topology.IsWaiting(tp.Blocked) {
		cp.Blocked = tp.Blocked
	}
	for _, a := range tp.Actions {
		if a.Kind == topology.MoveSlots {
			cp.Move.Slots += a.SlotCount()
			cp.Move.Keys += a.Keys
			cp.Move.Bytes += a.Bytes
		}
		if a.Destructive {
			cp.Destructive = append(cp.Destructive, a.String())
		}
	}
	for _, dr := range tp.Drift {
		if dr.Kind == topology.DriftPlacement {
			cp.Warnings = append(cp.Warnings, dr.Detail)
		}
	}
	slices.Sort(cp.Warnings)
	cp.Warnings = slices.Compact(cp.Warnings)
	return cp
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func (p Planner) unreachable(def string) string {
	if p.Unreachable != "" {
		return p.Unreachable
	}
	return def
}

func (p Planner) observe(ctx context.Context, c *spec.RedisCluster) (*topology.Observed, error) {
	dial, err := p.Redis.observeDialer(ctx, c)
	if err != nil {
		return nil, err
	}
	return (&converge.Observer{Client: p.Redis.Client, Dial: dial}).Observe(ctx, TargetFor(c))
}

// planRemoved: the spec left Git; its objects are pruned (PVCs kept).
func (p Planner) planRemoved(c *spec.RedisCluster) plan.Cluster {
	cp := plan.Cluster{Cluster: c.Key(), Change: plan.Removed, Against: plan.AgainstLive}
	cp.Shape.MastersBefore, cp.Shape.ReplicasBefore = shapeOf(c)
	objs, err := render.Render(c)
	if err != nil {
		cp.Errors = append(cp.Errors, err.Error())
		return cp
	}
	for _, o := range objs.All() {
		ref := kube.RefOf(o)
		cp.Objects = append(cp.Objects, kube.Change{Object: ref, Action: kube.Pruned, Reason: "cluster removed from Git"})
		cp.Destructive = append(cp.Destructive, "prune "+ref.String()+" (the cluster's pods stop; its PVCs and their data are kept)")
	}
	return cp
}
