package giteatest

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// AddWebhookEvents adds an active Gitea-type webhook like AddWebhook, for
// the given events (such as "push", "pull_request", "pull_request_sync").
func (s *Server) AddWebhookEvents(t testing.TB, repo Repo, url, secret string, events ...string) int64 {
	t.Helper()
	var got struct {
		ID int64 `json:"id"`
	}
	s.must(t, s.api(t.Context(), http.MethodPost, repoPath(repo, "hooks"), map[string]any{
		"type":          "gitea",
		"config":        map[string]string{"url": url, "content_type": "json", "secret": secret},
		"events":        events,
		"branch_filter": "*",
		"active":        true,
	}, &got))
	return got.ID
}

// CreateBranch creates branch name from branch from.
func (s *Server) CreateBranch(t testing.TB, repo Repo, name, from string) {
	t.Helper()
	s.must(t, s.api(t.Context(), http.MethodPost, repoPath(repo, "branches"), map[string]any{
		"new_branch_name": name, "old_branch_name": from}, nil))
}

// CreatePullRequest opens a pull request of head into base and returns
// its number.
func (s *Server) CreatePullRequest(t testing.TB, repo Repo, head, base, title string) int {
	t.Helper()
	var got struct {
		Number int `json:"number"`
	}
	s.must(t, s.api(t.Context(), http.MethodPost, repoPath(repo, "pulls"), map[string]any{
		"head": head, "base": base, "title": title}, &got))
	return got.Number
}

// MergePullRequest merges pull request pr (a merge commit) and returns
// the base branch's new head. Gitea checks mergeability in the
// background, so the merge is tried again for up to a minute.
func (s *Server) MergePullRequest(t testing.TB, repo Repo, pr int) string {
	t.Helper()
	var got struct {
		Base struct {
			Ref string `json:"ref"`
		} `json:"base"`
	}
	s.must(t, s.api(t.Context(), http.MethodGet, repoPath(repo, "pulls", strconv.Itoa(pr)), nil, &got))
	deadline := time.Now().Add(time.Minute)
	for {
		err := s.api(t.Context(), http.MethodPost, repoPath(repo, "pulls", strconv.Itoa(pr), "merge"),
			map[string]any{"Do": "merge"}, nil)
		if err == nil {
			return s.BranchHead(t, repo, got.Base.Ref)
		}
		if time.Now().After(deadline) {
			t.Fatalf("merge pull request %d: %v", pr, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// IssueComment is a comment on an issue or pull request.
type IssueComment struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
}

// PullComments returns the comments of pull request pr, oldest first.
func (s *Server) PullComments(t testing.TB, repo Repo, pr int) []IssueComment {
	t.Helper()
	// Gitea 1.26 answers this endpoint with every comment, whatever the
	// page and limit asked (paging it would never end).
	var all []IssueComment
	s.must(t, s.api(t.Context(), http.MethodGet, repoPath(repo, "issues", strconv.Itoa(pr), "comments"), nil, &all))
	return all
}

// CommitStatus is the latest commit status of one context.
type CommitStatus struct {
	Context     string `json:"context"`
	State       string `json:"status"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url"`
}

// CommitStatuses returns the latest status of each context on ref.
func (s *Server) CommitStatuses(t testing.TB, repo Repo, ref string) []CommitStatus {
	t.Helper()
	var got struct {
		Statuses []CommitStatus `json:"statuses"`
	}
	s.must(t, s.api(t.Context(), http.MethodGet, repoPath(repo, "commits", ref, "status"), nil, &got))
	return got.Statuses
}

// PullRequest is a pull request as the API shows it.
type PullRequest struct {
	Number int    `json:"number"`
	Title  string `json:"title"`
	Body   string `json:"body"`
	State  string `json:"state"` // open | closed
	Merged bool   `json:"merged"`
	Head   struct {
		Ref string `json:"ref"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

// PullRequests returns every pull request of repo, open and closed, whose
// head is branch.
func (s *Server) PullRequests(t testing.TB, repo Repo, branch string) []PullRequest {
	t.Helper()
	var out []PullRequest
	for page := 1; ; page++ {
		var got []PullRequest
		s.must(t, s.api(t.Context(), http.MethodGet, repoPath(repo, "pulls")+"?state=all&limit=50&page="+strconv.Itoa(page), nil, &got))
		for _, p := range got {
			if p.Head.Ref == branch {
				out = append(out, p)
			}
		}
		if len(got) < 50 {
			return out
		}
	}
}

// PullDiff returns the diff of pull request pr, as `git diff` prints it.
func (s *Server) PullDiff(t testing.TB, repo Repo, pr int) string {
	t.Helper()
	b, err := s.request(t.Context(), http.MethodGet, repoPath(repo, "pulls", strconv.Itoa(pr)+".diff"), nil)
	s.must(t, err)
	return string(b)
}
