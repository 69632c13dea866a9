package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/redis-gitops/redis-gitops/daemon/driftpr"
	"github.com/redis-gitops/redis-gitops/daemon/forge"
	"github.com/redis-gitops/redis-gitops/daemon/gitsource"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Proposer pushes a proposed change to a branch of the daemon's own
// (gitsource.Source).
type Proposer interface {
	Propose(ctx context.Context, p gitsource.Proposal) (string, error)
}

var _ Proposer = (*gitsource.Source)(nil)

// Drift pull request scopes (--drift-pull-requests).
const (
	DriftPRsOff   = "off"    // none
	DriftPRsOptIn = "opt-in" // clusters with spec.reconcile.driftPullRequests
	DriftPRsAll   = "all"    // every cluster of the repo
)

// DriftPullRequests proposes each cluster's lasting drift back to Git as
// one pull request, from the branch driftpr.Branch(cluster), kept current
// and closed with the reason when the drift is gone. driftpr decides; this
// acts. It remembers each cluster's previous scan in memory; the pull
// request itself is found again on the forge by its branch and the marker
// in its description, so a restarted daemon picks it up.
type DriftPullRequests struct {
	Git   Proposer
	Forge forge.PullRequestProvider
	// Base is the watched branch, which pull requests go into.
	Base string
	// All proposes for every cluster, not only those whose spec opts in.
	All    bool
	Author object.Signature
	Log    *slog.Logger
	// Planned, when set, is told of each pull request opened or updated,
	// so that it gets the ordinary pull-request plan without waiting for
	// a webhook.
	Planned func(ev Event)

	mu       sync.Mutex
	clusters map[string]*driftMemory
}

// driftMemory is what the daemon remembers of one cluster between scans.
type driftMemory struct {
	previous map[string]bool      // drift keys of the last complete scan; nil before one
	since    map[string]time.Time // when each current drift key was first seen
	// noOpen: the forge said no drift pull request is open, and the daemon
	// opened none since: nothing to close, no need to ask again.
	noOpen bool
}

func (p *DriftPullRequests) memory(cluster string) *driftMemory {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clusters == nil {
		p.clusters = map[string]*driftMemory{}
	}
	m := p.clusters[cluster]
	if m == nil {
		m = &driftMemory{since: map[string]time.Time{}}
		p.clusters[cluster] = m
	}
	return m
}

// Scanned takes the report of one pass of cluster c, whose spec is file in
// the repository, and acts on driftpr's decision. Passes of one cluster
// never run at once, so neither do its calls.
func (p *DriftPullRequests) Scanned(ctx context.Context, c *spec.RedisCluster, file string, r report.Report, now time.Time) error {
	key := c.Key()
	m := p.memory(key)
	complete := len(r.Errors) == 0 && (r.Mode == report.ModeApply || r.Mode == report.ModeReport)
	var lasting []report.DriftEntry
	if complete {
		lasting = driftpr.Lasting(m.previous, r.Drift)
		m.previous = driftpr.Keys(r.Drift)
		for k := range m.since {
			if !m.previous[k] {
				delete(m.since, k)
			}
		}
		for k := range m.previous {
			if _, ok := m.since[k]; !ok {
				m.since[k] = now
			}
		}
	}
	enabled := p.All || c.Spec.Reconcile.DriftPullRequests
	proposal := driftpr.Build(c, file, r.Topology.Answering, lasting)
	if !complete || (m.noOpen && (!enabled || len(proposal.Changes) == 0)) {
		return nil // nothing open, nothing to open: no need to ask the forge
	}

	branch := driftpr.Branch(key)
	latest, err := p.latest(ctx, key, branch)
	if err != nil {
		return err
	}
	in := driftpr.Input{Enabled: enabled, Mode: c.Spec.Reconcile.Drift, Complete: complete, Current: r.Drift, Lasting: lasting, Proposal: proposal}
	var since time.Time
	if latest != nil {
		in.Latest = &driftpr.Existing{Number: latest.Number, Open: latest.Open, Merged: latest.Merged}
		_, in.Latest.Fingerprint, since = driftpr.ParseBody(key, latest.Body)
	}
	dec := driftpr.Decide(in)
	log := p.Log.With("cluster", key, "branch", branch)
	switch dec.Action {
	case driftpr.Nothing:
		m.noOpen = latest == nil || !latest.Open
		return nil
	case driftpr.Close:
		if _, err := p.Forge.CreateComment(ctx, latest.Number, driftpr.CloseComment(key, dec.Reason)); err != nil {
			return fmt.Errorf("drift pull request of %s: %w", key, err)
		}
		if err := p.Forge.ClosePullRequest(ctx, latest.Number); err != nil {
			return fmt.Errorf("drift pull request of %s: %w", key, err)
		}
		m.noOpen = true
		log.Info("drift pull request closed", "pr", latest.Number, "reason", dec.Reason)
		return nil
	}

	// Open or Update: the branch first, then the pull request. The drift
	// dates from its first scan, or from the open pull request's.
	if latest == nil || !latest.Open {
		since = time.Time{}
	}
	for _, d := range lasting {
		if t, ok := m.since[driftpr.Key(d)]; ok && (since.IsZero() || t.Before(since)) {
			since = t
		}
	}
	if since.IsZero() {
		since = now
	}
	edits := proposal.Edits()
	commit, err := p.Git.Propose(ctx, gitsource.Proposal{
		Branch: branch, File: file,
		Edit:    func(old []byte) ([]byte, error) { return spec.EditFile(old, key, edits) },
		Message: driftpr.CommitMessage(proposal), Trailer: driftpr.Trailer(key), Author: p.Author,
	})
	if errors.Is(err, gitsource.ErrNotOurs) {
		return fmt.Errorf("drift pull request of %s: branch %s has commits of someone else's; it is left alone: %w", key, branch, err)
	}
	if err != nil {
		return fmt.Errorf("drift pull request of %s: %w", key, err)
	}
	if commit == "" {
		// The watched branch already says it (a merge the daemon has not
		// applied yet): nothing to propose.
		log.Info("drift pull request: Git already says what the cluster runs", "file", file)
		return nil
	}
	title, body := driftpr.Title(proposal), driftpr.Body(proposal, c.Spec.Reconcile.Drift, since, plannedActions(r))
	number := 0
	if dec.Action == driftpr.Open {
		pr, err := p.Forge.CreatePullRequest(ctx, forge.PullRequest{Head: branch, Base: p.Base, Title: title, Body: body})
		if err != nil {
			return fmt.Errorf("drift pull request of %s: %w", key, err)
		}
		number = pr.Number
		log.Info("drift pull request opened", "pr", number, "commit", short(commit), "edits", len(edits), "listed", len(proposal.Unexpressed))
	} else {
		number = latest.Number
		if err := p.Forge.EditPullRequest(ctx, number, title, body); err != nil {
			return fmt.Errorf("drift pull request of %s: %w", key, err)
		}
		log.Info("drift pull request updated", "pr", number, "commit", short(commit), "edits", len(edits), "listed", len(proposal.Unexpressed))
	}
	m.noOpen = false
	if p.Planned != nil {
		p.Planned(Event{Kind: "pull_request", Action: "synchronize", PullRequest: number, Base: p.Base, After: commit})
	}
	return nil
}

// Removed closes the drift pull request of a cluster that left Git, if
// one is open (or may be: after a restart the daemon does not know).
func (p *DriftPullRequests) Removed(ctx context.Context, cluster string) error {
	m := p.memory(cluster)
	if m.noOpen {
		return nil
	}
	latest, err := p.latest(ctx, cluster, driftpr.Branch(cluster))
	if err != nil || latest == nil || !latest.Open {
		m.noOpen = err == nil
		return err
	}
	if _, err := p.Forge.CreateComment(ctx, latest.Number, driftpr.CloseComment(cluster, "The cluster left Git; its objects were pruned. There is nothing left to propose.")); err != nil {
		return fmt.Errorf("drift pull request of %s: %w", cluster, err)
	}
	if err := p.Forge.ClosePullRequest(ctx, latest.Number); err != nil {
		return fmt.Errorf("drift pull request of %s: %w", cluster, err)
	}
	m.noOpen = true
	p.Log.Info("drift pull request closed", "cluster", cluster, "pr", latest.Number, "reason", "the cluster left Git")
	return nil
}

// latest is the newest pull request of branch that is cluster's drift pull
// request (its description starts with the marker); nil for none.
func (p *DriftPullRequests) latest(ctx context.Context, cluster, branch string) (*forge.PullRequest, error) {
	prs, err := p.Forge.ListPullRequests(ctx, branch)
	if err != nil {
		return nil, fmt.Errorf("drift pull request of %s: %w", cluster, err)
	}
	for _, pr := range prs {
		if ours, _, _ := driftpr.ParseBody(cluster, pr.Body); ours && pr.Base == p.Base {
			return &pr, nil
		}
	}
	return nil, nil
}

// plannedActions are what a pass that writes nothing would do, from its
// report ("planned: ..."); none under drift: correct, whose pass acted.
func plannedActions(r report.Report) []string {
	var out []string
	for _, a := range r.Actions {
		if strings.HasPrefix(a, "planned: ") {
			out = append(out, a)
		}
	}
	return out
}
