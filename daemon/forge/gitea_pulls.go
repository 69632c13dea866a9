package forge

import (
	"context"
	"fmt"

	"code.gitea.io/sdk/gitea"
)

// ListPullRequests lists the pull requests whose head is branch of this
// repository, all states. Gitea's list has no head filter: every page is
// read and filtered.
func (g *Gitea) ListPullRequests(ctx context.Context, branch string) ([]PullRequest, error) {
	c, err := g.client(ctx)
	if err != nil {
		return nil, err
	}
	var out []PullRequest
	for page := 1; ; {
		got, resp, err := c.ListRepoPullRequests(g.owner, g.repo, gitea.ListPullRequestsOptions{
			State: gitea.StateAll, ListOptions: gitea.ListOptions{Page: page, PageSize: giteaPageSize},
		})
		if err != nil {
			return nil, fmt.Errorf("gitea: list pull requests of %s/%s: %w", g.owner, g.repo, giteaError(resp, err))
		}
		for _, p := range got {
			if p.Head != nil && p.Head.Ref == branch && (p.Head.Repository == nil || p.Base == nil || p.Base.Repository == nil ||
				p.Head.Repository.ID == p.Base.Repository.ID) {
				out = append(out, giteaPR(p))
			}
		}
		if resp == nil || resp.NextPage <= page {
			return newestFirst(out), nil
		}
		page = resp.NextPage
	}
}

// CreatePullRequest opens pr.
func (g *Gitea) CreatePullRequest(ctx context.Context, pr PullRequest) (PullRequest, error) {
	if err := pr.check(); err != nil {
		return PullRequest{}, fmt.Errorf("gitea: %w", err)
	}
	c, err := g.client(ctx)
	if err != nil {
		return PullRequest{}, err
	}
	p, resp, err := c.CreatePullRequest(g.owner, g.repo, gitea.CreatePullRequestOption{Head: pr.Head, Base: pr.Base, Title: pr.Title, Body: pr.Body})
	if err != nil {
		return PullRequest{}, fmt.Errorf("gitea: open pull request %s into %s on %s/%s: %w", pr.Head, pr.Base, g.owner, g.repo, giteaError(resp, err))
	}
	return giteaPR(p), nil
}

// EditPullRequest replaces the title and body of pull request number.
func (g *Gitea) EditPullRequest(ctx context.Context, number int, title, body string) error {
	c, err := g.client(ctx)
	if err != nil {
		return err
	}
	if _, resp, err := c.EditPullRequest(g.owner, g.repo, int64(number), gitea.EditPullRequestOption{Title: title, Body: &body}); err != nil {
		return fmt.Errorf("gitea: edit pull request %s/%s#%d: %w", g.owner, g.repo, number, giteaError(resp, err))
	}
	return nil
}

// ClosePullRequest closes pull request number unmerged.
func (g *Gitea) ClosePullRequest(ctx context.Context, number int) error {
	c, err := g.client(ctx)
	if err != nil {
		return err
	}
	closed := gitea.StateClosed
	if _, resp, err := c.EditPullRequest(g.owner, g.repo, int64(number), gitea.EditPullRequestOption{State: &closed}); err != nil {
		return fmt.Errorf("gitea: close pull request %s/%s#%d: %w", g.owner, g.repo, number, giteaError(resp, err))
	}
	return nil
}

func giteaPR(p *gitea.PullRequest) PullRequest {
	out := PullRequest{Number: int(p.Index), Title: p.Title, Body: p.Body, Open: p.State == gitea.StateOpen,
		Merged: p.HasMerged, URL: p.HTMLURL}
	if p.Head != nil {
		out.Head = p.Head.Ref
	}
	if p.Base != nil {
		out.Base = p.Base.Ref
	}
	return out
}
