package forge

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// The drift pull request's exchanges with GitHub's REST API v3 for
// octo-org/clusters, in the shape GitHub answers them (bodies shortened,
// in testdata/github).
const (
	ghPulls       = "/api/v3/repos/octo-org/clusters/pulls"
	ghDriftBranch = "redis-gitops/drift/prod/cache"
	ghDriftBody   = "<!-- redis-gitops drift prod/cache -->\n### Drift of prod/cache\n\n`maxmemory` is 209715200 on cache-0, cache-1, cache-2; the spec says 100mb."
)

func TestGitHubListPullRequests(t *testing.T) {
	g, _ := newTestGitHub(t, exchange{
		method: "GET", path: ghPulls, query: "state=all&head=octo-org:" + ghDriftBranch + "&per_page=100",
		status: 200, file: "pulls-by-head.json", header: ghHeaders(),
	})
	got, err := g.ListPullRequests(t.Context(), ghDriftBranch)
	if err != nil {
		t.Fatal(err)
	}
	want := []PullRequest{
		{Number: 1402, Open: true, Merged: false},
		{Number: 1361, Open: false, Merged: true},
		{Number: 1358, Open: false, Merged: false},
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d pull requests, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if g := got[i]; g.Number != w.Number || g.Open != w.Open || g.Merged != w.Merged || g.Head != ghDriftBranch || g.Base != "main" {
			t.Errorf("pull request %d = #%d open %v merged %v %s→%s, want #%d open %v merged %v %s→main",
				i, g.Number, g.Open, g.Merged, g.Head, g.Base, w.Number, w.Open, w.Merged, ghDriftBranch)
		}
	}
	if got[0].Body != ghDriftBody || got[0].URL != "https://github.com/octo-org/clusters/pull/1402" {
		t.Errorf("open pull request's body %q, URL %q", got[0].Body, got[0].URL)
	}
}

func TestGitHubCreatePullRequest(t *testing.T) {
	create := exchange{
		method: "POST", path: ghPulls,
		body:   `{"title":"redis-gitops: drift of prod/cache","head":"` + ghDriftBranch + `","base":"main","body":` + jsonString(ghDriftBody) + `,"maintainer_can_modify":false}`,
		status: 201, file: "pull-created.json", header: ghHeaders(),
	}
	t.Run("opens it", func(t *testing.T) {
		g, _ := newTestGitHub(t, create)
		pr, err := g.CreatePullRequest(t.Context(), PullRequest{Head: ghDriftBranch, Base: "main", Title: "redis-gitops: drift of prod/cache", Body: ghDriftBody})
		if err != nil {
			t.Fatal(err)
		}
		if pr.Number != 1402 || !pr.Open || pr.Head != ghDriftBranch {
			t.Errorf("opened %+v, want #1402 open from %s", pr, ghDriftBranch)
		}
	})
	t.Run("a second one for the same branch is refused, not retried", func(t *testing.T) {
		refused := create
		refused.status, refused.file = 422, "pull-exists.json"
		g, r := newTestGitHub(t, refused)
		_, err := WithRetryPullRequests(g, 3, time.Millisecond).CreatePullRequest(t.Context(),
			PullRequest{Head: ghDriftBranch, Base: "main", Title: "redis-gitops: drift of prod/cache", Body: ghDriftBody})
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 422 {
			t.Errorf("err = %v, want the 422", err)
		}
		if n := len(r.requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
	t.Run("head and base are checked before asking", func(t *testing.T) {
		g, _ := newTestGitHub(t)
		if _, err := g.CreatePullRequest(t.Context(), PullRequest{Head: "main", Base: "main", Title: "x"}); err == nil {
			t.Error("a pull request from main into main was asked for")
		}
	})
}

func TestGitHubEditAndClosePullRequest(t *testing.T) {
	g, _ := newTestGitHub(t,
		exchange{
			method: "PATCH", path: ghPulls + "/1402",
			body:   `{"title":"redis-gitops: drift of prod/cache (2 changes)","body":"<!-- redis-gitops drift prod/cache -->\nupdated"}`,
			status: 200, file: "pull-edited.json", header: ghHeaders(),
		},
		exchange{
			method: "PATCH", path: ghPulls + "/1402", body: `{"state":"closed"}`,
			status: 200, file: "pull-closed.json", header: ghHeaders(),
		},
	)
	if err := g.EditPullRequest(t.Context(), 1402, "redis-gitops: drift of prod/cache (2 changes)", "<!-- redis-gitops drift prod/cache -->\nupdated"); err != nil {
		t.Fatal(err)
	}
	if err := g.ClosePullRequest(t.Context(), 1402); err != nil {
		t.Fatal(err)
	}
}

func TestGitHubPullRequestsRetry(t *testing.T) {
	g, r := newTestGitHub(t,
		exchange{
			method: "GET", path: ghPulls, query: "state=all&head=octo-org:" + ghDriftBranch + "&per_page=100",
			status: 502, file: "bad-gateway.html", header: map[string]string{"Content-Type": "text/html"},
		},
		exchange{
			method: "GET", path: ghPulls, query: "state=all&head=octo-org:" + ghDriftBranch + "&per_page=100",
			status: 200, file: "pulls-none.json", header: ghHeaders(),
		},
	)
	got, err := WithRetryPullRequests(g, 3, time.Millisecond).ListPullRequests(t.Context(), ghDriftBranch)
	if err != nil || len(got) != 0 {
		t.Errorf("ListPullRequests = %+v, %v; want none after one retry", got, err)
	}
	if n := len(r.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
