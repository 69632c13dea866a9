package forge_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redis-gitops/redis-gitops/daemon/forge"
	"github.com/redis-gitops/redis-gitops/internal/giteatest"
)

func TestMain(m *testing.M) { os.Exit(giteatest.Main(m.Run)) }

// giteaPR opens a pull request changing a cluster spec on a new repository
// of the shared Gitea, and returns a Provider for the repository, the pull
// request's number and its head commit.
func giteaPR(t *testing.T, name string) (*giteatest.Server, giteatest.Repo, forge.Provider, int, string) {
	t.Helper()
	srv := giteatest.Shared(t)
	repo := srv.CreateRepo(t, name)
	srv.PutFile(t, repo, "main", "clusters/cache.yaml", "masters: 3\n", "add cache")
	srv.CreateBranch(t, repo, "scale-out", "main")
	head := srv.PutFile(t, repo, "scale-out", "clusters/cache.yaml", "masters: 4\n", "cache: 4 masters")
	pr := srv.CreatePullRequest(t, repo, "scale-out", "main", "Scale cache out to 4 masters")
	g, err := forge.NewGitea(srv.URL, repo.Owner, repo.Name, srv.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return srv, repo, forge.WithRetry(g, 3, 10*time.Millisecond), pr, head
}

// marked returns the comments of the pull request whose body starts with
// the marker's stem ("<!-- redis-gitops plan prod/cache").
func marked(t *testing.T, srv *giteatest.Server, repo giteatest.Repo, pr int, marker string) []giteatest.IssueComment {
	t.Helper()
	stem := strings.TrimSuffix(marker, " -->")
	var found []giteatest.IssueComment
	for _, c := range srv.PullComments(t, repo, pr) {
		if first, _, _ := strings.Cut(c.Body, "\n"); first == marker || strings.HasPrefix(first, stem+" part ") {
			found = append(found, c)
		}
	}
	return found
}

func TestGiteaUpsert(t *testing.T) {
	srv, repo, p, pr, _ := giteaPR(t, "forge-upsert")
	const (
		cache    = "<!-- redis-gitops plan prod/cache -->"
		sessions = "<!-- redis-gitops plan prod/sessions -->"
	)
	first, err := forge.Upsert(t.Context(), p, pr, cache, "### prod/cache\n\nScale from 3 to 4 masters.")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := forge.Upsert(t.Context(), p, pr, sessions, "### prod/sessions\n\nNo change."); err != nil {
		t.Fatal(err)
	}
	// The next push: the plan changes, the comment stays.
	second, err := forge.Upsert(t.Context(), p, pr, cache, "### prod/cache\n\nScale from 3 to 5 masters.")
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || len(second) != 1 || first[0] != second[0] {
		t.Errorf("Upsert returned %v, then %v; want the same one comment", first, second)
	}
	got := marked(t, srv, repo, pr, cache)
	if len(got) != 1 {
		t.Fatalf("%d comments carry the marker, want 1: %+v", len(got), got)
	}
	if want := cache + "\n### prod/cache\n\nScale from 3 to 5 masters."; got[0].ID != first[0] || got[0].Body != want {
		t.Errorf("plan comment = %d %q, want %d %q", got[0].ID, got[0].Body, first[0], want)
	}
	if got := marked(t, srv, repo, pr, sessions); len(got) != 1 || !strings.HasSuffix(got[0].Body, "No change.") {
		t.Errorf("the other cluster's plan: %+v", got)
	}

	// A plan longer than a comment takes three; a short one again leaves
	// two superseded.
	var long strings.Builder
	for i := 0; long.Len() < 2*forge.MaxCommentLen+1000; i++ {
		fmt.Fprintf(&long, "| %d | slot %d | moves to shard %d |\n", i, i, i%5)
	}
	table := "| key | slot | plan |\n|---|---|---|\n" + long.String()
	ids, err := forge.Upsert(t.Context(), p, pr, cache, table)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || ids[0] != first[0] {
		t.Fatalf("Upsert of a long plan = %v, want 3 comments, the first %d", ids, first[0])
	}
	got = marked(t, srv, repo, pr, cache)
	if len(got) != 3 {
		t.Fatalf("%d comments carry the marker, want 3", len(got))
	}
	for i, c := range got {
		if want := fmt.Sprintf("<!-- redis-gitops plan prod/cache part %d/3 -->\n| key | slot | plan |\n|---|---|---|\n", i+1); c.ID != ids[i] || !strings.HasPrefix(c.Body, want) {
			t.Errorf("part %d = %d %.120q, want %d starting %q", i+1, c.ID, c.Body, ids[i], want)
		}
		if len(c.Body) > forge.MaxCommentLen {
			t.Errorf("part %d is %d bytes", i+1, len(c.Body))
		}
	}
	if _, err := forge.Upsert(t.Context(), p, pr, cache, "### prod/cache\n\nNo change."); err != nil {
		t.Fatal(err)
	}
	got = marked(t, srv, repo, pr, cache)
	want := []string{
		cache + "\n### prod/cache\n\nNo change.",
		"<!-- redis-gitops plan prod/cache part 2 superseded -->\n" + forge.Superseded,
		"<!-- redis-gitops plan prod/cache part 3 superseded -->\n" + forge.Superseded,
	}
	if len(got) != len(want) {
		t.Fatalf("%d comments carry the marker, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != ids[i] || got[i].Body != want[i] {
			t.Errorf("comment %d = %d %q, want %d %q", i+1, got[i].ID, got[i].Body, ids[i], want[i])
		}
	}
}

func TestGiteaSetStatus(t *testing.T) {
	srv, repo, p, _, head := giteaPR(t, "forge-status")
	const context = "redis-gitops/plan/prod/cache"
	if err := p.SetStatus(t.Context(), head, forge.Status{Context: context, State: forge.Pending, Description: "planning"}); err != nil {
		t.Fatal(err)
	}
	long := "3×0 → 4×0: " + strings.Repeat("move 4096 slots, ", 20)
	err := p.SetStatus(t.Context(), head, forge.Status{
		Context:     context,
		State:       forge.Success,
		Description: long,
		TargetURL:   "https://redis-gitops.example.com/plans/1",
	})
	if err != nil {
		t.Fatal(err)
	}
	var got *giteatest.CommitStatus
	for _, s := range srv.CommitStatuses(t, repo, head) {
		if s.Context == context {
			got = &s
		}
	}
	if got == nil {
		t.Fatalf("no status %s on %s", context, head)
	}
	if got.State != "success" || got.TargetURL != "https://redis-gitops.example.com/plans/1" {
		t.Errorf("status = %+v, want success linking to the plan", got)
	}
	if n := utf8.RuneCountInString(got.Description); n > 255 || n < 250 || !strings.HasPrefix(got.Description, "3×0 → 4×0: move 4096 slots") || !strings.HasSuffix(got.Description, "…") {
		t.Errorf("description = %q (%d characters), want it cut to 255 with …", got.Description, n)
	}
}

func TestGiteaErrors(t *testing.T) {
	srv, repo, p, pr, _ := giteaPR(t, "forge-errors")
	var he *forge.HTTPError
	err := p.EditComment(t.Context(), 999999, "plan")
	if !errors.As(err, &he) || he.StatusCode != 404 || he.Temporary() {
		t.Errorf("EditComment of a missing comment = %v, want a final 404", err)
	}
	// Gitea 1.26 answers 500 for a commit it does not have (say one
	// force-pushed away), which WithRetry tries again before giving up.
	err = p.SetStatus(t.Context(), "0123456789abcdef0123456789abcdef01234567", forge.Status{Context: "redis-gitops/specs", State: forge.Success})
	if !errors.As(err, &he) || he.StatusCode != 500 || !strings.Contains(err.Error(), "object does not exist") {
		t.Errorf("SetStatus on a missing commit = %v, want Gitea's 500", err)
	}
	bad, err := forge.NewGitea(srv.URL, repo.Owner, repo.Name, "0000000000000000000000000000000000000000", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.ListComments(t.Context(), pr)
	if !errors.As(err, &he) || he.StatusCode != 401 {
		t.Errorf("ListComments with a wrong token = %v, want 401", err)
	}
}

func TestNewGitea(t *testing.T) {
	for _, args := range [][4]string{
		{"gitea.example.com", "o", "r", "t"},
		{"ftp://gitea.example.com", "o", "r", "t"},
		{"https://gitea.example.com", "", "r", "t"},
		{"https://gitea.example.com", "o", "", "t"},
		{"https://gitea.example.com", "o", "r", ""},
	} {
		if _, err := forge.NewGitea(args[0], args[1], args[2], args[3], nil); err == nil {
			t.Errorf("NewGitea%q: no error", args)
		}
	}
}
