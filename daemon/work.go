package daemon

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/spec"
)

// work is one worker: it runs the passes the queue hands it until the
// queue shuts down.
func (d *Daemon) work(ctx context.Context) {
	for {
		w, ok := d.queue.Get(ctx.Done())
		if !ok {
			return
		}
		d.pass(ctx, w)
		d.queue.Done(w.Cluster)
	}
}

// pass runs one cluster's pass at the revision in force: its reconcile
// when Git declares it, its spec errors' report when its spec does not
// load, its pruning when Git no longer declares it (and every spec
// loaded). The report goes to the publisher.
func (d *Daemon) pass(ctx context.Context, w Work) {
	d.mu.Lock()
	c, errs, pruneOK := d.byKey[w.Cluster], d.specErrs[w.Cluster], d.pruneOK
	rev, specDir := d.revOf[w.Cluster], d.specDir
	if rev == "" {
		rev = d.state.Revision
	}
	d.mu.Unlock()
	ctx = withCluster(ctx, w.Cluster)
	trigger := strings.Join(w.Triggers, ",")
	started := time.Now()
	waited := started.Sub(w.Since)
	d.Metrics.QueueWait.WithLabelValues(w.Cluster).Observe(waited.Seconds())

	var r report.Report
	switch {
	case c != nil:
		p := reconcile.Pass{Applier: d.Applier, Redis: d.Redis, Revision: rev, Source: d.Source, Log: d.Log}
		res := p.Run(ctx, []*spec.RedisCluster{c}, nil)
		oc := res.Clusters[0]
		d.Metrics.ReconcileDuration.WithLabelValues(w.Cluster, trigger).Observe(oc.Duration.Seconds())
		if err := oc.Err(); err != nil {
			d.Log.Error("reconcile failed", "cluster", w.Cluster, "trigger", trigger, "err", err)
		}
		r = oc.Report
		d.resync.Passed(w.Cluster)
	case errs != nil:
		r = reconcile.SpecErrorReport(w.Cluster, rev, errs)
	case pruneOK && slices.Contains(w.Triggers, "prune"):
		ns, name, _ := strings.Cut(w.Cluster, "/")
		p := reconcile.Pass{Applier: d.Applier, Revision: rev, Source: d.Source, Log: d.Log}
		r = p.PruneRemoved(ctx, kube.ClusterRef{Namespace: ns, Name: name})
		d.Metrics.ReconcileDuration.WithLabelValues(w.Cluster, trigger).Observe(time.Since(started).Seconds())
	default:
		return // not in Git, and no pruning asked or allowed
	}
	d.requeue(r)
	d.Metrics.Reconciles.WithLabelValues(r.Cluster, result(r)).Inc()
	d.Metrics.Drift.WithLabelValues(r.Cluster).Set(float64(len(r.Drift)))
	if r.Mode == report.ModeRemoved {
		d.Metrics.Drift.DeleteLabelValues(r.Cluster)
	}
	d.Log.Info("reconciled", "cluster", r.Cluster, "trigger", trigger, "revision", short(rev), "verdict", r.Verdict(),
		"actions", len(r.Actions), "drift", len(r.Drift), "waited", waited.Round(time.Millisecond).String(),
		"took", time.Since(started).Round(time.Millisecond).String())
	if ctx.Err() != nil {
		// The Lease was lost: another daemon acts now, and two writers is
		// one too many. (SIGTERM closes stop, not ctx: the pass ends after
		// its step and its report is still pushed.)
		return
	}
	d.offer(pendingReport{report: r, rev: rev, started: started})
	if r.Mode == report.ModeRemoved && d.DriftPRs != nil {
		if err := d.DriftPRs.Removed(ctx, w.Cluster); err != nil {
			d.Log.Error("drift pull request", "cluster", w.Cluster, "err", err)
		}
	}
	if c != nil && d.DriftPRs != nil {
		file, err := filepath.Rel(specDir, c.Source.File)
		if err == nil {
			err = d.DriftPRs.Scanned(ctx, c, filepath.ToSlash(file), r, started)
		}
		if err != nil {
			d.Log.Error("drift pull request", "cluster", w.Cluster, "err", err)
		}
	}
}
