package daemon

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/redis-gitops/redis-gitops/daemon/gitsource"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
)

// pendingReport is a report waiting for its status commit: the revision
// its pass applied and when that pass started.
type pendingReport struct {
	report  report.Report
	rev     string
	started time.Time
}

// offer hands a report to the publisher. A report replaces the one
// waiting for the same cluster, unless that one came from a pass that
// started later.
func (d *Daemon) offer(p pendingReport) {
	d.mu.Lock()
	key := p.report.Cluster
	if d.newest[key].After(p.started) {
		d.mu.Unlock()
		return
	}
	d.newest[key] = p.started
	d.toPublish[key] = p
	d.mu.Unlock()
	d.pubWake.Fire()
}

// publishLoop commits the waiting reports: PublishDelay after the first
// one comes, so that passes ending close together share a commit; again
// on a backoff when a push fails. Once drained closes (the workers are
// done), it pushes what waits, a few tries at most, and returns; when ctx
// ends (the Lease was lost) it returns at once.
func (d *Daemon) publishLoop(ctx context.Context, drained <-chan struct{}) {
	failures := 0
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-drained:
			for try := 0; try < 3; try++ {
				if d.flush(ctx) == nil {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
			d.Log.Error("reports not pushed before the end", "clusters", d.waitingReports())
			return
		case <-d.pubWake.C():
			select {
			case <-ctx.Done():
				return
			case <-drained:
			case <-time.After(d.PublishDelay):
			}
		case <-retry:
		}
		if err := d.flush(ctx); err != nil {
			failures++
			wait := min(time.Second<<min(failures-1, 6), time.Minute)
			d.Log.Error("status push failed; trying again", "err", err, "in", wait)
			retry = time.After(wait)
			continue
		}
		failures, retry = 0, nil
	}
}

func (d *Daemon) waitingReports() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.toPublish)
}

// flush publishes every waiting report; on failure those not replaced
// meanwhile by a newer one wait again.
func (d *Daemon) flush(ctx context.Context) error {
	d.mu.Lock()
	batch := d.toPublish
	d.toPublish = map[string]pendingReport{}
	d.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := d.publish(ctx, batch)
	if err != nil {
		d.mu.Lock()
		for k, p := range batch {
			if _, ok := d.toPublish[k]; !ok {
				d.toPublish[k] = p
			}
		}
		d.mu.Unlock()
	}
	return err
}

// publish commits the reports whose content changed, in one commit,
// records an Event for each of those clusters, and sets the commit status
// of each applied revision.
func (d *Daemon) publish(ctx context.Context, batch map[string]pendingReport) error {
	all := make([]pendingReport, 0, len(batch))
	for _, p := range batch {
		all = append(all, p)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].report.Cluster < all[j].report.Cluster })
	defer func() {
		for _, p := range all {
			d.setApplyStatuses(ctx, p.rev, []report.Report{p.report})
		}
	}()

	files := map[string][]byte{}
	var changed []pendingReport
	for _, p := range all {
		r := p.report
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
		changed = append(changed, p)
	}
	if len(changed) == 0 {
		return nil
	}
	hash, err := d.Git.Push(ctx, gitsource.Commit{Branch: d.StatusBranch, Files: files, Message: commitMessage(changed),
		Author: object.Signature{Name: d.AuthorName, Email: d.AuthorEmail}})
	if err != nil {
		d.Metrics.GitErrors.WithLabelValues("push").Inc()
		return fmt.Errorf("push status of %d clusters: %w", len(changed), err)
	}
	if hash != "" {
		d.Metrics.Writes.WithLabelValues("git").Inc()
		d.Log.Info("status committed", "commit", short(hash), "clusters", len(changed))
	}
	d.mu.Lock()
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
		return nil
	}
	for _, p := range changed {
		r := p.report
		if r.Mode == report.ModeRemoved {
			continue // its StatefulSet is gone
		}
		ns, name, _ := strings.Cut(r.Cluster, "/")
		ready := r.Condition(report.Ready)
		d.Events.Event(ctx, ns, name, ready.Status != report.True, ready.Reason, r.Verdict())
	}
	return nil
}

// commitMessage names the clusters of a status commit with their
// verdicts; the revision too when they all have the same.
func commitMessage(changed []pendingReport) string {
	var msg strings.Builder
	rev := changed[0].rev
	for _, p := range changed[1:] {
		if p.rev != rev {
			rev = ""
		}
	}
	switch {
	case len(changed) == 1:
		fmt.Fprintf(&msg, "status: %s at %s\n\n", changed[0].report.Cluster, short(rev))
	case rev != "":
		fmt.Fprintf(&msg, "status: %d clusters at %s\n\n", len(changed), short(rev))
	default:
		fmt.Fprintf(&msg, "status: %d clusters\n\n", len(changed))
	}
	for _, p := range changed {
		fmt.Fprintf(&msg, "%s: %s", p.report.Cluster, p.report.Verdict())
		if rev == "" {
			fmt.Fprintf(&msg, " (at %s)", short(p.rev))
		}
		msg.WriteString("\n")
	}
	return msg.String()
}
