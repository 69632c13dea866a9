package forge_test

import (
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/daemon/forge"
	"github.com/redis-gitops/redis-gitops/internal/giteatest"
)

// TestGiteaPullRequests: on the real Gitea, a pull request opened from a
// branch is found again by that branch (and not by another), its title
// and body edited, closed unmerged; a second one from the same branch
// lists first; a merged one lists as merged.
func TestGiteaPullRequests(t *testing.T) {
	srv := giteatest.Shared(t)
	repo := srv.CreateRepo(t, "forge-pulls")
	srv.PutFile(t, repo, "main", "clusters/cache.yaml", "masters: 3\n", "add cache")
	srv.CreateBranch(t, repo, "redis-gitops/drift/prod/cache", "main")
	srv.PutFile(t, repo, "redis-gitops/drift/prod/cache", "clusters/cache.yaml", "masters: 4\n", "drift")
	srv.CreateBranch(t, repo, "other", "main")
	srv.PutFile(t, repo, "other", "clusters/cache.yaml", "masters: 5\n", "other")
	srv.CreatePullRequest(t, repo, "other", "main", "Someone else's")
	g, err := forge.NewGitea(srv.URL, repo.Owner, repo.Name, srv.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := forge.WithRetryPullRequests(g, 3, 10*time.Millisecond)
	ctx := t.Context()
	const branch = "redis-gitops/drift/prod/cache"

	if got, err := p.ListPullRequests(ctx, branch); err != nil || len(got) != 0 {
		t.Fatalf("before any: %+v, %v; want none", got, err)
	}
	first, err := p.CreatePullRequest(ctx, forge.PullRequest{Head: branch, Base: "main", Title: "Drift of prod/cache", Body: "<!-- marker -->\nmaxmemory"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreatePullRequest(ctx, forge.PullRequest{Head: branch, Base: "main", Title: "again", Body: "x"}); err == nil {
		t.Error("Gitea opened a second pull request for the same head and base")
	}
	if err := p.EditPullRequest(ctx, first.Number, "Drift of prod/cache (2)", "<!-- marker -->\nmaxmemory, masters"); err != nil {
		t.Fatal(err)
	}
	got, err := p.ListPullRequests(ctx, branch)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Number != first.Number || !got[0].Open || got[0].Merged ||
		got[0].Title != "Drift of prod/cache (2)" || got[0].Body != "<!-- marker -->\nmaxmemory, masters" || got[0].Head != branch || got[0].Base != "main" {
		t.Fatalf("listed %+v, want #%d open with the new title and body", got, first.Number)
	}

	if err := p.ClosePullRequest(ctx, first.Number); err != nil {
		t.Fatal(err)
	}
	second, err := p.CreatePullRequest(ctx, forge.PullRequest{Head: branch, Base: "main", Title: "Drift of prod/cache", Body: "again"})
	if err != nil {
		t.Fatalf("after closing the first: %v", err)
	}
	srv.MergePullRequest(t, repo, second.Number)
	got, err = p.ListPullRequests(ctx, branch)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Number != second.Number || got[0].Open || !got[0].Merged || got[1].Number != first.Number || got[1].Open || got[1].Merged {
		t.Errorf("listed %+v; want #%d merged, then #%d closed unmerged", got, second.Number, first.Number)
	}
}
