package daemon

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/redis-gitops/redis-gitops/daemon/driftpr"
	"github.com/redis-gitops/redis-gitops/daemon/forge"
	"github.com/redis-gitops/redis-gitops/daemon/gitsource"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/spec"
)

// prForge is a forge's pull requests in memory.
type prForge struct {
	forge.Provider // not called
	prs            []forge.PullRequest
	comments       map[int][]string
	lists          int
}

func (f *prForge) ListPullRequests(_ context.Context, branch string) ([]forge.PullRequest, error) {
	f.lists++
	var out []forge.PullRequest
	for i := len(f.prs) - 1; i >= 0; i-- {
		if f.prs[i].Head == branch {
			out = append(out, f.prs[i])
		}
	}
	return out, nil
}

func (f *prForge) CreatePullRequest(_ context.Context, pr forge.PullRequest) (forge.PullRequest, error) {
	pr.Number, pr.Open = len(f.prs)+1, true
	f.prs = append(f.prs, pr)
	return pr, nil
}

func (f *prForge) EditPullRequest(_ context.Context, n int, title, body string) error {
	f.prs[n-1].Title, f.prs[n-1].Body = title, body
	return nil
}

func (f *prForge) ClosePullRequest(_ context.Context, n int) error {
	f.prs[n-1].Open = false
	return nil
}

func (f *prForge) CreateComment(_ context.Context, n int, body string) (forge.Comment, error) {
	if f.comments == nil {
		f.comments = map[int][]string{}
	}
	f.comments[n] = append(f.comments[n], body)
	return forge.Comment{ID: int64(len(f.comments[n]))}, nil
}

// branchGit applies proposals to a file in memory.
type branchGit struct {
	file   string
	pushed []string // the file's content at each push
}

func (g *branchGit) Propose(_ context.Context, p gitsource.Proposal) (string, error) {
	after, err := p.Edit([]byte(g.file))
	if err != nil {
		return "", err
	}
	if n := len(g.pushed); n > 0 && g.pushed[n-1] == string(after) {
		return "same", nil
	}
	g.pushed = append(g.pushed, string(after))
	return "commit" + string(rune('0'+len(g.pushed))), nil
}

const driftSpec = `apiVersion: redis-gitops.dev/v1alpha1
kind: RedisCluster
metadata:
  name: cache
  namespace: prod
spec:
  masters: 3
  replicasPerMaster: 0
  redis:
    config:
      maxmemory: 100mb # sized for the limit
  reconcile:
    drift: report
    driftPullRequests: true
`

func driftReport(live string) report.Report {
	r := report.Report{Cluster: "prod/cache", Mode: report.ModeReport, Topology: report.Topology{Answering: 3}}
	if live != "" {
		for _, pod := range []string{"cache-0", "cache-1", "cache-2"} {
			r.Drift = append(r.Drift, report.DriftEntry{Source: report.SourceRedis, Kind: "setting", Subject: pod, Path: "maxmemory", Live: live, Desired: "100mb"})
		}
	}
	return r
}

// TestDriftPullRequestsScanned: lasting drift opens one pull request whose
// branch edits the one line; the same drift again changes nothing; new
// drift updates it once it lasts; drift gone closes it with the reason; a
// restarted daemon finds the pull request again by its branch.
func TestDriftPullRequestsScanned(t *testing.T) {
	cs, errs := spec.Parse("clusters/cache.yaml", []byte(driftSpec))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := cs[0]
	f, g := &prForge{}, &branchGit{file: driftSpec}
	var planned []int
	newPRs := func() *DriftPullRequests {
		return &DriftPullRequests{Git: g, Forge: f, Base: "main", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Planned: func(ev Event) { planned = append(planned, ev.PullRequest) }}
	}
	p := newPRs()
	now := time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)
	scan := func(p *DriftPullRequests, live string) {
		t.Helper()
		now = now.Add(10 * time.Second)
		if err := p.Scanned(t.Context(), c, "clusters/cache.yaml", driftReport(live), now); err != nil {
			t.Fatal(err)
		}
	}

	scan(p, "209715200")
	if len(f.prs) != 0 || len(g.pushed) != 0 {
		t.Fatalf("drift seen once: %d pull requests, %d pushes", len(f.prs), len(g.pushed))
	}
	scan(p, "209715200")
	if len(f.prs) != 1 || !f.prs[0].Open || f.prs[0].Head != driftpr.Branch("prod/cache") || f.prs[0].Base != "main" {
		t.Fatalf("lasting drift: pull requests %+v, want one open from %s", f.prs, driftpr.Branch("prod/cache"))
	}
	if want := strings.Replace(driftSpec, "maxmemory: 100mb # sized", "maxmemory: 200mb # sized", 1); len(g.pushed) != 1 || g.pushed[0] != want {
		t.Errorf("pushed %q, want the one line changed", g.pushed)
	}
	if !strings.Contains(f.prs[0].Body, "cache-0, cache-1, cache-2") || !strings.Contains(f.prs[0].Body, "`209715200`") || !strings.Contains(f.prs[0].Body, "`100mb`") {
		t.Errorf("description lacks the nodes, old and new values:\n%s", f.prs[0].Body)
	}
	if len(planned) != 1 || planned[0] != 1 {
		t.Errorf("planned %v, want [1]", planned)
	}

	body := f.prs[0].Body
	scan(p, "209715200")
	if len(f.prs) != 1 || f.prs[0].Body != body || len(g.pushed) != 1 {
		t.Errorf("the same drift again changed the pull request or the branch")
	}

	// New drift waits a scan, then updates the same pull request.
	scan(p, "314572800")
	if f.prs[0].Body != body {
		t.Error("new drift updated the pull request before it lasted")
	}
	scan(p, "314572800")
	if len(f.prs) != 1 || !strings.Contains(f.prs[0].Body, "`314572800`") || len(g.pushed) != 2 || !strings.Contains(g.pushed[1], "maxmemory: 300mb # sized") {
		t.Errorf("new lasting drift: %d pull requests, pushes %q", len(f.prs), g.pushed)
	}

	// A restarted daemon finds it again, and closes it when the drift is gone.
	p = newPRs()
	scan(p, "")
	if f.prs[0].Open || len(f.comments[1]) != 1 || !strings.Contains(f.comments[1][0], "The drift is gone") {
		t.Errorf("drift gone: open %v, comments %q", f.prs[0].Open, f.comments[1])
	}
	lists := f.lists
	scan(p, "")
	scan(p, "")
	if f.lists != lists {
		t.Errorf("scans with no drift and nothing open asked the forge %d times", f.lists-lists)
	}

	// A cluster that leaves Git gets its open pull request closed.
	scan(p, "209715200")
	scan(p, "209715200")
	if n := len(f.prs); n != 2 || !f.prs[1].Open {
		t.Fatalf("%d pull requests, the last open %v; want a second one open", n, f.prs[n-1].Open)
	}
	if err := newPRs().Removed(t.Context(), "prod/cache"); err != nil {
		t.Fatal(err)
	}
	if f.prs[1].Open || len(f.comments[2]) != 1 || !strings.Contains(f.comments[2][0], "left Git") {
		t.Errorf("after the cluster left Git: open %v, comments %q", f.prs[1].Open, f.comments[2])
	}
}

// TestConfigDriftPullRequests: drift pull requests are off by default and
// need a forge; the flag takes off, opt-in or all.
func TestConfigDriftPullRequests(t *testing.T) {
	for _, tc := range []struct {
		forge, value, wantErr string
	}{
		{"", "", ""},
		{"", "opt-in", "--drift-pull-requests: needs --forge"},
		{"gitea", "opt-in", ""},
		{"github", "all", ""},
		{"gitea", "yes", `--drift-pull-requests: off, opt-in or all, not "yes"`},
	} {
		cfg := Config{Repo: "https://example.invalid/r.git", Kube: &rest.Config{}, Forge: tc.forge, ForgeRepo: "o/r", ForgeURL: "http://127.0.0.1:3000", DriftPullRequests: tc.value}
		cfg.SetDefaults()
		err := cfg.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("--forge %q --drift-pull-requests %q: %v", tc.forge, tc.value, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("--forge %q --drift-pull-requests %q: err %v, want %q", tc.forge, tc.value, err, tc.wantErr)
		}
		if tc.value == "" && cfg.DriftPullRequests != DriftPRsOff {
			t.Errorf("default --drift-pull-requests = %q, want off", cfg.DriftPullRequests)
		}
	}
}
