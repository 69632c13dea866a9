package daemon

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis-gitops/redis-gitops/daemon/forge"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
)

// setApplyStatuses sets, on the revision a pass applied, one commit status
// per cluster: success once it is Ready, failure when the pass stalled,
// pending while it converges (a requeued or scheduled pass moves it on). A
// status already set is not sent again, and success is final: drift found
// later is the report's business, not the merged commit's.
func (d *Daemon) setApplyStatuses(ctx context.Context, rev string, reports []report.Report) {
	if d.Statuses == nil || rev == "" {
		return
	}
	for _, r := range reports {
		st := forge.Status{Context: applyContext + r.Cluster, State: forge.Pending, Description: r.Verdict()}
		switch {
		case r.Mode == report.ModeRemoved && r.Condition(report.Stalled).Status != report.True:
			st.State = forge.Success
		case r.Condition(report.Ready).Status == report.True:
			st.State = forge.Success
		case r.Condition(report.Stalled).Status == report.True:
			st.State = forge.Failure
		}
		if d.StatusURL != nil {
			st.TargetURL = d.StatusURL(r.Cluster)
		}
		key, val := rev+" "+r.Cluster, string(st.State)+" "+st.Description
		d.mu.Lock()
		if d.statusesSet == nil {
			d.statusesSet = map[string]string{}
		}
		prev := d.statusesSet[key]
		d.mu.Unlock()
		if prev == val || strings.HasPrefix(prev, string(forge.Success)+" ") {
			continue
		}
		if err := d.Statuses.SetStatus(ctx, rev, st); err != nil {
			d.Log.Error("commit status failed", "revision", short(rev), "cluster", r.Cluster, "state", st.State, "err", err)
			continue
		}
		d.Metrics.Writes.WithLabelValues("forge").Inc()
		d.mu.Lock()
		d.statusesSet[key] = val
		d.mu.Unlock()
	}
}

// newForge builds the configured forge's client, retried on rate limits
// and server errors.
func newForge(cfg Config) (forge.PullRequestProvider, error) {
	token, err := forge.TokenFromFileOrEnv(cfg.ForgeTokenFile, "REDIS_GITOPS_FORGE_TOKEN")
	if err != nil {
		return nil, fmt.Errorf("--forge-token-file: %w", err)
	}
	owner, name, _ := strings.Cut(cfg.ForgeRepo, "/")
	var p forge.PullRequestProvider
	switch cfg.Forge {
	case "github":
		p, err = forge.NewGitHub(cfg.ForgeURL, owner, name, token, nil)
	case "gitea":
		p, err = forge.NewGitea(cfg.ForgeURL, owner, name, token, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("--forge %s: %w", cfg.Forge, err)
	}
	return forge.WithRetryPullRequests(p, 5, 500*time.Millisecond), nil
}

// statusURL links a cluster's Markdown report on the forge's web UI.
func statusURL(cfg Config) func(cluster string) string {
	branch := cfg.StatusBranch
	if branch == "" {
		branch = cfg.Branch
	}
	web := strings.TrimSuffix(cfg.ForgeURL, "/")
	mid := "/src/branch/"
	if cfg.Forge == "github" {
		mid = "/blob/"
		switch {
		case web == "" || strings.Contains(web, "api.github.com"):
			web = "https://github.com"
		default:
			web = strings.TrimSuffix(web, "/api/v3")
		}
	}
	return func(cluster string) string {
		return web + "/" + cfg.ForgeRepo + mid + url.PathEscape(branch) + "/" + cfg.StatusPath + "/" + cluster + ".md"
	}
}
