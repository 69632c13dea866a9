package forge

import (
	"context"
	"fmt"

	"github.com/google/go-github/v84/github"
)

// ListPullRequests lists the pull requests whose head is branch (GitHub
// filters by "owner:branch"), all states, following the pages.
func (g *GitHub) ListPullRequests(ctx context.Context, branch string) ([]PullRequest, error) {
	opts := &github.PullRequestListOptions{State: "all", Head: g.owner + ":" + branch, ListOptions: github.ListOptions{PerPage: githubPageSize}}
	var out []PullRequest
	for {
		page, resp, err := g.client.PullRequests.List(ctx, g.owner, g.repo, opts)
		if err != nil {
			return nil, fmt.Errorf("github: list pull requests of %s/%s from %s: %w", g.owner, g.repo, branch, githubError(err))
		}
		for _, p := range page {
			if p.GetHead().GetRef() == branch {
				out = append(out, githubPR(p))
			}
		}
		if resp.NextPage <= opts.Page {
			return newestFirst(out), nil
		}
		opts.Page = resp.NextPage
	}
}

// CreatePullRequest opens pr; maintainers may not push to its branch (it is
// the daemon's).
func (g *GitHub) CreatePullRequest(ctx context.Context, pr PullRequest) (PullRequest, error) {
	if err := pr.check(); err != nil {
		return PullRequest{}, fmt.Errorf("github: %w", err)
	}
	p, _, err := g.client.PullRequests.Create(ctx, g.owner, g.repo, &github.NewPullRequest{
		Title: github.Ptr(pr.Title), Head: github.Ptr(pr.Head), Base: github.Ptr(pr.Base), Body: github.Ptr(pr.Body),
		MaintainerCanModify: github.Ptr(false),
	})
	if err != nil {
		return PullRequest{}, fmt.Errorf("github: open pull request %s into %s on %s/%s: %w", pr.Head, pr.Base, g.owner, g.repo, githubError(err))
	}
	return githubPR(p), nil
}

// EditPullRequest replaces the title and body of pull request number.
func (g *GitHub) EditPullRequest(ctx context.Context, number int, title, body string) error {
	if _, _, err := g.client.PullRequests.Edit(ctx, g.owner, g.repo, number, &github.PullRequest{Title: github.Ptr(title), Body: github.Ptr(body)}); err != nil {
		return fmt.Errorf("github: edit pull request %s/%s#%d: %w", g.owner, g.repo, number, githubError(err))
	}
	return nil
}

// ClosePullRequest closes pull request number unmerged.
func (g *GitHub) ClosePullRequest(ctx context.Context, number int) error {
	if _, _, err := g.client.PullRequests.Edit(ctx, g.owner, g.repo, number, &github.PullRequest{State: github.Ptr("closed")}); err != nil {
		return fmt.Errorf("github: close pull request %s/%s#%d: %w", g.owner, g.repo, number, githubError(err))
	}
	return nil
}

func githubPR(p *github.PullRequest) PullRequest {
	return PullRequest{
		Number: p.GetNumber(), Title: p.GetTitle(), Body: p.GetBody(),
		Head: p.GetHead().GetRef(), Base: p.GetBase().GetRef(),
		Open: p.GetState() == "open", Merged: p.GetMerged() || p.MergedAt != nil,
		URL: p.GetHTMLURL(),
	}
}
