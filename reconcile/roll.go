package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// rollStep bounds each wait of a roll: a deleted pod back and Ready, a
// planned failover done.
const rollStep = 3 * time.Minute

// staleReason says why a pod must restart: its template is older than the
// StatefulSet's (image, resources: the StatefulSet is OnDelete, so only
// the reconciler replaces pods), or it runs a setting Redis cannot change
// at runtime. "" when it need not.
func staleReason(p corev1.Pod, sts *appsv1.StatefulSet, needsRestart map[string][]string) string {
	if rev := sts.Status.UpdateRevision; rev != "" && p.Labels[appsv1.StatefulSetRevisionLabel] != rev {
		return "its pod template is older than the StatefulSet's"
	}
	if keys := needsRestart[p.Name]; len(keys) > 0 {
		return "it runs " + strings.Join(keys, ", ") + " with a value Redis cannot change at runtime"
	}
	return ""
}

// roll restarts, one pod at a time, every pod that must restart: in each
// shard the replicas first (each back, linked and caught up before the
// next), then the master, after a planned CLUSTER FAILOVER to an in-sync
// replica so that no write is refused for longer than the handover. The
// cluster is converged (cluster_state:ok, every replica linked, every node
// agreeing) between any two steps; Stop and suspend are honoured between
// steps. It returns the actions taken, for the report.
//
// settle runs after each step, once the cluster is whole again: it sets
// what a restarted node lost (the address it announces).
func (r *Redis) roll(ctx context.Context, c *spec.RedisCluster, ob *converge.Observer, ex *converge.Executor, t converge.Target, res *converge.Result, settle func(*topology.Observed) error) ([]topology.Action, error) {
	needsRestart := map[string][]string{}
	for _, s := range res.Settings {
		if s.NeedsRestart {
			needsRestart[s.Pod] = append(needsRestart[s.Pod], s.Key)
		}
	}
	var done []topology.Action
	for {
		sts, err := r.observedStatefulSet(ctx, t)
		if err != nil {
			return done, err
		}
		pods, err := r.Client.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: t.Selector})
		if err != nil {
			return done, err
		}
		stale := map[string]string{}
		for _, p := range pods.Items {
			if why := staleReason(p, sts, needsRestart); why != "" && p.DeletionTimestamp == nil {
				stale[p.Name] = why
			}
		}
		if len(stale) == 0 {
			return done, nil
		}
		if stopped(r.Stop) {
			return done, converge.ErrStopped
		}
		if r.Paused != nil && r.Paused(ctx, c.Key()) {
			return done, ErrPaused
		}
		o, err := ob.Observe(ctx, t)
		if err != nil {
			return done, err
		}
		step, err := r.rollOne(ctx, c, o, ex, t, stale)
		if err != nil {
			return done, err
		}
		done = append(done, step...)
		for _, a := range step {
			delete(needsRestart, a.Pod)
		}
		// Heal what the restart changed (a new pod IP is met again) and
		// wait until the cluster is whole before the next step.
		healed, err := converge.Converge(ctx, ob, ex, t, DesiredFor(c), converge.Options{Log: r.Log})
		done = append(done, healed.Executed...)
		if err == nil {
			err = settle(healed.Final)
		}
		if err != nil {
			return done, fmt.Errorf("after restarting %s: %w", step[len(step)-1].Pod, err)
		}
	}
}

// observedStatefulSet waits until the StatefulSet controller has seen the
// StatefulSet's latest spec: until then status.updateRevision may name a
// template just replaced (a kubectl patch undone this pass), and pods that
// match the spec would look stale.
func (r *Redis) observedStatefulSet(ctx context.Context, t converge.Target) (*appsv1.StatefulSet, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		sts, err := r.Client.AppsV1().StatefulSets(t.Namespace).Get(ctx, t.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("read StatefulSet %s/%s: %w", t.Namespace, t.Name, err)
		}
		if sts.Status.ObservedGeneration >= sts.Generation {
			return sts, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("StatefulSet %s/%s: the controller has not observed generation %d after 30s", t.Namespace, t.Name, sts.Generation)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// rollOne restarts one pod: a stale replica if there is one, else a stale
// master after handing its shard to an in-sync replica.
func (r *Redis) rollOne(ctx context.Context, c *spec.RedisCluster, o *topology.Observed, ex *converge.Executor, t converge.Target, stale map[string]string) ([]topology.Action, error) {
	names := make([]string, 0, len(stale))
	for n := range stale {
		names = append(names, n)
	}
	sort.Strings(names)
	// Replicas (and pods that answer nothing: they serve nothing) first.
	for _, name := range names {
		if n := o.Nodes[o.ByPod[name]]; n == nil || !n.IsMaster() || n.SlotCount() == 0 {
			a := topology.Action{Kind: topology.Restart, Pod: name, Node: o.ByPod[name], Reason: "rolling restart: " + stale[name]}
			return []topology.Action{a}, r.restartPod(ctx, t, name, a)
		}
	}
	name := names[0]
	m := o.Nodes[o.ByPod[name]]
	var acts []topology.Action
	if rep := inSyncReplica(o, m); rep != nil {
		fo := topology.Action{Kind: topology.Failover, Pod: rep.Pod.Name, Node: rep.ID, Target: m.ID, TargetPod: name,
			Reason: "rolling restart: hand the shard to an in-sync replica before " + name + " restarts"}
		if err := ex.Run(ctx, o, []topology.Action{fo}); err != nil { // it logs the action
			return nil, err
		}
		acts = append(acts, fo)
	} else if r.Log != nil {
		r.Log.Warn("rolling restart of a master without an in-sync replica: its slots are unavailable until it is back", "cluster", c.Key(), "pod", name)
	}
	a := topology.Action{Kind: topology.Restart, Pod: name, Node: m.ID, Reason: "rolling restart: " + stale[name]}
	return append(acts, a), r.restartPod(ctx, t, name, a)
}

// inSyncReplica is a replica of m whose link is up, the one a planned
// failover can promote without losing acknowledged writes (CLUSTER
// FAILOVER waits for its offset to catch up with the master's).
func inSyncReplica(o *topology.Observed, m *topology.Node) *topology.Node {
	for _, id := range o.NodeIDs() {
		n := o.Nodes[id]
		if n.Self.Has("slave") && n.Self.MasterID == m.ID && n.MasterLinkUp {
			return n
		}
	}
	return nil
}

// restartPod deletes the pod and waits until the StatefulSet's new pod of
// that name runs Ready with an IP.
func (r *Redis) restartPod(ctx context.Context, t converge.Target, name string, a topology.Action) error {
	if r.Log != nil {
		r.Log.Info("topology", "cluster", t.Namespace+"/"+t.Name, "action", a.String())
	}
	pods := r.Client.CoreV1().Pods(t.Namespace)
	old, err := pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("restart %s: %w", name, err)
	}
	if err := pods.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &old.UID}}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("restart %s: %w", name, err)
	}
	deadline := time.Now().Add(rollStep)
	for {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.UID != old.UID && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && ready(p) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restart %s: not back and Ready after %s", name, rollStep)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
