package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

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
// webhooks and queues a pass of each cluster whose spec changed (and the
// pruning of those Git no longer declares); a bounded pool of workers runs
// the passes, one cluster at a time each, while schedules, Secrets, the
// resync and retries queue more. Reports of passes that end close together
// are committed back to Git in one commit.
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
	// Concurrent is how many clusters are reconciled at once (default
	// DefaultConcurrent).
	Concurrent int
	// Resync: every cluster is scanned at least this often, whatever else
	// triggers it (default DefaultResync; negative: never).
	Resync time.Duration
	// PublishDelay: the reports of passes that end within it of each other
	// go into one status commit (default DefaultPublishDelay).
	PublishDelay time.Duration
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

	// DriftPRs, when set, proposes lasting drift back to Git as a pull
	// request per cluster.
	DriftPRs *DriftPullRequests

	// SecretPoll is how often auth Secrets are checked for a change
	// (default DefaultSecretPoll).
	SecretPoll time.Duration

	once    sync.Once
	trigger *Trigger
	queue   *Queue
	resync  Resync
	// pubWake fires when a report waits to be published.
	pubWake *Trigger
	// A cluster left unsettled by a pass is scanned again after a backoff.
	requeued map[string]bool
	attempts map[string]int

	mu       sync.Mutex
	state    State
	clusters []*spec.RedisCluster
	// The revision in force, per cluster: its spec, or its spec errors;
	// pruneOK when every spec loaded (nothing is pruned otherwise).
	byKey    map[string]*spec.RedisCluster
	specErrs map[string]spec.ErrorList
	pruneOK  bool
	// fps are the clusters' fingerprints at the revision in force; revOf
	// is the revision at which each one's fingerprint last changed: what
	// its passes report as observed, so that a push to another cluster
	// does not make its report new.
	fps   map[string]string
	revOf map[string]string
	// specDir is the checkout the clusters were loaded from, to name
	// their spec files by repository path.
	specDir string
	// toPublish are the reports waiting for the next status commit, by
	// cluster; newest is the start of the pass of the newest report taken
	// for each cluster (an older one never replaces it).
	toPublish     map[string]pendingReport
	newest        map[string]time.Time
	published     map[string][]byte // report path -> content last pushed
	statusesSet   map[string]string // revision+cluster -> state+description last set
	publishedOnce bool
	schedules     Schedules
}

// Defaults of the fleet's knobs.
const (
	// DefaultConcurrent suits the 2 cores a daemon is usually given: a
	// pass mostly waits on the API server and Redis, so a few run on a
	// core at once.
	DefaultConcurrent = 4
	// DefaultPublishDelay is how long a report waits for others to join
	// its status commit.
	DefaultPublishDelay = time.Second
)

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
	// Running and Queued count the clusters in a pass and those waiting
	// for one.
	Running int `json:"running"`
	Queued  int `json:"queued"`
}

func (d *Daemon) init() {
	d.once.Do(func() {
		d.trigger, d.pubWake = NewTrigger(), NewTrigger()
		d.queue = NewQueue(nil)
		d.published = map[string][]byte{}
		d.requeued, d.attempts = map[string]bool{}, map[string]int{}
		d.byKey, d.specErrs = map[string]*spec.RedisCluster{}, map[string]spec.ErrorList{}
		d.fps, d.revOf = map[string]string{}, map[string]string{}
		d.toPublish, d.newest = map[string]pendingReport{}, map[string]time.Time{}
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
		if d.Concurrent <= 0 {
			d.Concurrent = DefaultConcurrent
		}
		if d.Resync == 0 {
			d.Resync = DefaultResync
		}
		if d.PublishDelay <= 0 {
			d.PublishDelay = DefaultPublishDelay
		}
		d.Metrics.watchQueue(d.queue, d.Concurrent)
		d.schedules.OnDue = func(cluster string) { d.due(cluster, "schedule") }
		d.resync.Period, d.resync.OnDue = d.Resync, func(cluster string) { d.due(cluster, "resync") }
	})
}

// Kick asks for a Git sync (a webhook, a person). Bursts coalesce into one.
func (d *Daemon) Kick() {
	d.init()
	d.trigger.Fire()
}

// due queues a pass of one cluster; it never waits.
func (d *Daemon) due(cluster, trigger string) {
	d.queue.Add(cluster, trigger)
}

// Status is a copy of the loop's state.
func (d *Daemon) Status() State {
	d.init()
	d.mu.Lock()
	s := d.state
	d.mu.Unlock()
	s.Running, s.Queued = d.queue.Running(), d.queue.Depth()
	return s
}

// Run syncs and reconciles until ctx ends (the Lease was lost: stop at
// once, push nothing) or stop closes (SIGTERM: each pass under way
// finishes its step, the reports waiting are pushed, then Run returns).
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

	// The workers, then the publisher, end after the loop: the passes
	// under way finish (Redis.Stop ends them after their step), and
	// their reports are pushed.
	var workers sync.WaitGroup
	for range d.Concurrent {
		workers.Add(1)
		go func() { defer workers.Done(); d.work(ctx) }()
	}
	drained, pubDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(pubDone); d.publishLoop(ctx, drained) }()
	defer func() {
		d.queue.ShutDown()
		workers.Wait()
		close(drained)
		<-pubDone
		d.resync.Stop()
	}()

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
		}
	}
}

// sync fetches the repo; when the specs changed (or on the first sync) it
// queues a pass of every cluster whose spec or rendered objects changed,
// and the pruning of every cluster Git no longer declares. Nothing is
// re-read or re-applied when the specs did not move.
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
	fps := fingerprints(clusters, loadErrs)
	byKey, specErrs, inGit := map[string]*spec.RedisCluster{}, map[string]spec.ErrorList{}, map[string]bool{}
	for _, c := range clusters {
		byKey[c.Key()], inGit[c.Key()] = c, true
	}
	for _, e := range loadErrs {
		if e.Cluster != "" {
			specErrs[e.Cluster] = append(specErrs[e.Cluster], e)
			inGit[e.Cluster] = true
		}
	}
	d.mu.Lock()
	changed := changedKeys(d.fps, fps)
	for _, k := range changed {
		d.revOf[k] = snap.Revision
	}
	d.fps, d.byKey, d.specErrs, d.pruneOK = fps, byKey, specErrs, len(loadErrs) == 0
	d.clusters, d.specDir = clusters, snap.Dir
	d.state = State{Revision: snap.Revision, Head: snap.Head, Loaded: true, LastSync: d.state.LastSync, Clusters: len(clusters)}
	d.mu.Unlock()
	d.Log.Info("specs changed", "revision", snap.Revision, "head", snap.Head, "clusters", len(clusters), "errors", len(loadErrs),
		"changed", len(changed))
	d.Metrics.Revision.Reset()
	d.Metrics.Revision.WithLabelValues(snap.Revision).Set(1)
	d.schedules.Update(clusters)
	d.resync.Keep(inGit)
	for _, k := range changed {
		if inGit[k] {
			d.due(k, "git")
		} else {
			d.due(k, "prune")
		}
	}
	// Pruning looks at Kubernetes on every revision, not only at what
	// left Git since the last one: objects a restart or a failed prune
	// left behind go too.
	if len(loadErrs) == 0 && d.Applier != nil {
		removed, err := reconcile.Removed(ctx, d.Applier, d.Source, clusters)
		if err != nil {
			d.Log.Error("list the clusters to prune; trying at the next revision", "err", err)
		}
		for _, ref := range removed {
			d.due(ref.Namespace+"/"+ref.Name, "prune")
		}
	}
}

// ScanNow runs the scan of one cluster as its schedule would (tests, and
// people asking through the API).
func (d *Daemon) ScanNow(cluster string) {
	d.init()
	d.due(cluster, "schedule")
}

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
		d.due(key, "retry")
	})
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
