package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/redis-gitops/redis-gitops/daemon"
	"github.com/redis-gitops/redis-gitops/internal/giteatest"
)

// TestPlanCommentOnGitea: `plan --comment` from CI posts the plan on the
// pull request and a status on its head; run again after a push, it edits
// the same comment.
func TestPlanCommentOnGitea(t *testing.T) {
	srv := giteatest.Shared(t)
	repo := srv.CreateRepo(t, "plan-comment")
	srv.PutFile(t, repo, "main", "clusters/cache.yaml", cacheSpec("3"), "add cache")
	srv.CreateBranch(t, repo, "scale", "main")
	srv.PutFile(t, repo, "scale", "clusters/cache.yaml", cacheSpec("4"), "masters: 4")
	pr := srv.CreatePullRequest(t, repo, "scale", "main", "scale out")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(srv.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() (string, int) {
		dir := t.TempDir()
		if _, err := git.PlainClone(dir, false, &git.CloneOptions{URL: repo.CloneURL,
			Auth: &githttp.BasicAuth{Username: repo.Username, Password: repo.Password}}); err != nil {
			t.Fatal(err)
		}
		return runPlanArgs(t, "--repo", dir, "--offline", "--base", "origin/main", "--head", "origin/scale",
			"--comment", "--pr", strconv.Itoa(pr), "--forge", "gitea", "--forge-url", srv.URL,
			"--forge-repo", repo.FullName(), "--forge-token-file", tokenFile)
	}
	marker := daemon.PlanMarker("prod/cache")
	planComments := func() []giteatest.IssueComment {
		var out []giteatest.IssueComment
		for _, c := range srv.PullComments(t, repo, pr) {
			if strings.Contains(c.Body, marker) {
				out = append(out, c)
			}
		}
		return out
	}

	if _, code := run(); code != 1 {
		t.Fatalf("exit %d, want 1 (changes)", code)
	}
	first := planComments()
	if len(first) != 1 || !strings.Contains(first[0].Body, "3×1 → 4×1") {
		t.Fatalf("plan comments: %+v", first)
	}
	head := srv.BranchHead(t, repo, "scale")
	found := false
	for _, s := range srv.CommitStatuses(t, repo, head) {
		if s.Context == daemon.PlanContext+"prod/cache" {
			found = s.State == "success" && strings.Contains(s.Description, "3×1 → 4×1")
		}
	}
	if !found {
		t.Errorf("no success status with the summary on %s: %+v", head, srv.CommitStatuses(t, repo, head))
	}

	srv.PutFile(t, repo, "scale", "clusters/cache.yaml", cacheSpec("5"), "masters: 5")
	run()
	again := planComments()
	if len(again) != 1 || again[0].ID != first[0].ID || !strings.Contains(again[0].Body, "3×1 → 5×1") {
		t.Errorf("after a second push: %+v (first comment id %d)", again, first[0].ID)
	}
}
