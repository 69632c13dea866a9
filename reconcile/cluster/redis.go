package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/settings"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Redis holds what the Redis half needs.
type Redis struct {
	Client kubernetes.Interface
	// Dial overrides how admin connections are made (tests); default
	// go-redis with the cluster's password.
	Dial converge.Dialer
	Log  *slog.Logger
	// PodsTimeout bounds the wait for the StatefulSet's pods to run
	// (default 3 min).
	PodsTimeout time.Duration
	// Stop, once closed, ends a convergence before its next action.
	Stop <-chan struct{}
	// Wrap, when set, wraps every admin connection (the daemon counts
	// Redis writes through it).
	Wrap func(converge.Admin) converge.Admin
	// Progress, when set, hears every slot migration's progress (metrics).
	Progress func(cluster string, p migrate.Progress)
	// Paused, when set, is asked between the steps of a rolling restart
	// whether the cluster is now suspended (the daemon reads Git again);
	// if so the roll stops there with ErrPaused, and the next pass, which
	// sees the suspend, writes nothing until it is lifted.
	Paused func(ctx context.Context, cluster string) bool
}

// ErrPaused: a roll stopped between two steps because reconcile.suspend
// was set in Git meanwhile.
var ErrPaused = errors.New("paused between two steps of the roll: reconcile.suspend is now set in Git; lifting it resumes the roll")

// TargetFor is where the cluster's pods are and how to read their domains.
func TargetFor(c *spec.RedisCluster) converge.Target {
	return converge.Target{
		Namespace:   c.Metadata.Namespace,
		Name:        c.Metadata.Name,
		Selector:    render.ManagedSelector(c.Metadata.Name),
		TopologyKey: c.Spec.Placement.TopologyKey,
		ZoneKey:     c.Spec.Placement.ZoneKey,
		Port:        render.ServingPort(c),
	}
}

// Target is TargetFor with, for a spec that adopts a running cluster, the
// old cluster to observe and the password its nodes must take.
func (r *Redis) Target(ctx context.Context, c *spec.RedisCluster) (converge.Target, error) {
	pw, err := r.Password(ctx, c)
	if err != nil {
		return converge.Target{}, err
	}
	return targetWithPassword(c, pw), nil
}

func targetWithPassword(c *spec.RedisCluster, pw string) converge.Target {
	t := TargetFor(c)
	if a := c.Spec.Adopt; a != nil {
		t.Adopt = &converge.AdoptTarget{StatefulSet: a.StatefulSet, Port: a.Port, Password: pw}
	}
	return t
}

// DesiredFor is the topology the spec asks for.
func DesiredFor(c *spec.RedisCluster) topology.Desired {
	return topology.Desired{
		Masters:           c.Spec.Masters,
		ReplicasPerMaster: c.Spec.Replicas(),
		ZoneAware:         c.Spec.Placement.ZoneKey != "",
		ClientPort:        render.ServingPort(c),
		BusPort:           render.BusPort,
		Policy: topology.Policy{
			KeepGoneNodes: !c.Spec.ForgetNodes(),
			TakeOverSlots: c.Spec.Reconcile.Destructive.TakeOverSlots,
		},
		Adopt:             c.Spec.Adopt != nil,
		DisklessSyncDelay: DeclaredSettings(c)[topology.DisklessSyncDelay],
		NodeTimeout:       strconv.FormatInt(c.Spec.Redis.NodeTimeout.Milliseconds(), 10),
	}
}

// Password reads the cluster's Redis password from its Secret ("" without
// auth). It is passed on in memory only.
func (r *Redis) Password(ctx context.Context, c *spec.RedisCluster) (string, error) {
	if c.Spec.Auth == nil {
		return "", nil
	}
	ref := c.Spec.Auth.SecretRef
	s, err := r.Client.CoreV1().Secrets(c.Metadata.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("auth secret %s/%s: %w", c.Metadata.Namespace, ref.Name, err)
	}
	pw, ok := s.Data[ref.Key]
	if !ok {
		return "", fmt.Errorf("auth secret %s/%s has no key %q", c.Metadata.Namespace, ref.Name, ref.Key)
	}
	return string(pw), nil
}

// ConvergeOptions tune one convergence.
type ConvergeOptions struct {
	// DryRun (drift: report, suspend) only plans: nothing is written.
	DryRun bool
	// TemplateChange, in a dry run, says why every pod would restart: the
	// StatefulSet's pod template differs from the rendered one, which a
	// dry run does not apply ("" when it does not).
	TemplateChange string
}

// Converge brings the cluster's Redis topology to the spec: bootstrap,
// heal, placement. With dryRun (drift: report, suspend) it only plans.
func (r *Redis) Converge(ctx context.Context, c *spec.RedisCluster, dryRun bool) (converge.Result, error) {
	return r.ConvergeWith(ctx, c, ConvergeOptions{DryRun: dryRun})
}

// ConvergeWith is Converge with options: it plans the topology, the
// settings and the roll, records the plan in the result, and (unless a
// dry run) executes it step by step, observing and planning again after
// each.
func (r *Redis) ConvergeWith(ctx context.Context, c *spec.RedisCluster, opts ConvergeOptions) (converge.Result, error) {
	dryRun := opts.DryRun
	pw, err := r.Password(ctx, c)
	if err != nil {
		return converge.Result{}, err
	}
	st, err := r.readAuthState(ctx, c)
	if err != nil {
		return converge.Result{}, err
	}
	tlsc, err := r.TLS(ctx, c)
	if err != nil {
		return converge.Result{}, err
	}
	wrap := func(d converge.Dialer) converge.Dialer {
		if r.Wrap == nil {
			return d
		}
		return func(addr string) converge.Admin { return r.Wrap(d(addr)) }
	}
	// Nodes may take another password than the declared one: the one
	// before a rotation, or none (auth just turned on).
	candidates := passwordCandidates(pw, st)
	dial, migrateDial := r.Dial, r.Dial
	if dial == nil {
		dial, migrateDial = nodeDialer(ctx, candidates, tlsc), converge.MigrationDialer(pw, tlsc)
		if tlsc != nil {
			migrateDial = converge.EitherPort(migrateDial, converge.MigrationDialer(pw, nil), render.TLSPort, render.ClientPort)
		}
	}
	dial, migrateDial = wrap(dial), wrap(migrateDial)
	t := targetWithPassword(c, pw)
	if !dryRun {
		if err := r.waitPods(ctx, t, c.Spec.TotalNodes()); err != nil {
			return converge.Result{}, err
		}
	}
	// The password first: migrations authenticate with the declared one.
	var authProgress *converge.AuthProgress
	if c.Spec.Auth != nil || st != nil {
		pods, err := (&converge.Observer{Client: r.Client}).Pods(ctx, t)
		if err != nil {
			return converge.Result{}, err
		}
		authProgress, err = r.convergeAuth(ctx, c, dial, pods, pw, st, dryRun)
		if authProgress != nil && r.Log != nil && (authProgress.Added+authProgress.MasterauthSet+authProgress.Dropped > 0 || !authProgress.DropAfter.IsZero()) {
			r.Log.Info("password", "cluster", c.Key(), "added", authProgress.Added, "masterauthSet", authProgress.MasterauthSet,
				"dropped", authProgress.Dropped, "done", authProgress.Done, "oldAcceptedUntil", authProgress.DropAfter)
		}
		if err != nil && !dryRun {
			return converge.Result{Auth: authProgress}, fmt.Errorf("password: %w", err)
		}
		if r.Dial == nil && !dryRun {
			// A fresh dialer: the old password may be gone now.
			dial = wrap(nodeDialer(ctx, candidates, tlsc))
		}
	}
	// ACL users next: clients log in as them. A refused plan (a Secret
	// missing, a rule Redis refuses) changes no node and does not stop the
	// topology; it is the pass's error at the end.
	users, usersErr := r.convergeUsers(ctx, c, dial, dryRun)
	r.logUsers(c, users)
	if usersErr != nil {
		usersErr = fmt.Errorf("users: %w", usersErr)
	}
	ob := &converge.Observer{Client: r.Client, Dial: dial}
	ex := &converge.Executor{Dial: dial, MigrateDial: migrateDial, Password: pw, Port: t.Port, Log: r.Log, Stop: r.Stop,
		KeysPerBatch: c.Spec.Migration.KeysPerBatch, ParallelSlots: c.Spec.Migration.ParallelSlots, LatencyBudget: c.Spec.Migration.Budget(),
		Cluster: c.Key(), Progress: r.Progress}
	if c.Spec.Adopt != nil {
		ex.ForeignPort = c.Spec.Adopt.Port
	}
	// Settings Redis can change at runtime change on every node now, with
	// no restart (the ConfigMap already holds them for the next start),
	// and so does the address each node announces.
	applySettings := func(o *topology.Observed, withDeclared bool) ([]converge.SettingDiff, []string, error) {
		if o == nil {
			return nil, nil, nil
		}
		var pods []topology.Pod
		for _, id := range o.NodeIDs() {
			pods = append(pods, o.Nodes[id].Pod)
		}
		announce, waiting, err := r.liveAnnouncements(ctx, c, pods)
		if err != nil {
			return nil, nil, err
		}
		declared := map[string]string{}
		if withDeclared {
			declared = ManagedSettings(c)
		}
		diffs, err := converge.ApplyNodeSettings(ctx, dial, t.Port, settings.MajorOf(c.Spec.Redis.Image), o, func(n *topology.Node) map[string]string {
			return overlay(declared, announce[n.Pod.Name])
		}, dryRun)
		for _, d := range diffs {
			if r.Log != nil {
				r.Log.Info("redis setting", "cluster", c.Key(), "pod", d.Pod, "key", d.Key, "live", d.Live, "declared", d.Declared, "applied", d.Applied, "needsRestart", d.NeedsRestart)
			}
		}
		return diffs, waiting, err
	}
	// The addresses first: a node must announce where its peers can reach
	// it now (its Service of externalAccess may have just been created, or
	// pruned) before the cluster can be whole again.
	var early []converge.SettingDiff
	var first *topology.Observed
	if !dryRun {
		if o, oerr := ob.Observe(ctx, t); oerr == nil {
			early, _, _ = applySettings(o, false)
			if !slices.ContainsFunc(early, func(d converge.SettingDiff) bool { return d.Applied }) {
				first = o // nothing changed since: the topology plans from it
			}
		}
	}
	res, err := converge.Converge(ctx, ob, ex, t, DesiredFor(c), converge.Options{DryRun: dryRun, Log: r.Log, Observed: first})
	res.Auth, res.Users = authProgress, users
	if err != nil && !dryRun {
		return res, err
	}
	diffs, waiting, serr := applySettings(res.Final, true)
	res.Settings, res.AnnounceWaiting = append(early, diffs...), waiting
	if err == nil {
		err = serr
	}
	if err == nil {
		err = usersErr
	}
	if err != nil {
		return res, err
	}
	if dryRun {
		if res.Final != nil {
			sts, serr := r.Client.AppsV1().StatefulSets(t.Namespace).Get(ctx, t.Name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(serr):
				sts = nil
			case serr != nil:
				return res, fmt.Errorf("read StatefulSet %s: %w", c.Key(), serr)
			}
			stale, serr := r.StalePods(ctx, t, sts, opts.TemplateChange, NeedsRestartByPod(res.Settings))
			if serr != nil {
				return res, serr
			}
			res.Roll = topology.PlanRoll(res.Final, stale)
		}
		return res, r.convergeTLSAll(ctx, c, dial, t, &res, true)
	}
	// Pods whose template changed (image, resources) or that run a setting
	// Redis cannot change at runtime restart one at a time.
	rolled, err := r.roll(ctx, c, ob, ex, t, &res, func(o *topology.Observed) error {
		if _, _, err := applySettings(o, true); err != nil {
			return err
		}
		// A restarted node starts with no ACL user (ACL SETUSER lives in
		// memory): set them again before the next pod restarts.
		again, err := r.convergeUsers(ctx, c, dial, false)
		r.logUsers(c, again)
		return err
	})
	res.Executed = append(res.Executed, rolled...)
	if len(rolled) > 0 {
		if o, oerr := ob.Observe(ctx, t); oerr == nil {
			res.Final = o
		}
		res.Settings = nil // applied by the restarts
	}
	if err == nil {
		// TLS last: the roll gave every pod its certificate.
		err = r.convergeTLSAll(ctx, c, dial, t, &res, false)
	}
	return res, err
}

// DeclaredSettings are the spec's redis.conf settings, keys lower-cased as
// Redis reads them.
func DeclaredSettings(c *spec.RedisCluster) map[string]string {
	out := map[string]string{}
	for k, v := range c.Spec.Redis.Config {
		out[strings.ToLower(k)] = v
	}
	return out
}

// ManagedSettings are the settings a pass compares with the nodes' and
// sets back: the declared ones, and those a step of the daemon changes for
// a while, at their declared value or Redis's default. A bootstrap lowers
// repl-diskless-sync-delay and cluster-node-timeout (as redis.conf sets it
// from spec.redis.nodeTimeout) and sets them back itself; should it stop
// in between, the next pass's settings step finds the lowered values here
// and restores them.
func ManagedSettings(c *spec.RedisCluster) map[string]string {
	d := DesiredFor(c)
	out := DeclaredSettings(c)
	out[topology.DisklessSyncDelay] = d.SyncDelay()
	out[topology.NodeTimeout] = d.NodeTimeout
	return out
}

// waitPods waits until want pods of the cluster run with an IP, or the
// timeout passes (then the plan works with what runs; it never bootstraps
// without every pod).
func (r *Redis) waitPods(ctx context.Context, t converge.Target, want int) error {
	timeout := r.PodsTimeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	deadline := time.Now().Add(timeout)
	for {
		list, err := r.Client.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: t.Selector})
		running := 0
		if err == nil {
			for _, p := range list.Items {
				if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && p.DeletionTimestamp == nil {
					running++
				}
			}
			if running >= want {
				return nil
			}
		}
		if time.Now().After(deadline) {
			if r.Log != nil {
				r.Log.Warn("not every pod runs; converging with those that do", "cluster", t.Namespace+"/"+t.Name, "running", running, "want", want)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// overlay is base with over's entries on top, in a new map.
func overlay(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}
