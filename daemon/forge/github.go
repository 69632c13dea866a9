package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-github/v84/github"
)

// githubMaxDescription is the longest commit status description GitHub
// takes (it answers 422 beyond).
const githubMaxDescription = 140

// githubPageSize is the most comments GitHub lists per page.
const githubPageSize = 100

// GitHub is a Provider for one repository on GitHub or GitHub Enterprise
// Server, over go-github.
type GitHub struct {
	client      *github.Client
	owner, repo string
}

var _ Provider = (*GitHub)(nil)

// NewGitHub returns a Provider for owner/repo that authenticates with
// token (sent as "Authorization: Bearer"). baseURL is empty for
// github.com, or the server's URL for GitHub Enterprise ("/api/v3/" is
// added when missing). A nil hc means a client with a 30 s timeout. It
// does no I/O.
func NewGitHub(baseURL, owner, repo, token string, hc *http.Client) (*GitHub, error) {
	if owner == "" || repo == "" {
		return nil, fmt.Errorf("github: repository %q/%q: owner and name are both needed", owner, repo)
	}
	if token == "" {
		return nil, errors.New("github: no token")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := github.NewClient(hc).WithAuthToken(token)
	c.UserAgent = "redis-gitops"
	if baseURL != "" {
		var err error
		if c, err = c.WithEnterpriseURLs(baseURL, baseURL); err != nil {
			return nil, fmt.Errorf("github: base URL %q: %w", baseURL, err)
		}
	}
	return &GitHub{client: c, owner: owner, repo: repo}, nil
}

// ListComments returns the conversation comments of pull request pr (not
// review comments on lines), following the Link header's pages.
func (g *GitHub) ListComments(ctx context.Context, pr int) ([]Comment, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: githubPageSize}}
	var comments []Comment
	for {
		page, resp, err := g.client.Issues.ListComments(ctx, g.owner, g.repo, pr, opts)
		if err != nil {
			return nil, fmt.Errorf("github: list comments of %s/%s#%d: %w", g.owner, g.repo, pr, githubError(err))
		}
		for _, c := range page {
			comments = append(comments, Comment{ID: c.GetID(), Body: c.GetBody()})
		}
		if resp.NextPage <= opts.Page {
			return comments, nil
		}
		opts.Page = resp.NextPage
	}
}

// CreateComment comments on pull request pr.
func (g *GitHub) CreateComment(ctx context.Context, pr int, body string) (Comment, error) {
	c, _, err := g.client.Issues.CreateComment(ctx, g.owner, g.repo, pr, &github.IssueComment{Body: &body})
	if err != nil {
		return Comment{}, fmt.Errorf("github: comment on %s/%s#%d: %w", g.owner, g.repo, pr, githubError(err))
	}
	return Comment{ID: c.GetID(), Body: c.GetBody()}, nil
}

// EditComment replaces the body of comment id.
func (g *GitHub) EditComment(ctx context.Context, id int64, body string) error {
	if _, _, err := g.client.Issues.EditComment(ctx, g.owner, g.repo, id, &github.IssueComment{Body: &body}); err != nil {
		return fmt.Errorf("github: edit comment %d of %s/%s: %w", id, g.owner, g.repo, githubError(err))
	}
	return nil
}

// SetStatus sets a commit status on sha; the description is cut to 140
// characters.
func (g *GitHub) SetStatus(ctx context.Context, sha string, s Status) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("github: set status on %s: %w", sha, err)
	}
	st := github.RepoStatus{State: github.Ptr(string(s.State)), Context: github.Ptr(s.Context)}
	if d := oneLine(s.Description, githubMaxDescription); d != "" {
		st.Description = &d
	}
	if s.TargetURL != "" {
		st.TargetURL = github.Ptr(s.TargetURL)
	}
	if _, _, err := g.client.Repositories.CreateStatus(ctx, g.owner, g.repo, sha, st); err != nil {
		return fmt.Errorf("github: set status %s on %s/%s@%s: %w", s.Context, g.owner, g.repo, sha, githubError(err))
	}
	return nil
}

// githubError turns go-github's answers outside 2xx into *HTTPError;
// other errors (the network, a cancelled ctx) are returned as they are.
//
// GitHub signals its primary rate limit with 403 or 429 and
// X-RateLimit-Remaining: 0 (go-github's *RateLimitError, which it also
// returns without asking while it knows the limit holds), and its
// secondary one with 403 or 429 and a Retry-After
// (*AbuseRateLimitError).
func githubError(err error) error {
	var (
		primary   *github.RateLimitError
		secondary *github.AbuseRateLimitError
		other     *github.ErrorResponse
	)
	switch {
	case errors.As(err, &primary):
		he := &HTTPError{StatusCode: statusOf(primary.Response), RateLimited: true, Err: err}
		if primary.Response != nil {
			he.RetryAfter = retryAfter(primary.Response.Header, time.Now())
		}
		if reset := primary.Rate.Reset.Time; he.RetryAfter == 0 && !reset.IsZero() {
			he.RetryAfter = max(time.Until(reset), 0)
		}
		return he
	case errors.As(err, &secondary):
		return &HTTPError{StatusCode: statusOf(secondary.Response), RateLimited: true, RetryAfter: max(secondary.GetRetryAfter(), 0), Err: err}
	case errors.As(err, &other):
		he := &HTTPError{StatusCode: statusOf(other.Response), Err: err}
		if other.Response != nil {
			he.RateLimited = he.StatusCode == http.StatusTooManyRequests
			he.RetryAfter = retryAfter(other.Response.Header, time.Now())
		}
		return he
	}
	return err
}

func statusOf(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}
