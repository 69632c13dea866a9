package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/redis-gitops/redis-gitops/daemon/forge"
	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/reconcile/plan"
	"github.com/redis-gitops/redis-gitops/spec"
)

// RefReader reads the spec files of any reference of the watched repo.
type RefReader interface {
	SpecFilesAt(ctx context.Context, ref string) (string, map[string][]byte, error)
}

// PullRequests plans every pull request that changes cluster specs and
// reports the plan on it: one comment per pull request and cluster, edited
// in place on each push, and one commit status per cluster on the head
// commit (pending while planning, then success, or failure for an invalid
// spec or a plan that cannot go ahead). It writes nothing to Kubernetes or
// Redis: objects are compared by server-side dry runs.
type PullRequests struct {
	Git     RefReader
	Forge   forge.Provider
	Planner reconcile.Planner
	// BaseBranch is the branch pull requests are planned against when the
	// event does not say.
	BaseBranch string
	Log        *slog.Logger

	once    sync.Once
	wake    *Trigger
	mu      sync.Mutex
	pending map[int]Event
}

// Commit status contexts: PlanContext and applyContext are followed by
// the cluster's namespace/name.
const (
	PlanContext  = "redis-gitops/plan/"
	applyContext = "redis-gitops/apply/"
	SpecsContext = "redis-gitops/specs"
)

// PlanMarker finds a cluster's plan comment again across pushes.
func PlanMarker(cluster string) string { return "<!-- redis-gitops plan " + cluster + " -->" }

// SpecsMarker finds the invalid-specs comment again.
const SpecsMarker = "<!-- redis-gitops invalid specs -->"

func (p *PullRequests) init() {
	p.once.Do(func() {
		p.wake = NewTrigger()
		p.pending = map[int]Event{}
	})
}

// Enqueue takes a pull-request event: the latest event of a pull request
// replaces any still waiting. It never blocks.
func (p *PullRequests) Enqueue(ev Event) {
	switch ev.Action {
	case "opened", "reopened", "synchronize", "synchronized", "edited", "open", "reopen", "update":
	default:
		return
	}
	p.init()
	p.mu.Lock()
	p.pending[ev.PullRequest] = ev
	p.mu.Unlock()
	p.wake.Fire()
}

// Run plans pull requests as their events come, until ctx ends.
func (p *PullRequests) Run(ctx context.Context) {
	p.init()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake.C():
		}
		p.mu.Lock()
		batch := make([]Event, 0, len(p.pending))
		for _, ev := range p.pending {
			batch = append(batch, ev)
		}
		clear(p.pending)
		p.mu.Unlock()
		sort.Slice(batch, func(i, j int) bool { return batch[i].PullRequest < batch[j].PullRequest })
		for _, ev := range batch {
			if err := p.Plan(ctx, ev); err != nil {
				p.Log.Error("pull request plan", "pr", ev.PullRequest, "err", err)
			}
		}
	}
}

// Plan plans one pull request and reports it.
func (p *PullRequests) Plan(ctx context.Context, ev Event) error {
	headRef := fmt.Sprintf("refs/pull/%d/head", ev.PullRequest)
	sha, headFiles, err := p.Git.SpecFilesAt(ctx, headRef)
	if err != nil {
		return err
	}
	baseRef := ev.Base
	if baseRef == "" {
		baseRef = p.BaseBranch
	}
	_, baseFiles, err := p.Git.SpecFilesAt(ctx, baseRef)
	if err != nil {
		return err
	}
	base, _ := spec.LoadFiles(baseFiles)
	head, headErrs := spec.LoadFiles(headFiles)
	if base == nil {
		base = []*spec.RedisCluster{}
	}
	log := p.Log.With("pr", ev.PullRequest, "head", short(sha))

	// Pending first, for every cluster the change touches.
	for _, key := range touched(base, head) {
		p.setStatus(ctx, log, sha, forge.Status{Context: PlanContext + key, State: forge.Pending, Description: "planning"})
	}
	res := p.Planner.Plan(ctx, base, head, headErrs)
	log.Info("pull request planned", "clusters", len(res.Clusters), "specErrors", len(res.SpecErrors))

	// Invalid specs: one comment with every error, one failure status.
	if len(headErrs) > 0 {
		body := SpecsMarker + "\n" + plan.SpecErrorsMarkdown(res.SpecErrors)
		if _, err := forge.Upsert(ctx, p.Forge, ev.PullRequest, SpecsMarker, body); err != nil {
			log.Error("pull request comment failed; the errors were", "err", err, "specErrors", strings.Join(res.SpecErrors, "; "))
		}
		p.setStatus(ctx, log, sha, forge.Status{Context: SpecsContext, State: forge.Failure,
			Description: fmt.Sprintf("%d invalid spec error(s): %s", len(headErrs), res.SpecErrors[0])})
		for _, e := range headErrs {
			if e.Cluster != "" {
				p.setStatus(ctx, log, sha, forge.Status{Context: PlanContext + e.Cluster, State: forge.Failure, Description: "invalid spec: " + e.Message})
			}
		}
	} else if p.hadSpecErrors(ctx, ev.PullRequest) {
		body := SpecsMarker + "\n✅ Every spec is valid now.\n"
		if _, err := forge.Upsert(ctx, p.Forge, ev.PullRequest, SpecsMarker, body); err != nil {
			log.Error("pull request comment failed", "err", err)
		}
		p.setStatus(ctx, log, sha, forge.Status{Context: SpecsContext, State: forge.Success, Description: "every spec is valid"})
	}
	for _, c := range res.Clusters {
		body := PlanMarker(c.Cluster) + "\n" + c.Markdown() + fmt.Sprintf("\n<sub>planned at %s</sub>\n", short(sha))
		if _, err := forge.Upsert(ctx, p.Forge, ev.PullRequest, PlanMarker(c.Cluster), body); err != nil {
			log.Error("pull request comment failed; the plan was", "cluster", c.Cluster, "err", err, "plan", c.Markdown())
		}
		st := forge.Status{Context: PlanContext + c.Cluster, State: forge.Success, Description: c.Summary()}
		if c.Failed() {
			st.State = forge.Failure
		}
		p.setStatus(ctx, log, sha, st)
	}
	return nil
}

// hadSpecErrors: an earlier push of this pull request got the invalid-spec
// comment, which must now say the specs are valid.
func (p *PullRequests) hadSpecErrors(ctx context.Context, pr int) bool {
	comments, err := p.Forge.ListComments(ctx, pr)
	if err != nil {
		return false
	}
	for _, c := range comments {
		if strings.Contains(c.Body, SpecsMarker) {
			return true
		}
	}
	return false
}

func (p *PullRequests) setStatus(ctx context.Context, log *slog.Logger, sha string, s forge.Status) {
	if err := p.Forge.SetStatus(ctx, sha, s); err != nil {
		log.Error("commit status failed", "context", s.Context, "state", s.State, "description", s.Description, "err", err)
	}
}

// touched lists the clusters added, changed or removed between base and
// head.
func touched(base, head []*spec.RedisCluster) []string {
	before := map[string]*spec.RedisCluster{}
	for _, c := range base {
		before[c.Key()] = c
	}
	var out []string
	for _, c := range head {
		if old, ok := before[c.Key()]; !ok || !old.Same(c) {
			out = append(out, c.Key())
		}
		delete(before, c.Key())
	}
	for key := range before {
		out = append(out, key)
	}
	sort.Strings(out)
	return out
}
