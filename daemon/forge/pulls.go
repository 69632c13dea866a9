package forge

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// PullRequest is a pull request as redis-gitops keeps its own: the drift
// pull request of a cluster, found again by its head branch.
type PullRequest struct {
	Number int
	Title  string
	Body   string
	// Head and Base are branch names of this repository.
	Head, Base string
	// Open is false once the pull request is closed, merged or not.
	Open   bool
	Merged bool
	// URL is its web page.
	URL string
}

// PullRequestProvider is a Provider that also opens, edits and closes pull
// requests. Branches are pushed with Git, not through it.
type PullRequestProvider interface {
	Provider
	// ListPullRequests returns the pull requests, open and closed, whose
	// head is branch of this repository, newest first.
	ListPullRequests(ctx context.Context, branch string) ([]PullRequest, error)
	// CreatePullRequest opens a pull request of pr.Head into pr.Base with
	// pr.Title and pr.Body.
	CreatePullRequest(ctx context.Context, pr PullRequest) (PullRequest, error)
	// EditPullRequest replaces the title and body of pull request number.
	EditPullRequest(ctx context.Context, number int, title, body string) error
	// ClosePullRequest closes pull request number without merging it.
	ClosePullRequest(ctx context.Context, number int) error
}

var (
	_ PullRequestProvider = (*GitHub)(nil)
	_ PullRequestProvider = (*Gitea)(nil)
)

// newestFirst sorts pull requests by number, highest first.
func newestFirst(prs []PullRequest) []PullRequest {
	slices.SortFunc(prs, func(a, b PullRequest) int { return b.Number - a.Number })
	return prs
}

func (p PullRequest) check() error {
	if p.Head == "" || p.Base == "" || strings.TrimSpace(p.Title) == "" {
		return fmt.Errorf("pull request %q: head, base and title are all needed", p.Title)
	}
	if p.Head == p.Base {
		return fmt.Errorf("pull request %q: head and base are both %s", p.Title, p.Head)
	}
	return nil
}
