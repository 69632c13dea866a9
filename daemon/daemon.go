package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/redis-gitops/redis-gitops/daemon/forge"
	"github.com/redis-gitops/redis-gitops/daemon/gitsource"
	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Source is the Git side of the daemon (gitsource.Source).
type Source interface {
	Sync(ctx context.Context) (gitsource.Snapshot, error)
	Push(ctx context.Context, c gitsource.Commit) (string, error)
}

var _ Source = (*gitsource.Source)(nil)

// Daemon is the long-running loop: it syncs the repo on a poll and on
// webhooks, reconciles every cluster when the specs change, scans single
// clusters on their cron schedules, and commits the status reports back.
// All work runs on one goroutine, one pass at a time.
type Daemon struct {
	Git Source
	// SpecPath is the specs' directory in the repo (default "clusters").
	SpecPath string
	// StatusBranch receives the reports ("" = the watched branch);
	// StatusPath is their directory (default "status").
	StatusBranch string
	StatusPath   string
	// Author signs the status commits.
	AuthorName, AuthorEmail string
	// Interval is the poll period, jittered by ±10% (0: no poll).
	Interval time.Duration
	// Source labels what this daemon applies and limits its pruning to
	// that (see render.LabelSource).
	Source  string
	Applier *kube.Applier
	Redis   *reconcile.Redis
	// Events, when set, records a Kubernetes Event on a cluster's
	// StatefulSet whenever its report changes.
	Events  EventSink
	Metrics *Metrics
	Log     *slog.Logger
	// Statuses, when set, receives the commit status of each applied
	// revision per cluster (success once it converged, failure with the
	// reason); StatusURL links the cluster's report.
	Statuses  forge.Provider
	StatusURL func(cluster string) string

	// SecretPoll is how often auth Secrets are checked for a change
	// (default DefaultSecretPoll).
	SecretPoll time.Duration

	once     sync.Once
	trigger  *Trigger
	scanWake *Trigger
	// retryWake fires when reports whose push failed are due again.
	retryWake *Trigger
	retries   int
	unpushed  []report.Report
	unpushRev string
	// A cluster left unsettled by a pass is scanned again after a backoff.
	requeued map[string]bool
	attempts map[string]int

	mu            sync.Mutex
	pending       map[string]bool // clusters whose scheduled scan is due
	state         State
	clusters      []*spec.RedisCluster
	published     map[string][]byte // report path -> content last pushed
	statusesSet   map[string]string // revision+cluster -> state+description last set
	publishedOnce bool
	schedules     Schedules
}

// EventSink records an Event on a cluster's StatefulSet.
type EventSink interface {
	Event(ctx context.Context, namespace, name string, warning bool, reason, message string)
}

// State is what /healthz tells about the loop.
type State struct {
	Revision string    `json:"revision,omitempty"`
	Head     string    `json:"head,omitempty"`
	Loaded   bool      `json:"loaded"`
	LastSync time.Time `json:"lastSync,omitzero"`
	LastErr  string    `json:"lastError,omitempty"`
	Clusters int       `json:"clusters"`
}

func (d *Daemon) init() {
	d.once.Do(func() {
		d.trigger, d.scanWake, d.retryWake = NewTrigger(), NewTrigger(), NewTrigger()
		d.pending = map[string]bool{}
		d.published = map[string][]byte{}
		d.requeued, d.attempts = map[string]bool{}, map[string]int{}
		if d.SpecPath == "" {
			d.SpecPath = spec.DefaultPath
		}
		if d.StatusPath == "" {
			d.StatusPath = "status"
		}
		if d.Log == nil {
			d.Log = slog.Default()
		}
		if d.Metrics == nil {
			d.Metrics = NewMetrics()
		}
		d.schedules.OnDue = d.due
	})
}

// Kick asks for a Git sync (a webhook, a person). Bursts coalesce into one.
func (d *Daemon) Kick() {
	d.init()
	d.trigger.Fire()
}

// due queues a cluster's scheduled scan; the cron goroutine never waits.
func (d *Daemon) due(cluster string) {
	d.mu.Lock()
	d.pending[cluster] = true
	d.mu.Unlock()
	d.scanWake.Fire()
}

// Status is a copy of the loop's state.
func (d *Daemon) Status() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// Run syncs and reconciles until ctx ends (the Lease was lost: stop at
// once) or stop closes (SIGTERM: the step under way finishes, its report
// is pushed, then Run returns).
func (d *Daemon) Run(ctx context.Context, stop <-chan struct{}) error {
	d.init()
	if d.Redis != nil {
		d.Redis.Stop = stop
	}
	schedCtx, cancelSched := context.WithCancel(ctx)
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); d.schedules.Start(schedCtx) }()
	defer func() { cancelSched(); <-schedDone }()
	if d.Redis != nil && d.Redis.Client != nil {
		poll := d.SecretPoll
		if poll <= 0 {
			poll = DefaultSecretPoll
		}
		secretsDone := make(chan struct{})
		go func() { defer close(secretsDone); d.watchSecrets(schedCtx, d.Redis.Client, poll) }()
		defer func() { cancelSched(); <-secretsDone }()
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	var poll <-chan time.Time
	resetPoll := func() {
		if d.Interval > 0 {
			poll = time.After(Jitter(d.Interval, 0.1, rng))
		}
	}
	d.sync(ctx)
	resetPoll()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return nil
		default:
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return nil
		case <-d.trigger.C():
			d.sync(ctx)
			resetPoll()
		case <-poll:
			d.sync(ctx)
			resetPoll()
		case <-d.scanWake.C():
			d.scanDue(ctx)
		case <-d.retryWake.C():
			d.mu.Lock()
			reports, rev := d.unpushed, d.unpushRev
			d.mu.Unlock()
			if reports != nil {
				d.publish(ctx, rev, reports)
			}
		}
	}
}

// sync fetches the repo; when the specs changed (or on the first sync) it
// reconciles every cluster and prunes the ones Git no longer declares.
// Nothing is re-read or re-applied when the specs did not move.
func (d *Daemon) sync(ctx context.Context) {
	snap, err := d.Git.Sync(ctx)
	d.mu.Lock()
	d.state.LastSync = time.Now()
	loaded := d.state.Loaded
	d.mu.Unlock()
	if err != nil {
		d.Metrics.GitErrors.WithLabelValues("fetch").Inc()
		d.Log.Error("git fetch failed; the last good revision stays in force", "err", err)
		d.setErr(err)
		return
	}
	if !snap.Changed && loaded {
		d.mu.Lock()
		d.state.Head, d.state.LastErr = snap.Head, ""
		d.mu.Unlock()
		return
	}
	clusters, loadErrs, err := d.load(snap)
	if err != nil {
		d.Log.Error("specs not applied; the last good revision stays in force", "revision", snap.Revision, "err", err)
		d.setErr(err)
		return
	}
	for _, e := range loadErrs {
		d.Log.Error("invalid spec", "revision", snap.Revision, "file", e.File, "line", e.Line, "column", e.Column, "cluster", e.Cluster, "err", e.Message)
	}
	d.Log.Info("specs changed", "revision", snap.Revision, "head", snap.Head, "clusters", len(clusters), "errors", len(loadErrs))
	d.mu.Lock()
	d.clusters = clusters
	d.state = State{Revision: snap.Revision, Head: snap.Head, Loaded: true, LastSync: d.state.LastSync, Clusters: len(clusters)}
	d.mu.Unlock()
	d.Metrics.Revision.Reset()
	d.Metrics.Revision.WithLabelValues(snap.Revision).Set(1)
	d.schedules.Update(clusters)
	d.reconcile(ctx, "git", snap.Revision, clusters, loadErrs, true)
}

// scanDue runs every scheduled scan that came due: a full drift scan of
// that cluster at the revision in force, even when Git has not moved.
func (d *Daemon) scanDue(ctx context.Context) {
	d.mu.Lock()
	var due []*spec.RedisCluster
	for _, c := range d.clusters {
		if d.pending[c.Key()] {
			due = append(due, c)
		}
	}
	clear(d.pending)
	rev := d.state.Revision
	d.mu.Unlock()
	for _, c := range due {
		d.Log.Info("scheduled scan", "cluster", c.Key(), "schedule", c.Spec.Reconcile.Schedule)
		d.reconcile(ctx, "schedule", rev, []*spec.RedisCluster{c}, nil, false)
	}
}

// ScanNow runs the scan of one cluster as its schedule would (tests, and
// people asking through the API).
func (d *Daemon) ScanNow(cluster string) { d.due(cluster) }

// load reads the specs of a snapshot. Errors in spec files come back as
// loadErrs (their clusters get reports, the others go on); a spec
// directory that is missing or unreadable is an error, and nothing is
// applied or pruned: a wrong --path must never look like "every cluster was
// deleted".
func (d *Daemon) load(snap gitsource.Snapshot) ([]*spec.RedisCluster, spec.ErrorList, error) {
	dir := filepath.Join(snap.Dir, filepath.FromSlash(d.SpecPath))
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return nil, nil, fmt.Errorf("spec directory %s/ not found at %s (to remove every cluster, keep the directory and delete the specs in it)", d.SpecPath, short(snap.Revision))
	}
	clusters, errs := spec.Load(dir)
	for i := range errs {
		// Name files as they are in the repo, not in the state dir.
		if rel, err := filepath.Rel(snap.Dir, errs[i].File); err == nil && !strings.HasPrefix(rel, "..") {
			errs[i].File = filepath.ToSlash(rel)
		}
	}
	if errors.As(errs, new(*fs.PathError)) {
		return nil, nil, fmt.Errorf("read specs at %s: %w", short(snap.Revision), errs)
	}
	return clusters, errs, nil
}

func (d *Daemon) setErr(err error) {
	d.mu.Lock()
	d.state.LastErr = err.Error()
	d.mu.Unlock()
}

// reconcile runs one pass and publishes its reports.
func (d *Daemon) reconcile(ctx context.Context, trigger, rev string, clusters []*spec.RedisCluster, loadErrs spec.ErrorList, prune bool) {
	pass := reconcile.Pass{Applier: d.Applier, Redis: d.Redis, Revision: rev, Prune: prune, Source: d.Source, Log: d.Log}
	res := pass.Run(ctx, clusters, loadErrs)
	for _, c := range res.Clusters {
		d.Metrics.ReconcileDuration.WithLabelValues(c.Cluster, trigger).Observe(c.Duration.Seconds())
		if err := c.Err(); err != nil {
			d.Log.Error("reconcile failed", "cluster", c.Cluster, "trigger", trigger, "err", err)
		}
	}
	for _, r := range res.Reports {
		d.requeue(r)
		d.Metrics.Reconciles.WithLabelValues(r.Cluster, result(r)).Inc()
		d.Metrics.Drift.WithLabelValues(r.Cluster).Set(float64(len(r.Drift)))
		d.Log.Info("reconciled", "cluster", r.Cluster, "trigger", trigger, "revision", short(rev), "verdict", r.Verdict(),
			"actions", len(r.Actions), "drift", len(r.Drift))
		if r.Mode == report.ModeRemoved {
			d.Metrics.Drift.DeleteLabelValues(r.Cluster)
		}
	}
	if ctx.Err() != nil {
		// The Lease was lost: another daemon acts now, and two writers is
		// one too many. (SIGTERM closes stop, not ctx: that pass ends
		// before its next step and its reports are still pushed.)
		return
	}
	d.publish(ctx, rev, res.Reports)
	d.setApplyStatuses(ctx, rev, res.Reports)
}

// Requeue backoff: a cluster that a pass left unsettled (it acted, pods
// are missing, drift remains) is scanned again after 5 s, then 10 s, ...
// up to 5 min, until a pass finds it Ready. One whose spec is invalid
// waits for Git.
const (
	requeueFirst = 5 * time.Second
	requeueMax   = 5 * time.Minute
)

func (d *Daemon) requeue(r report.Report) {
	d.mu.Lock()
	defer d.mu.Unlock()
	settled := r.Condition(report.Ready).Status == report.True || r.Mode == report.ModeRemoved ||
		r.Condition(report.Stalled).Reason == report.ReasonSpecInvalid
	if settled {
		delete(d.attempts, r.Cluster)
		return
	}
	if d.requeued[r.Cluster] {
		return
	}
	wait := min(requeueFirst<<min(d.attempts[r.Cluster], 10), requeueMax)
	d.attempts[r.Cluster]++
	d.requeued[r.Cluster] = true
	key := r.Cluster
	time.AfterFunc(wait, func() {
		d.mu.Lock()
		delete(d.requeued, key)
		d.mu.Unlock()
		d.due(key)
	})
}

// publish commits the reports whose content changed, in one commit, and
// records an Event for each of those clusters.
func (d *Daemon) publish(ctx context.Context, rev string, reports []report.Report) {
	// Reports still waiting from a failed push go along, unless this pass
	// has a newer one for the same cluster.
	d.mu.Lock()
	newer := map[string]bool{}
	for _, r := range reports {
		newer[r.Cluster] = true
	}
	for _, r := range d.unpushed {
		if !newer[r.Cluster] {
			reports = append(reports, r)
		}
	}
	d.mu.Unlock()
	files := map[string][]byte{}
	var changed []report.Report
	for _, r := range reports {
		y, err := r.YAML()
		if err != nil {
			d.Log.Error("report", "cluster", r.Cluster, "err", err)
			continue
		}
		base := path.Join(d.StatusPath, r.Cluster)
		yPath, mdPath := base+".yaml", base+".md"
		d.mu.Lock()
		same := !report.Changed(d.published[yPath], y)
		d.mu.Unlock()
		if same {
			continue
		}
		files[yPath], files[mdPath] = y, r.Markdown()
		changed = append(changed, r)
	}
	if len(changed) == 0 {
		return
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].Cluster < changed[j].Cluster })
	var msg strings.Builder
	if len(changed) == 1 {
		fmt.Fprintf(&msg, "status: %s at %s\n\n", changed[0].Cluster, short(rev))
	} else {
		fmt.Fprintf(&msg, "status: %d clusters at %s\n\n", len(changed), short(rev))
	}
	for _, r := range changed {
		fmt.Fprintf(&msg, "%s: %s\n", r.Cluster, r.Verdict())
	}
	hash, err := d.Git.Push(ctx, gitsource.Commit{Branch: d.StatusBranch, Files: files, Message: msg.String(),
		Author: object.Signature{Name: d.AuthorName, Email: d.AuthorEmail}})
	if err != nil {
		// Try again on a backoff, without waiting for the next pass; a
		// newer pass replaces what is waiting.
		d.Metrics.GitErrors.WithLabelValues("push").Inc()
		d.mu.Lock()
		d.unpushed, d.unpushRev = reports, rev
		wait := min(time.Second<<min(d.retries, 6), time.Minute)
		d.retries++
		d.mu.Unlock()
		d.Log.Error("status push failed; trying again", "err", err, "in", wait)
		time.AfterFunc(wait, d.retryWake.Fire)
		return
	}
	if hash != "" {
		d.Metrics.Writes.WithLabelValues("git").Inc()
		d.Log.Info("status committed", "commit", short(hash), "clusters", len(changed))
	}
	d.mu.Lock()
	d.unpushed, d.retries = nil, 0
	for p, data := range files {
		d.published[p] = data
	}
	// After a restart every report is new to this process; when the status
	// branch already held them all (nothing to commit), nothing changed
	// and no Event is due.
	restarted := !d.publishedOnce
	d.publishedOnce = true
	d.mu.Unlock()
	if d.Events == nil || (restarted && hash == "") {
		return
	}
	for _, r := range changed {
		ns, name, _ := strings.Cut(r.Cluster, "/")
		ready := r.Condition(report.Ready)
		warning := ready.Status != report.True && r.Mode != report.ModeRemoved
		if r.Mode == report.ModeRemoved {
			continue // its StatefulSet is gone
		}
		d.Events.Event(ctx, ns, name, warning, ready.Reason, r.Verdict())
	}
}

// result is the reconcile counter's label: the state the report ends in.
func result(r report.Report) string {
	switch {
	case r.Mode == report.ModeRemoved:
		return "removed"
	case r.Condition(report.Stalled).Status == report.True:
		return "stalled"
	case r.Condition(report.Degraded).Status == report.True:
		return "degraded"
	case r.Condition(report.Progressing).Status == report.True:
		return "progressing"
	case r.Condition(report.Ready).Status == report.True:
		return "ready"
	}
	return "not-ready"
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
