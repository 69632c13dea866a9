package forge

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// answers is a Provider whose SetStatus fails with errs in turn, then
// succeeds, recording when it was called.
type answers struct {
	errs  []error
	calls []time.Time
}

func (a *answers) SetStatus(ctx context.Context, sha string, s Status) error {
	a.calls = append(a.calls, time.Now())
	if len(a.calls) <= len(a.errs) {
		return a.errs[len(a.calls)-1]
	}
	return nil
}

func (a *answers) ListComments(ctx context.Context, _ int) ([]Comment, error) {
	return nil, a.SetStatus(ctx, "", Status{})
}

func (a *answers) CreateComment(ctx context.Context, _ int, _ string) (Comment, error) {
	return Comment{ID: 1}, a.SetStatus(ctx, "", Status{})
}

func (a *answers) EditComment(ctx context.Context, _ int64, _ string) error {
	return a.SetStatus(ctx, "", Status{})
}

func httpErr(code int) error {
	return &HTTPError{StatusCode: code, Err: errors.New(http.StatusText(code))}
}

func rateLimited(code int, after time.Duration) error {
	return &HTTPError{StatusCode: code, RateLimited: true, RetryAfter: after, Err: errors.New("rate limited")}
}

func TestRetry(t *testing.T) {
	opts := RetryOptions{Attempts: 5, Base: time.Millisecond, MaxBackoff: 4 * time.Millisecond, MaxRetryAfter: time.Second}
	tests := []struct {
		name      string
		errs      []error
		wantCalls int
		wantErr   string // "" for success
		minWait   time.Duration
	}{
		{name: "success at once", wantCalls: 1},
		{name: "5xx are tried again", errs: []error{httpErr(502), httpErr(500)}, wantCalls: 3},
		{name: "429 is tried again", errs: []error{httpErr(429)}, wantCalls: 2},
		{name: "a rate-limit 403 is tried again after the wait asked", errs: []error{rateLimited(403, 50*time.Millisecond)}, wantCalls: 2, minWait: 50 * time.Millisecond},
		{name: "a 403 that is no rate limit is returned at once", errs: []error{httpErr(403)}, wantCalls: 1, wantErr: "Forbidden"},
		{name: "404 is returned at once", errs: []error{httpErr(404)}, wantCalls: 1, wantErr: "Not Found"},
		{name: "422 is returned at once", errs: []error{httpErr(422)}, wantCalls: 1, wantErr: "Unprocessable Entity"},
		{name: "network errors are returned at once", errs: []error{errors.New("connection refused")}, wantCalls: 1, wantErr: "connection refused"},
		{
			name:      "attempts are bounded",
			errs:      []error{httpErr(502), httpErr(502), httpErr(502), httpErr(502), httpErr(503), httpErr(502)},
			wantCalls: 5,
			wantErr:   "Service Unavailable (gave up after 5 attempts)",
		},
		{
			name:      "a wait longer than MaxRetryAfter is not waited",
			errs:      []error{rateLimited(403, time.Hour)},
			wantCalls: 1,
			wantErr:   "the forge asks to wait 1h0m0s, more than 1s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &answers{errs: tt.errs}
			began := time.Now()
			err := WithRetryOptions(a, opts).SetStatus(t.Context(), "abc", Status{})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("SetStatus: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("SetStatus = %v, want an error with %q", err, tt.wantErr)
			}
			if len(a.calls) != tt.wantCalls {
				t.Errorf("%d calls, want %d", len(a.calls), tt.wantCalls)
			}
			if tt.minWait > 0 && len(a.calls) > 1 {
				if waited := a.calls[1].Sub(a.calls[0]); waited < tt.minWait {
					t.Errorf("tried again after %s, want at least %s", waited, tt.minWait)
				}
			}
			if took := time.Since(began); took > 2*time.Second {
				t.Errorf("took %s", took)
			}
			var he *HTTPError
			if tt.wantErr != "" && errors.As(tt.errs[0], &he) && !errors.As(err, &he) {
				t.Errorf("the error %v does not unwrap to the *HTTPError", err)
			}
		})
	}
}

func TestRetryEveryMethod(t *testing.T) {
	p := WithRetry(&answers{errs: []error{httpErr(502), httpErr(502), httpErr(502), httpErr(502)}}, 0, time.Millisecond)
	// The default of 5 attempts covers the four failures of the first
	// call; the others succeed at once.
	if _, err := p.ListComments(t.Context(), 1); err != nil {
		t.Errorf("ListComments: %v", err)
	}
	if c, err := p.CreateComment(t.Context(), 1, "x"); err != nil || c.ID != 1 {
		t.Errorf("CreateComment = %+v, %v", c, err)
	}
	if err := p.EditComment(t.Context(), 1, "x"); err != nil {
		t.Errorf("EditComment: %v", err)
	}
	if err := p.SetStatus(t.Context(), "abc", Status{}); err != nil {
		t.Errorf("SetStatus: %v", err)
	}
}

func TestRetryContext(t *testing.T) {
	opts := RetryOptions{Base: time.Minute}
	t.Run("cancelled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(20*time.Millisecond, cancel)
		a := &answers{errs: []error{httpErr(503)}}
		began := time.Now()
		err := WithRetryOptions(a, opts).SetStatus(ctx, "abc", Status{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("SetStatus = %v, want context.Canceled", err)
		}
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 503 {
			t.Errorf("SetStatus = %v, want the last answer too", err)
		}
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("returned %s after the call, not when cancelled", took)
		}
	})
	t.Run("a deadline before the next try", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		a := &answers{errs: []error{httpErr(503)}}
		began := time.Now()
		err := WithRetryOptions(a, opts).SetStatus(ctx, "abc", Status{})
		if err == nil || !strings.Contains(err.Error(), "no time left") {
			t.Errorf("SetStatus = %v, want no time left", err)
		}
		if took := time.Since(began); took > 500*time.Millisecond {
			t.Errorf("waited %s for a try it could not make", took)
		}
	})
}

func TestBackoff(t *testing.T) {
	r := &retrying{o: RetryOptions{Base: 100 * time.Millisecond, MaxBackoff: time.Second}}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		for range 20 {
			if got := r.backoff(attempt); got < want/2 || got >= want {
				t.Errorf("backoff(%d) = %s, want in [%s, %s)", attempt, got, want/2, want)
			}
		}
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"none", http.Header{}, 0},
		{"seconds", http.Header{"Retry-After": {"120"}}, 2 * time.Minute},
		{"an HTTP date", http.Header{"Retry-After": {"Sun, 01 Mar 2026 12:00:30 GMT"}}, 30 * time.Second},
		{"a date past", http.Header{"Retry-After": {"Sun, 01 Mar 2026 11:00:00 GMT"}}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"rate limit reset", http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"1772366445"}}, 45 * time.Second},
		{"requests left: the reset is no wait", http.Header{"X-Ratelimit-Remaining": {"12"}, "X-Ratelimit-Reset": {"1772366445"}}, 0},
		{"Retry-After first", http.Header{"Retry-After": {"5"}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"1772366445"}}, 5 * time.Second},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.header, now); got != tt.want {
			t.Errorf("%s: retryAfter = %s, want %s", tt.name, got, tt.want)
		}
	}
}
