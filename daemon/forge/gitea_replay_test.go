package forge

import (
	"errors"
	"testing"
	"time"
)

// Gitea itself neither rate-limits its API nor pages a pull request's
// comments (1.26 answers them all at once); a proxy in front of it may do
// the first and a later Gitea the second. These recordings stand in for
// both, which the real Gitea of gitea_test.go cannot show.
const (
	giteaToken    = "6f4c1d2e3b5a69788796a5b4c3d2e1f0a9b8c7d6"
	giteaComments = "/api/v1/repos/tester/plans/issues/1/comments"
)

func newTestGitea(t *testing.T, script ...exchange) (*Gitea, *replay) {
	t.Helper()
	r := newReplay(t, "testdata/gitea", "token "+giteaToken, script...)
	g, err := NewGitea(r.URL, "tester", "plans", giteaToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g, r
}

func TestGiteaListCommentsPages(t *testing.T) {
	g, _ := newTestGitea(t,
		exchange{
			method: "GET", path: giteaComments, query: "page=1&limit=50",
			status: 200, file: "comments-page-1.json",
			header: map[string]string{
				"Link":          `<http://127.0.0.1:3000/api/v1/repos/tester/plans/issues/1/comments?limit=50&page=2>; rel="next",<http://127.0.0.1:3000/api/v1/repos/tester/plans/issues/1/comments?limit=50&page=2>; rel="last"`,
				"X-Total-Count": "3",
			},
		},
		exchange{
			method: "GET", path: giteaComments, query: "page=2&limit=50",
			status: 200, file: "comments-page-2.json",
			header: map[string]string{
				"Link":          `<http://127.0.0.1:3000/api/v1/repos/tester/plans/issues/1/comments?limit=50&page=1>; rel="first",<http://127.0.0.1:3000/api/v1/repos/tester/plans/issues/1/comments?limit=50&page=1>; rel="prev"`,
				"X-Total-Count": "3",
			},
		},
	)
	got, err := g.ListComments(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != 11 || got[2].ID != 14 || got[2].Body != "<!-- redis-gitops plan prod/cache -->\nScale from 3 to 4 masters." {
		t.Errorf("ListComments = %+v, want comments 11, 12 and 14", got)
	}
}

func TestGiteaRetry429(t *testing.T) {
	created := exchange{
		method: "POST", path: giteaComments, body: `{"body": "<!-- redis-gitops plan prod/cache -->\nplan"}`,
		status: 201, file: "comment-created.json",
	}
	limited := created
	limited.status, limited.file = 429, "too-many-requests.html"
	limited.header = map[string]string{"Content-Type": "text/html", "Retry-After": "1"}

	t.Run("tried again after Retry-After", func(t *testing.T) {
		g, r := newTestGitea(t, limited, created)
		c, err := WithRetry(g, 3, time.Millisecond).CreateComment(t.Context(), 1, "<!-- redis-gitops plan prod/cache -->\nplan")
		if err != nil || c.ID != 15 {
			t.Fatalf("CreateComment = %+v, %v", c, err)
		}
		if at := r.requests(); len(at) != 2 || at[1].Sub(at[0]) < time.Second {
			t.Errorf("requests at %v, want the second a second after the first", at)
		}
	})
	t.Run("an HTTPError without retries", func(t *testing.T) {
		g, _ := newTestGitea(t, limited)
		_, err := g.CreateComment(t.Context(), 1, "<!-- redis-gitops plan prod/cache -->\nplan")
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 429 || !he.RateLimited || he.RetryAfter != time.Second {
			t.Errorf("CreateComment = %#v, want a 429 to wait 1s for", err)
		}
	})
}
