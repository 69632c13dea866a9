package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/cluster"
	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/plan"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/reconcile/settings"
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
	return len(c.Actions)+len(c.Restarts)+len(c.Settings)+len(c.Users) == 0 && len(c.Pods.Add)+len(c.Pods.Remove) == 0
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

	// Objects: a server-side dry run of each; offline, the base
	// revision's rendered objects stand in for the live ones, or all are
	// created.
	live := int32(0)
	liveKnown := false
	var sts *appsv1.StatefulSet
	switch {
	case p.Applier == nil && old != nil:
		cp.Against, cp.AgainstNote = plan.AgainstBase, p.unreachable("no Kubernetes API configured")
		changes, err := compareSpecs(old, c)
		if err != nil {
			cp.Errors = append(cp.Errors, err.Error())
			return cp
		}
		cp.Objects = changes
		live, liveKnown = int32(old.Spec.TotalNodes()), true
	case p.Applier == nil:
		cp.Against, cp.AgainstNote = plan.AgainstEmpty, p.unreachable("no Kubernetes API configured")
		objs, err := render.Render(c)
		if err != nil {
			cp.Errors = append(cp.Errors, err.Error())
			return cp
		}
		for _, o := range objs.All() {
			cp.Objects = append(cp.Objects, kube.Change{Object: kube.RefOf(o), Action: kube.Created})
		}
	default:
		// The certificate first, as a pass checks it: a Secret the pass
		// would refuse is the plan's error, and nothing else is planned.
		if p.Redis != nil {
			warnings, err := p.Redis.CheckTLS(ctx, c, time.Now())
			for _, w := range warnings {
				cp.Warnings = append(cp.Warnings, "tls: "+w)
			}
			if err != nil {
				cp.Errors = append(cp.Errors, "the pass will be refused: "+err.Error())
				return cp
			}
		}
		res := ApplyObjectsFrom(ctx, p.Applier, p.Source, []*spec.RedisCluster{c}, nil, true, false)
		if err := res.Clusters[0].Err; err != nil {
			cp.Errors = append(cp.Errors, err.Error())
			return cp
		}
		cp.Objects = res.Clusters[0].Result.Changes
		var err error
		sts, err = p.Applier.Client.AppsV1().StatefulSets(c.Metadata.Namespace).Get(ctx, c.Metadata.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			sts, liveKnown = nil, true
		case err != nil:
			sts = nil
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

	// Topology: the live cluster (offline: the one the base converges
	// to), grown by the pods to come, else fresh.
	var o *topology.Observed
	switch {
	case cp.Against == plan.AgainstBase && live > 0:
		var err error
		if o, err = topology.Converged(cluster.DesiredFor(old), podsOf(old.Metadata.Name, 0, int(live))); err != nil {
			cp.AgainstNote = joinNote(cp.AgainstNote, "the base revision's topology cannot be placed: "+err.Error())
			o = nil
		}
	case p.Applier != nil && liveKnown && live > 0 && p.Redis != nil:
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
	d := cluster.DesiredFor(c)
	var tp topology.Plan
	if c.Spec.Adopt != nil && p.Applier != nil && p.Redis != nil {
		// A takeover: the old cluster read live, the managed pods as they
		// are (or fresh), and every pass of the takeover projected.
		var note string
		tp, note = p.planAdoption(ctx, c, d, int(want))
		cp.AgainstNote = joinNote(cp.AgainstNote, note)
	} else if c.Spec.Adopt != nil {
		// Offline: the old cluster cannot be read, and planning on fresh
		// pods alone would only say it was not observed.
		cp.AgainstNote = joinNote(cp.AgainstNote, "the takeover of spec.adopt is planned against the live cluster only: plan with access to Kubernetes to see its steps")
	} else if o == nil {
		tp = topology.PlanTopology(d, topology.Fresh(podsOf(c.Metadata.Name, 0, int(want))))
		if cp.Against == plan.AgainstLive && liveKnown && live == 0 {
			cp.AgainstNote = joinNote(cp.AgainstNote, "the cluster does not exist yet: it is bootstrapped on fresh nodes")
		}
	} else {
		tp = topology.PlanTopology(d, topology.WithNewPods(o, newPods))
		p.planRestarts(ctx, &cp, old, c, o, sts)
	}
	if o != nil && c.Spec.Adopt != nil {
		p.planRestarts(ctx, &cp, old, c, o, sts)
	}
	cp.Actions = tp.Actions
	// No node to read (offline against the base revision, or a cluster
	// that does not exist yet): the users from the specs, on every pod.
	var pods []string
	for _, pd := range podsOf(c.Metadata.Name, 0, int(want)) {
		pods = append(pods, pd.Name)
	}
	switch {
	case cp.Against == plan.AgainstBase:
		cp.Users = specUsersSteps(old, c, pods)
	case cp.Against == plan.AgainstEmpty, liveKnown && live == 0:
		cp.Users = specUsersSteps(nil, c, pods)
	}
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
	cp.Estimate = topology.EstimateOf(append(slices.Clone(cp.Restarts), tp.Actions...))
	if len(cp.Pods.Remove) > 0 {
		cp.ScaleIn = scaleInSteps(c, tp, int(live), int(want))
	}
	if cp.Move.Slots > 0 || tp.Bootstrap || len(cp.Pods.Add)+len(cp.Pods.Remove) > 0 {
		cp.After = afterTopology(o, tp)
	}
	for _, dr := range tp.Drift {
		if dr.Kind == topology.DriftPlacement {
			cp.Warnings = append(cp.Warnings, dr.Detail)
		}
	}
	for _, w := range c.Warnings() {
		cp.Warnings = append(cp.Warnings, w.Error())
	}
	slices.Sort(cp.Warnings)
	cp.Warnings = slices.Compact(cp.Warnings)
	return cp
}

// planRestarts adds the settings that change and the rolling restart to
// the plan of a cluster that exists: live (CONFIG GET on every node, the
// pods' template revisions) or, offline, the base revision's spec.
func (p Planner) planRestarts(ctx context.Context, cp *plan.Cluster, old, c *spec.RedisCluster, o *topology.Observed, sts *appsv1.StatefulSet) {
	templateChange := kube.TemplateChange(cp.Objects)
	major := settings.MajorOf(c.Spec.Redis.Image)
	var diffs []converge.SettingDiff
	if cp.Against == plan.AgainstBase {
		before := cluster.DeclaredSettings(old)
		for _, d := range settings.Compare(cluster.DeclaredSettings(c), before) {
			for _, id := range o.NodeIDs() {
				diffs = append(diffs, converge.SettingDiff{Pod: o.Nodes[id].Pod.Name, Diff: d, NeedsRestart: settings.NeedsRestart(major, d.Key)})
			}
		}
		// A directive new to the spec runs at Redis's default before.
		for k, v := range cluster.DeclaredSettings(c) {
			if _, ok := before[k]; !ok {
				for _, id := range o.NodeIDs() {
					diffs = append(diffs, converge.SettingDiff{Pod: o.Nodes[id].Pod.Name, Diff: settings.Diff{Key: k, Live: "(Redis default)", Declared: v}, NeedsRestart: settings.NeedsRestart(major, k)})
				}
			}
		}
	} else {
		dial, err := p.Redis.ObserveDialer(ctx, c)
		if err == nil {
			diffs, err = converge.ReadNodeSettings(ctx, dial, render.ServingPort(c), major, o, func(*topology.Node) map[string]string { return cluster.ManagedSettings(c) })
		}
		if err != nil {
			cp.AgainstNote = joinNote(cp.AgainstNote, "the nodes' settings could not be read: "+err.Error())
		}
	}
	cp.Settings = settingChanges(diffs)
	if cp.Against != plan.AgainstBase {
		users, err := p.Redis.PlanUsers(ctx, c)
		if err != nil {
			cp.Errors = append(cp.Errors, "users: "+err.Error())
		} else if users != nil {
			cp.Users, cp.UnmanagedUsers = users.Plan.Steps, users.Plan.Unmanaged
		}
	}

	stale := map[string]string{}
	if cp.Against == plan.AgainstBase {
		for _, id := range o.NodeIDs() {
			if templateChange != "" {
				stale[o.Nodes[id].Pod.Name] = templateChange
			}
		}
		for pod, keys := range cluster.NeedsRestartByPod(diffs) {
			if _, ok := stale[pod]; !ok {
				stale[pod] = "it runs " + strings.Join(keys, ", ") + " with a value Redis cannot change at runtime"
			}
		}
	} else {
		var err error
		stale, err = p.Redis.StalePods(ctx, cluster.TargetFor(c), sts, templateChange, cluster.NeedsRestartByPod(diffs))
		if err != nil {
			cp.AgainstNote = joinNote(cp.AgainstNote, "the pods could not be read: "+err.Error())
		}
	}
	cp.Restarts = topology.PlanRoll(o, stale)
}

// afterTopology is the cluster as the plan leaves it, for the plan's
// pictures: the planned placement, and each master's slots once the moves
// are done (an even split on a new cluster). Pods not scheduled yet have no
// Kubernetes node.
func afterTopology(o *topology.Observed, tp topology.Plan) *report.Topology {
	pl := tp.Placement
	if len(pl.Masters) == 0 {
		return nil
	}
	pods := map[string]topology.Pod{}
	slots := map[string]int{}
	if o != nil {
		for _, p := range o.Pods {
			pods[p.Name] = p
		}
		for _, n := range o.Nodes {
			slots[n.Pod.Name] = n.SlotCount()
		}
	}
	for i, r := range topology.SplitSlots(len(pl.Masters)) {
		if tp.Bootstrap {
			slots[pl.Masters[i]] = r.Len()
		}
	}
	for _, a := range tp.Actions {
		if a.Kind == topology.MoveSlots {
			slots[a.Pod] -= a.SlotCount()
			slots[a.TargetPod] += a.SlotCount()
		}
	}
	node := func(name string) string {
		if p := pods[name]; p.Node != "" {
			return p.Node
		}
		return ""
	}
	t := &report.Topology{}
	for _, m := range pl.Masters {
		rm := report.Master{Pod: m, Node: node(m), Zone: pods[m].Zone, SlotCount: slots[m]}
		for _, r := range sortedReplicas(pl.ReplicaOf, m) {
			rm.Replicas = append(rm.Replicas, report.Replica{Pod: r, Node: node(r), Zone: pods[r].Zone, Linked: true})
		}
		t.Masters = append(t.Masters, rm)
	}
	return t
}

func sortedReplicas(replicaOf map[string]string, master string) []string {
	var out []string
	for r, m := range replicaOf {
		if m == master {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// scaleInSteps is a scale-in in the order the daemon takes it (see
// cluster.ScaleInHold and Pass.finishScaleIn): drain, verify empty,
// shrink, forget (as the policy allows), place the replicas anew.
func scaleInSteps(c *spec.RedisCluster, tp topology.Plan, live, want int) []string {
	removed := podsOf(c.Metadata.Name, want, live)
	names := make([]string, len(removed))
	for i, p := range removed {
		names[i] = p.Name
	}
	pods := strings.Join(names, ", ")
	var out []string
	slots := 0
	for _, a := range tp.Actions {
		if a.Kind == topology.MoveSlots && slices.Contains(names, a.Pod) {
			slots += a.SlotCount()
		}
	}
	if slots > 0 {
		out = append(out, fmt.Sprintf("drain: move %d slots off %s to the masters that stay, keys and all, while clients keep writing", slots, pods))
	}
	out = append(out, fmt.Sprintf("verify: %s hold no slot, no key and no open slot (each pod answers; one that does not is not known to be empty, and the StatefulSet waits)", pods))
	out = append(out, fmt.Sprintf("shrink: the StatefulSet goes from %d to %d pods", live, want))
	forget := "forget: their nodes are forgotten on every remaining node"
	if !c.Spec.ForgetNodes() {
		forget += " [blocked: spec.reconcile.destructive.forgetNodes is false: they stay in every node's table, flagged failed, until a person forgets them]"
	}
	out = append(out, forget)
	if c.Spec.Replicas() > 0 {
		out = append(out, "place: the replicas the removed masters served follow the masters that stay")
	}
	return out
}

// settingChanges sums the per-node settings plan by directive and value.
func settingChanges(diffs []converge.SettingDiff) []plan.Setting {
	var out []plan.Setting
	at := map[[3]string]int{}
	for _, d := range diffs {
		k := [3]string{d.Key, d.Live, d.Declared}
		if i, ok := at[k]; ok {
			out[i].Nodes++
			continue
		}
		at[k] = len(out)
		out = append(out, plan.Setting{Key: d.Key, From: d.Live, To: d.Declared, Nodes: 1, Restart: d.NeedsRestart})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// compareSpecs is the objects plan of a change between two revisions
// without Kubernetes: head's rendered objects against base's.
func compareSpecs(old, c *spec.RedisCluster) ([]kube.Change, error) {
	before, err := render.Render(old)
	if err != nil {
		return nil, fmt.Errorf("render the base revision of %s: %w", old.Key(), err)
	}
	after, err := render.Render(c)
	if err != nil {
		return nil, err
	}
	return kube.CompareRendered(before.All(), after.All())
}

// podsOf names pods from..to-1 of a StatefulSet not scheduled yet: each
// its own failure domain, as a plan cannot know where they will run.
func podsOf(name string, from, to int) []topology.Pod {
	var pods []topology.Pod
	for i := from; i < to; i++ {
		pn := name + "-" + strconv.Itoa(i)
		pods = append(pods, topology.Pod{Name: pn, Ordinal: i, Domain: "unscheduled/" + pn})
	}
	return pods
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
	dial, err := p.Redis.ObserveDialer(ctx, c)
	if err != nil {
		return nil, err
	}
	return (&converge.Observer{Client: p.Redis.Client, Dial: dial}).Observe(ctx, cluster.TargetFor(c))
}

// planAdoption is the takeover's whole plan (topology.ProjectAdoption):
// the old cluster observed live with the managed pods, fresh ones standing
// in for those not started yet. The note says what it was planned on.
func (p Planner) planAdoption(ctx context.Context, c *spec.RedisCluster, d topology.Desired, want int) (topology.Plan, string) {
	t, err := p.Redis.Target(ctx, c)
	if err != nil {
		return topology.Plan{Blocked: "adopt: " + err.Error()}, ""
	}
	dial, err := p.Redis.ObserveDialer(ctx, c)
	if err != nil {
		return topology.Plan{Blocked: "adopt: " + err.Error()}, ""
	}
	o, err := (&converge.Observer{Client: p.Redis.Client, Dial: dial}).Observe(ctx, t)
	if err != nil {
		return topology.Plan{Blocked: "adopt: " + err.Error()}, ""
	}
	// Managed pods that do not answer yet (not started, starting) are
	// planned as the fresh, empty nodes they will be.
	note := ""
	var missing []topology.Pod
	for _, pd := range podsOf(c.Metadata.Name, 0, want) {
		if _, ok := o.ByPod[pd.Name]; !ok {
			missing = append(missing, pd)
		}
	}
	if len(missing) > 0 {
		fresh := topology.Fresh(missing)
		o.Pods = slices.DeleteFunc(o.Pods, func(p topology.Pod) bool { _, ok := fresh.ByPod[p.Name]; return ok })
		o.Pods = append(o.Pods, fresh.Pods...)
		for id, n := range fresh.Nodes {
			o.Nodes[id], o.ByPod[n.Pod.Name] = n, id
			delete(o.Unreachable, n.Pod.Name)
		}
		note = fmt.Sprintf("%d of the %d managed pods do not answer yet: the takeover is planned with fresh, empty nodes in their place", len(missing), want)
	}
	passes, err := topology.ProjectAdoption(d, o)
	var all topology.Plan
	for i, ps := range passes {
		if i == 0 {
			all.Drift, all.Placement = ps.Drift, ps.Placement
		}
		all.Actions = append(all.Actions, ps.Actions...)
		all.Blocked, all.Waiting = ps.Blocked, ps.Waiting
		if len(ps.Placement.Masters) > 0 {
			all.Placement = ps.Placement
		}
	}
	if err != nil {
		all.Blocked = "adopt: the takeover could not be projected: " + err.Error()
	}
	return all, note
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
