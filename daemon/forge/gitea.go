package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"code.gitea.io/sdk/gitea"
)

// giteaMaxDescription caps commit status descriptions on Gitea, which
// stores them as TEXT but shows them on one line, like GitHub.
const giteaMaxDescription = 255

// giteaPageSize is Gitea's default MAX_RESPONSE_ITEMS.
const giteaPageSize = 50

// Gitea is a Provider for one repository on a Gitea server, over Gitea's
// SDK.
type Gitea struct {
	url, token  string
	owner, repo string
	hc          *http.Client
}

var _ Provider = (*Gitea)(nil)

// NewGitea returns a Provider for owner/repo on the Gitea at serverURL
// (its root, e.g. "https://gitea.example.com"), authenticating with an
// access token that may write issues and statuses of the repository
// ("Authorization: token"). A nil hc means a client with a 30 s timeout.
// It does no I/O: the SDK's server version check is skipped.
func NewGitea(serverURL, owner, repo, token string, hc *http.Client) (*Gitea, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gitea: server URL %q is not an http(s) URL", serverURL)
	}
	if owner == "" || repo == "" {
		return nil, fmt.Errorf("gitea: repository %q/%q: owner and name are both needed", owner, repo)
	}
	if token == "" {
		return nil, errors.New("gitea: no token")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Gitea{url: serverURL, token: token, owner: owner, repo: repo, hc: hc}, nil
}

// client returns an SDK client for one call. The SDK takes its context
// per client, not per call, and clients are cheap without the version
// check, so each call gets its own.
func (g *Gitea) client(ctx context.Context) (*gitea.Client, error) {
	c, err := gitea.NewClient(g.url,
		gitea.SetToken(g.token),
		gitea.SetHTTPClient(g.hc),
		gitea.SetContext(ctx),
		gitea.SetUserAgent("redis-gitops"),
		gitea.SetGiteaVersion(""),
	)
	if err != nil {
		return nil, fmt.Errorf("gitea: client for %s: %w", g.url, err)
	}
	return c, nil
}

// ListComments returns the conversation comments of pull request pr,
// following the Link header's pages (Gitea 1.26 answers all of them on
// the first).
func (g *Gitea) ListComments(ctx context.Context, pr int) ([]Comment, error) {
	c, err := g.client(ctx)
	if err != nil {
		return nil, err
	}
	var comments []Comment
	for page := 1; ; {
		got, resp, err := c.ListIssueComments(g.owner, g.repo, int64(pr), gitea.ListIssueCommentOptions{
			ListOptions: gitea.ListOptions{Page: page, PageSize: giteaPageSize},
		})
		if err != nil {
			return nil, fmt.Errorf("gitea: list comments of %s/%s#%d: %w", g.owner, g.repo, pr, giteaError(resp, err))
		}
		for _, cm := range got {
			comments = append(comments, Comment{ID: cm.ID, Body: cm.Body})
		}
		if resp == nil || resp.NextPage <= page {
			return comments, nil
		}
		page = resp.NextPage
	}
}

// CreateComment comments on pull request pr.
func (g *Gitea) CreateComment(ctx context.Context, pr int, body string) (Comment, error) {
	c, err := g.client(ctx)
	if err != nil {
		return Comment{}, err
	}
	cm, resp, err := c.CreateIssueComment(g.owner, g.repo, int64(pr), gitea.CreateIssueCommentOption{Body: body})
	if err != nil {
		return Comment{}, fmt.Errorf("gitea: comment on %s/%s#%d: %w", g.owner, g.repo, pr, giteaError(resp, err))
	}
	return Comment{ID: cm.ID, Body: cm.Body}, nil
}

// EditComment replaces the body of comment id.
func (g *Gitea) EditComment(ctx context.Context, id int64, body string) error {
	c, err := g.client(ctx)
	if err != nil {
		return err
	}
	if _, resp, err := c.EditIssueComment(g.owner, g.repo, id, gitea.EditIssueCommentOption{Body: body}); err != nil {
		return fmt.Errorf("gitea: edit comment %d of %s/%s: %w", id, g.owner, g.repo, giteaError(resp, err))
	}
	return nil
}

// SetStatus sets a commit status on sha; the description is cut to 255
// characters.
func (g *Gitea) SetStatus(ctx context.Context, sha string, s Status) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("gitea: set status on %s: %w", sha, err)
	}
	c, err := g.client(ctx)
	if err != nil {
		return err
	}
	_, resp, err := c.CreateStatus(g.owner, g.repo, sha, gitea.CreateStatusOption{
		State:       gitea.StatusState(s.State),
		TargetURL:   s.TargetURL,
		Description: oneLine(s.Description, giteaMaxDescription),
		Context:     s.Context,
	})
	if err != nil {
		return fmt.Errorf("gitea: set status %s on %s/%s@%s: %w", s.Context, g.owner, g.repo, sha, giteaError(resp, err))
	}
	return nil
}

// giteaError turns the SDK's errors for answers outside 2xx (a plain
// error next to a *gitea.Response) into *HTTPError; others are returned
// as they are. Gitea itself does not rate-limit its API, but a proxy in
// front of it may answer 429.
func giteaError(resp *gitea.Response, err error) error {
	if resp == nil || resp.Response == nil || resp.StatusCode/100 == 2 {
		return err
	}
	return &HTTPError{
		StatusCode:  resp.StatusCode,
		RateLimited: resp.StatusCode == http.StatusTooManyRequests,
		RetryAfter:  retryAfter(resp.Header, time.Now()),
		Err:         fmt.Errorf("%d %s: %w", resp.StatusCode, http.StatusText(resp.StatusCode), err),
	}
}
