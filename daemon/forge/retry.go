package forge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryOptions bound WithRetryOptions. Zero fields take the defaults.
type RetryOptions struct {
	// Attempts is how many times a call is made at most, the first
	// included. Default 5.
	Attempts int
	// Base is the first backoff; each next one doubles, with jitter.
	// Default 1 s.
	Base time.Duration
	// MaxBackoff caps one backoff. Default 30 s.
	MaxBackoff time.Duration
	// MaxRetryAfter is the longest wait a forge may ask for (Retry-After,
	// X-RateLimit-Reset) that is honoured. A forge asking for longer (an
	// exhausted hourly quota) gets its error returned at once: the caller
	// tries again on its next round rather than blocking. Default 1 min.
	MaxRetryAfter time.Duration
}

func (o *RetryOptions) init() {
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Base <= 0 {
		o.Base = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = time.Minute
	}
}

// WithRetry wraps p so that calls refused for a rate limit (GitHub's 403
// and 429, Gitea's 429) or failed with a 5xx are tried again, up to
// attempts times in all, after exponential backoffs from base with jitter,
// or after the wait the forge asked for. Other errors, 4xx included, are
// returned at once. The defaults of RetryOptions fill in zero arguments.
//
// ListComments is retried whole, from its first page.
func WithRetry(p Provider, attempts int, base time.Duration) Provider {
	return WithRetryOptions(p, RetryOptions{Attempts: attempts, Base: base})
}

// WithRetryOptions is WithRetry with every bound set.
func WithRetryOptions(p Provider, o RetryOptions) Provider {
	o.init()
	return &retrying{p: p, o: o}
}

type retrying struct {
	p Provider
	o RetryOptions
}

var _ Provider = (*retrying)(nil)

func (r *retrying) ListComments(ctx context.Context, pr int) ([]Comment, error) {
	var cs []Comment
	err := r.do(ctx, func() (err error) {
		cs, err = r.p.ListComments(ctx, pr)
		return err
	})
	return cs, err
}

// CreateComment is retried on 5xx too: should the comment have been made
// all the same, Upsert uses the duplicate up on its next call.
func (r *retrying) CreateComment(ctx context.Context, pr int, body string) (Comment, error) {
	var c Comment
	err := r.do(ctx, func() (err error) {
		c, err = r.p.CreateComment(ctx, pr, body)
		return err
	})
	return c, err
}

func (r *retrying) EditComment(ctx context.Context, id int64, body string) error {
	return r.do(ctx, func() error { return r.p.EditComment(ctx, id, body) })
}

func (r *retrying) SetStatus(ctx context.Context, sha string, s Status) error {
	return r.do(ctx, func() error { return r.p.SetStatus(ctx, sha, s) })
}

// do calls f until it succeeds, fails for good, or attempts run out.
func (r *retrying) do(ctx context.Context, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		var he *HTTPError
		if err == nil || !errors.As(err, &he) || !he.Temporary() {
			return err
		}
		if attempt == r.o.Attempts {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		if he.RetryAfter > r.o.MaxRetryAfter {
			return fmt.Errorf("%w (the forge asks to wait %s, more than %s)", err, he.RetryAfter.Round(time.Second), r.o.MaxRetryAfter)
		}
		wait := r.backoff(attempt)
		if he.RetryAfter > 0 {
			// What the forge asked for, plus a little so that many clients
			// do not come back at the same instant.
			wait = he.RetryAfter + rand.N(r.o.Base)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return fmt.Errorf("%w (no time left to wait %s before trying again)", err, wait.Round(time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while waiting to try again: %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// backoff is the wait after the attempt-th failure: base doubled each
// time, capped, with "equal jitter" (half fixed, half random).
func (r *retrying) backoff(attempt int) time.Duration {
	d := r.o.Base
	for i := 1; i < attempt && d < r.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.o.MaxBackoff)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// WithRetryPullRequests is WithRetry for a PullRequestProvider.
// CreatePullRequest is retried on 5xx too: should the pull request have
// been opened all the same, the forge refuses a second one for the same
// head and base, and the caller finds the first by its branch.
func WithRetryPullRequests(p PullRequestProvider, attempts int, base time.Duration) PullRequestProvider {
	o := RetryOptions{Attempts: attempts, Base: base}
	o.init()
	return &retryingPRs{retrying: retrying{p: p, o: o}, prs: p}
}

type retryingPRs struct {
	retrying
	prs PullRequestProvider
}

var _ PullRequestProvider = (*retryingPRs)(nil)

func (r *retryingPRs) ListPullRequests(ctx context.Context, branch string) ([]PullRequest, error) {
	var out []PullRequest
	err := r.do(ctx, func() (err error) {
		out, err = r.prs.ListPullRequests(ctx, branch)
		return err
	})
	return out, err
}

func (r *retryingPRs) CreatePullRequest(ctx context.Context, pr PullRequest) (PullRequest, error) {
	var out PullRequest
	err := r.do(ctx, func() (err error) {
		out, err = r.prs.CreatePullRequest(ctx, pr)
		return err
	})
	return out, err
}

func (r *retryingPRs) EditPullRequest(ctx context.Context, number int, title, body string) error {
	return r.do(ctx, func() error { return r.prs.EditPullRequest(ctx, number, title, body) })
}

func (r *retryingPRs) ClosePullRequest(ctx context.Context, number int) error {
	return r.do(ctx, func() error { return r.prs.ClosePullRequest(ctx, number) })
}
