package cluster

import (
	"context"
	"fmt"
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
// the reconciler replaces pods), or the template is about to change
// (templateChange, for a plan or a dry run: the StatefulSet is not
// applied yet), or it runs a setting Redis cannot change at runtime. ""
// when it need not.
func staleReason(p corev1.Pod, sts *appsv1.StatefulSet, templateChange string, needsRestart map[string][]string) string {
	if sts != nil {
		if rev := sts.Status.UpdateRevision; rev != "" && p.Labels[appsv1.StatefulSetRevisionLabel] != rev {
			return "its pod template is older than the StatefulSet's"
		}
	}
	if templateChange != "" {
		return templateChange
	}
	if keys := needsRestart[p.Name]; len(keys) > 0 {
		return "it runs " + strings.Join(keys, ", ") + " with a value Redis cannot change at runtime"
	}
	return ""
}

// StalePods reads the cluster's pods and says which must restart, and
// why (staleReason). sts nil: the StatefulSet does not exist yet.
func (r *Redis) StalePods(ctx context.Context, t converge.Target, sts *appsv1.StatefulSet, templateChange string, needsRestart map[string][]string) (map[string]string, error) {
	pods, err := r.Client.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: t.Selector})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s/%s: %w", t.Namespace, t.Name, err)
	}
	stale := map[string]string{}
	for _, p := range pods.Items {
		if why := staleReason(p, sts, templateChange, needsRestart); why != "" && p.DeletionTimestamp == nil {
			stale[p.Name] = why
		}
	}
	return stale, nil
}

// NeedsRestartByPod groups the settings that need a restart by pod.
func NeedsRestartByPod(diffs []converge.SettingDiff) map[string][]string {
	out := map[string][]string{}
	for _, s := range diffs {
		if s.NeedsRestart {
			out[s.Pod] = append(out[s.Pod], s.Key)
		}
	}
	return out
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
	needsRestart := NeedsRestartByPod(res.Settings)
	var done []topology.Action
	for {
		sts, err := r.observedStatefulSet(ctx, t)
		if err != nil {
			return done, err
		}
		stale, err := r.StalePods(ctx, t, sts, "", needsRestart)
		if err != nil {
			return done, err
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
		planned := topology.PlanRoll(o, stale)
		if res.Roll == nil {
			res.Roll = planned // the plan as it stood before the first restart
		}
		step, err := r.rollStep(ctx, c, o, ex, t, topology.NextRollStep(planned))
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

// rollStep executes one step of a roll plan: its restart, with the
// planned failover before it when a master restarts. It decides nothing.
func (r *Redis) rollStep(ctx context.Context, c *spec.RedisCluster, o *topology.Observed, ex *converge.Executor, t converge.Target, step []topology.Action) ([]topology.Action, error) {
	for i, a := range step {
		switch a.Kind {
		case topology.Failover:
			if err := ex.Run(ctx, o, []topology.Action{a}); err != nil { // it logs the action
				return step[:i], err
			}
		case topology.Restart:
			if a.Unavailable && r.Log != nil {
				r.Log.Warn("rolling restart of a master without an in-sync replica: its slots are unavailable until it is back", "cluster", c.Key(), "pod", a.Pod)
			}
			if err := r.restartPod(ctx, t, a.Pod, a); err != nil {
				return step[:i+1], err
			}
		}
	}
	return step, nil
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
