package forge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The recording is of github.com's REST API v3 for pull request #1347 of
// octo-org/clusters, replayed behind a GitHub Enterprise-style base URL
// (go-github adds /api/v3/). Answer bodies are in testdata/github.
const (
	ghToken    = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
	ghAuth     = "Bearer " + ghToken
	ghComments = "/api/v3/repos/octo-org/clusters/issues/1347/comments"
	ghComment  = "/api/v3/repos/octo-org/clusters/issues/comments/"
	ghSHA      = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	ghStatuses = "/api/v3/repos/octo-org/clusters/statuses/" + ghSHA
	ghPR       = 1347
	ghLinkBase = "https://api.github.com/repositories/1296269/issues/1347/comments?per_page=100&page="
)

// ghHeaders are the headers of a successful answer, with those given.
func ghHeaders(kv ...string) map[string]string {
	h := map[string]string{
		"X-GitHub-Api-Version-Selected": "2022-11-28",
		"X-GitHub-Media-Type":           "github.v3; format=json",
		"X-RateLimit-Limit":             "5000",
		"X-RateLimit-Remaining":         "4987",
		"X-RateLimit-Reset":             "1772190000",
		"X-RateLimit-Used":              "13",
		"X-RateLimit-Resource":          "core",
		"X-GitHub-Request-Id":           "C5A3:2E1F:1B7D8A4:1C6F2B9:65DE1F3A",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

func ghLinks(rels ...string) string {
	var links []string
	for i := 0; i+1 < len(rels); i += 2 {
		links = append(links, fmt.Sprintf("<%s%s>; rel=%q", ghLinkBase, rels[i+1], rels[i]))
	}
	return strings.Join(links, ", ")
}

// ghListing is the recorded listing of the pull request's comments, three
// pages of up to 100 (shortened), the plan of prod/cache on the last.
var ghListing = []exchange{
	{
		method: "GET", path: ghComments, query: "per_page=100",
		status: 200, file: "issue-comments-page-1.json",
		header: ghHeaders("Link", ghLinks("next", "2", "last", "3")),
	},
	{
		method: "GET", path: ghComments, query: "page=2&per_page=100",
		status: 200, file: "issue-comments-page-2.json",
		header: ghHeaders("Link", ghLinks("prev", "1", "next", "3", "last", "3", "first", "1")),
	},
	{
		method: "GET", path: ghComments, query: "page=3&per_page=100",
		status: 200, file: "issue-comments-page-3.json",
		header: ghHeaders("Link", ghLinks("prev", "2", "first", "1")),
	},
}

func newTestGitHub(t *testing.T, script ...exchange) (*GitHub, *replay) {
	t.Helper()
	r := newReplay(t, "testdata/github", ghAuth, script...)
	g, err := NewGitHub(r.URL, "octo-org", "clusters", ghToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g, r
}

func TestGitHubListComments(t *testing.T) {
	g, _ := newTestGitHub(t, ghListing...)
	got, err := g.ListComments(t.Context(), ghPR)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{2100771101, 2100771245, 2100790311, 2100791870, 2100802456}
	if len(got) != len(want) {
		t.Fatalf("ListComments returned %d comments, want %d: %+v", len(got), len(want), got)
	}
	for i, c := range got {
		if c.ID != want[i] {
			t.Errorf("comment %d has ID %d, want %d", i, c.ID, want[i])
		}
	}
	if got, want := got[4].Body, "<!-- redis-gitops plan prod/cache -->\n### prod/cache\n\nScale from 3 to 4 shards."; got != want {
		t.Errorf("last comment's body = %q, want %q", got, want)
	}
}

func TestGitHubUpsert(t *testing.T) {
	t.Run("edits the plan found on page 3", func(t *testing.T) {
		g, _ := newTestGitHub(t, append(ghListing, exchange{
			method: "PATCH", path: ghComment + "2100802456",
			body:   `{"body": "<!-- redis-gitops plan prod/cache -->\n### prod/cache\n\nScale from 3 to 6 shards."}`,
			status: 200, file: "issue-comment-edited.json", header: ghHeaders(),
		})...)
		ids, err := Upsert(t.Context(), g, ghPR, cacheMarker, "### prod/cache\n\nScale from 3 to 6 shards.")
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids[0] != 2100802456 {
			t.Errorf("Upsert = %v, want the existing comment [2100802456]", ids)
		}
	})
	t.Run("an unchanged plan is not edited", func(t *testing.T) {
		g, _ := newTestGitHub(t, ghListing...)
		ids, err := Upsert(t.Context(), g, ghPR, cacheMarker, "### prod/cache\n\nScale from 3 to 4 shards.")
		if err != nil || len(ids) != 1 || ids[0] != 2100802456 {
			t.Errorf("Upsert = %v, %v; want [2100802456]", ids, err)
		}
	})
	t.Run("creates the plan", func(t *testing.T) {
		g, _ := newTestGitHub(t,
			exchange{
				method: "GET", path: ghComments, query: "per_page=100",
				status: 200, file: "issue-comments-no-plan.json", header: ghHeaders(),
			},
			exchange{
				method: "POST", path: ghComments,
				body:   `{"body": "<!-- redis-gitops plan prod/cache -->\n### prod/cache\n\nScale from 3 to 4 shards."}`,
				status: 201, file: "issue-comment-created.json",
				header: ghHeaders("Location", "https://api.github.com/repos/octo-org/clusters/issues/comments/2100815532"),
			},
		)
		ids, err := Upsert(t.Context(), g, ghPR, cacheMarker, "### prod/cache\n\nScale from 3 to 4 shards.")
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids[0] != 2100815532 {
			t.Errorf("Upsert = %v, want the new comment [2100815532]", ids)
		}
	})
}

// ghLongDescription is cut to GitHub's 140 characters.
const ghLongDescription = "prod/cache: 2 actions, 1 blocked: the new shard count 6 is above maxShards 5 set by the cluster's policy; raise maxShards or split the cluster before merging"

func TestGitHubSetStatus(t *testing.T) {
	cut := oneLine(ghLongDescription, githubMaxDescription)
	if n := len([]rune(cut)); n != 140 || !strings.HasSuffix(cut, "…") {
		t.Fatalf("description cut to %d characters: %q", n, cut)
	}
	g, _ := newTestGitHub(t,
		exchange{
			method: "POST", path: ghStatuses,
			body: fmt.Sprintf(`{"state": "failure", "target_url": "https://redis-gitops.example.com/plans/octo-org/clusters/1347",
				"description": %q, "context": "redis-gitops/prod/cache"}`, cut),
			status: 201, file: "status-created.json", header: ghHeaders(),
		},
		exchange{
			method: "POST", path: ghStatuses,
			body:   `{"state": "pending", "context": "redis-gitops/prod/cache"}`,
			status: 201, file: "status-pending-created.json", header: ghHeaders(),
		},
	)
	err := g.SetStatus(t.Context(), ghSHA, Status{
		Context:     "redis-gitops/prod/cache",
		State:       Failure,
		Description: ghLongDescription,
		TargetURL:   "https://redis-gitops.example.com/plans/octo-org/clusters/1347",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetStatus(t.Context(), ghSHA, Status{Context: "redis-gitops/prod/cache", State: Pending}); err != nil {
		t.Fatal(err)
	}
	if err := g.SetStatus(t.Context(), ghSHA, Status{Context: "redis-gitops/prod/cache", State: "done"}); err == nil {
		t.Error("SetStatus with state \"done\": no error")
	}
}

// TestGitHubRetry replays GitHub's refusals through WithRetry: what it
// tries again, after how long, and what it returns at once.
func TestGitHubRetry(t *testing.T) {
	opts := RetryOptions{Attempts: 5, Base: time.Millisecond, MaxRetryAfter: 5 * time.Second}
	created := exchange{
		method: "POST", path: ghComments, body: `{"body": "plan"}`,
		status: 201, file: "issue-comment-created.json", header: ghHeaders(),
	}
	status := exchange{
		method: "POST", path: ghStatuses, body: `{"state": "pending", "context": "redis-gitops/prod/cache"}`,
		status: 201, file: "status-pending-created.json", header: ghHeaders(),
	}
	pending := Status{Context: "redis-gitops/prod/cache", State: Pending}
	edited := exchange{
		method: "PATCH", path: ghComment + "2100802456", body: `{"body": "plan"}`,
		status: 200, file: "issue-comment-edited.json", header: ghHeaders(),
	}
	// rateLimited is a primary rate limit refusal: 403 and no requests
	// left until X-RateLimit-Reset.
	rateLimited := func(x exchange, reset string) exchange {
		x.status, x.file = 403, "rate-limit-exceeded.json"
		x.header = ghHeaders("X-RateLimit-Remaining", "0", "X-RateLimit-Used", "5000", "X-RateLimit-Reset", reset)
		return x
	}

	t.Run("403 rate limit: tried again at X-RateLimit-Reset", func(t *testing.T) {
		g, r := newTestGitHub(t, rateLimited(created, "{{unix now+1s}}"), created)
		c, err := WithRetryOptions(g, opts).CreateComment(t.Context(), ghPR, "plan")
		if err != nil || c.ID != 2100815532 {
			t.Fatalf("CreateComment = %+v, %v", c, err)
		}
		reset, _ := strconv.ParseInt(r.answer(0).Get("X-RateLimit-Reset"), 10, 64)
		if at := r.requests(); len(at) != 2 || at[1].Before(time.Unix(reset, 0)) {
			t.Errorf("requests at %v, want the second after the reset at %v", at, time.Unix(reset, 0))
		}
	})

	t.Run("429 secondary rate limit: tried again after Retry-After", func(t *testing.T) {
		limited := status
		limited.status, limited.file = 429, "secondary-rate-limit.json"
		limited.header = ghHeaders("Retry-After", "1")
		g, r := newTestGitHub(t, limited, status)
		if err := WithRetryOptions(g, opts).SetStatus(t.Context(), ghSHA, pending); err != nil {
			t.Fatal(err)
		}
		if at := r.requests(); len(at) != 2 || at[1].Sub(at[0]) < time.Second {
			t.Errorf("requests at %v, want the second a second after the first", at)
		}
	})

	t.Run("502: tried again after a backoff", func(t *testing.T) {
		bad := edited
		bad.status, bad.file = 502, "bad-gateway.html"
		bad.header = map[string]string{"Content-Type": "text/html"}
		g, r := newTestGitHub(t, bad, bad, edited)
		if err := WithRetryOptions(g, opts).EditComment(t.Context(), 2100802456, "plan"); err != nil {
			t.Fatal(err)
		}
		if n := len(r.requests()); n != 3 {
			t.Errorf("%d requests, want 3", n)
		}
	})

	t.Run("404: returned at once", func(t *testing.T) {
		missing := edited
		missing.status, missing.file = 404, "not-found.json"
		g, r := newTestGitHub(t, missing)
		err := WithRetryOptions(g, opts).EditComment(t.Context(), 2100802456, "plan")
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 404 || he.Temporary() {
			t.Errorf("EditComment = %v, want a final *HTTPError 404", err)
		}
		if n := len(r.requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})

	t.Run("403 without a rate limit: returned at once", func(t *testing.T) {
		forbidden := status
		forbidden.status, forbidden.file = 403, "forbidden.json"
		g, r := newTestGitHub(t, forbidden)
		err := WithRetryOptions(g, opts).SetStatus(t.Context(), ghSHA, pending)
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 403 || he.RateLimited {
			t.Errorf("SetStatus = %v, want a 403 that is no rate limit", err)
		}
		if err == nil || !strings.Contains(err.Error(), "Resource not accessible by integration") {
			t.Errorf("SetStatus = %v, want GitHub's message", err)
		}
		if n := len(r.requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})

	t.Run("a quota exhausted for an hour: returned at once", func(t *testing.T) {
		g, r := newTestGitHub(t, rateLimited(status, "{{unix now+1h}}"))
		p := WithRetryOptions(g, opts)
		err := p.SetStatus(t.Context(), ghSHA, pending)
		var he *HTTPError
		if !errors.As(err, &he) || !he.RateLimited || he.RetryAfter < 59*time.Minute {
			t.Fatalf("SetStatus = %v, want a rate limit to wait about an hour for", err)
		}
		// go-github remembers the limit: the next call fails the same way
		// without asking GitHub.
		if err := p.SetStatus(t.Context(), ghSHA, pending); !errors.As(err, &he) || !he.RateLimited {
			t.Errorf("second SetStatus = %v, want the remembered rate limit", err)
		}
		if n := len(r.requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

func TestNewGitHub(t *testing.T) {
	for _, args := range [][3]string{{"", "clusters", "t"}, {"octo-org", "", "t"}, {"octo-org", "clusters", ""}} {
		if _, err := NewGitHub("", args[0], args[1], args[2], nil); err == nil {
			t.Errorf("NewGitHub(%q, %q, token %q): no error", args[0], args[1], args[2])
		}
	}
	g, err := NewGitHub("", "octo-org", "clusters", "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.client.BaseURL.String(), "https://api.github.com/"; got != want {
		t.Errorf("base URL %s, want %s", got, want)
	}
	g, err = NewGitHub("https://github.example.com", "octo-org", "clusters", "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.client.BaseURL.String(), "https://github.example.com/api/v3/"; got != want {
		t.Errorf("Enterprise base URL %s, want %s", got, want)
	}
}
