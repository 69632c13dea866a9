// Package forge talks to the forge hosting the specs' repository (GitHub,
// GitHub Enterprise or Gitea) about pull requests: one plan comment per
// (pull request, cluster), edited in place on every push, and one commit
// status per cluster on the head commit; and the drift pull request of a
// cluster, opened, edited and closed by redis-gitops from a branch of its
// own (PullRequestProvider).
//
// Provider is the small interface the rest of redis-gitops needs; GitHub
// and Gitea implement it over their SDKs, WithRetry wraps either with
// bounded, rate-limit-aware retries, and Upsert builds the
// one-comment-per-marker rule on top of any Provider.
package forge

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// State of a commit status.
type State string

// The states both GitHub and Gitea accept.
const (
	Pending State = "pending"
	Success State = "success"
	Failure State = "failure"
	Error   State = "error"
)

// Status is one commit status.
type Status struct {
	// Context names the status; a new status with the same context replaces
	// the old one on the commit, e.g. "redis-gitops/prod/cache".
	Context string
	State   State
	// Description is one line. Providers cap its length (GitHub at 140
	// characters) and cut it with "…" where it is longer.
	Description string
	// TargetURL is where the status links to; it may be empty.
	TargetURL string
}

// check rejects what no forge takes, before asking one.
func (s Status) check() error {
	switch s.State {
	case Pending, Success, Failure, Error:
	default:
		return fmt.Errorf("status %s: state %q is none of pending, success, failure, error", s.Context, s.State)
	}
	if s.Context == "" {
		return fmt.Errorf("status: no context")
	}
	return nil
}

// Comment is one comment of a pull request's conversation.
type Comment struct {
	ID   int64
	Body string
}

// Provider is what redis-gitops needs from a forge. Pull requests are
// numbered as in their URL.
type Provider interface {
	// ListComments returns every comment of the pull request, all pages,
	// oldest first.
	ListComments(ctx context.Context, pr int) ([]Comment, error)
	// CreateComment adds a comment to the pull request.
	CreateComment(ctx context.Context, pr int, body string) (Comment, error)
	// EditComment replaces the body of a comment.
	EditComment(ctx context.Context, id int64, body string) error
	// SetStatus sets a commit status on sha.
	SetStatus(ctx context.Context, sha string, s Status) error
}

// HTTPError is a forge's answer outside 2xx. Providers return it (wrapped)
// so that WithRetry can decide without knowing the SDKs.
type HTTPError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// RateLimited is set when the forge refused because of a rate limit
	// (GitHub answers 403 as well as 429 then).
	RateLimited bool
	// RetryAfter is how long the forge asked to wait before trying again
	// (Retry-After, or the time to X-RateLimit-Reset); 0 if it did not say.
	RetryAfter time.Duration
	// Err is the SDK's error.
	Err error
}

func (e *HTTPError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("http %d", e.StatusCode)
	}
	return e.Err.Error()
}

func (e *HTTPError) Unwrap() error { return e.Err }

// Temporary reports whether trying again later may succeed: rate limits
// and server errors.
func (e *HTTPError) Temporary() bool {
	return e.RateLimited || e.StatusCode == 429 || e.StatusCode >= 500
}

// oneLine makes s a single line of at most max characters (runes), cut
// with "…" when longer. Commit status descriptions are shown on one line.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	const ellipsis = "…"
	runes := []rune(s)
	return strings.TrimRight(string(runes[:max-1]), " ") + ellipsis
}

// retryAfter is the wait an answer asks for: Retry-After, in seconds or as
// an HTTP date, or else, when X-RateLimit-Remaining is 0, the time to
// X-RateLimit-Reset (Unix seconds). 0 when it does not say or the time
// has passed.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			return max(time.Duration(secs)*time.Second, 0)
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if secs, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(secs, 0).Sub(now), 0)
		}
	}
	return 0
}
