package gitsource

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/object"
)

func TestPropose(t *testing.T) {
	forEachTransport(t, func(t *testing.T, r *remote) {
		seed(r)
		s := r.source("")
		mustSync(t, s)
		const branch = "redis-gitops/drift/default/a"
		value := "name: b"
		p := Proposal{
			Branch: branch, File: "clusters/a.yaml",
			Edit: func(old []byte) ([]byte, error) {
				return []byte(strings.Replace(string(old), "name: a", value, 1)), nil
			},
			Message: "drift of default/a", Trailer: "Redis-Gitops-Drift: default/a",
			Author: object.Signature{Name: "redis-gitops", Email: "bot@example.com"},
		}
		ctx := context.Background()

		// The first proposal: one commit on main's head, main untouched.
		main := r.head("main")
		h, err := s.Propose(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if h == "" || r.head(branch) != h || r.head("main") != main {
			t.Fatalf("Propose = %q; branch at %s, main %s (was %s)", h, r.head(branch), r.head("main"), main)
		}
		c := r.commitObject(h)
		if len(c.ParentHashes) != 1 || c.ParentHashes[0].String() != main || !strings.HasSuffix(c.Message, "\n\nRedis-Gitops-Drift: default/a\n") {
			t.Errorf("commit parents %v message %q", c.ParentHashes, c.Message)
		}
		if got, _ := r.file(branch, "clusters/a.yaml"); !strings.Contains(got, "name: b") {
			t.Errorf("proposed file = %q", got)
		}
		if got, _ := r.file(branch, "clusters/b.yaml"); got != specB {
			t.Errorf("other file on the branch = %q, want main's", got)
		}
		r.fsck()

		// main moves for something else: the branch stays as it is.
		r.commit("main", map[string]string{"status/a.yaml": "ready\n"}, "status")
		if again, err := s.Propose(ctx, p); err != nil || again != h || r.head(branch) != h {
			t.Errorf("same proposal after main moved = %q, %v; branch %s; want %s untouched", again, err, r.head(branch), h)
		}

		// A new value: the branch is replaced by one commit on main's new head.
		value = "name: c"
		h2, err := s.Propose(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if c := r.commitObject(h2); h2 == h || c.ParentHashes[0].String() != r.head("main") {
			t.Errorf("new proposal %s has parent %v, want main's head %s", h2, c.ParentHashes, r.head("main"))
		}
		if got, _ := r.file(branch, "clusters/a.yaml"); !strings.Contains(got, "name: c") {
			t.Errorf("proposed file = %q", got)
		}

		// Nothing to change: nothing pushed.
		none := p
		none.Edit = func(old []byte) ([]byte, error) { return old, nil }
		if got, err := s.Propose(ctx, none); err != nil || got != "" || r.head(branch) != h2 {
			t.Errorf("an edit changing nothing = %q, %v", got, err)
		}

		// Someone pushes on top of the branch: it is theirs now, never overwritten.
		theirs := r.commit(branch, map[string]string{"clusters/a.yaml": "mine\n"}, "my own fix")
		value = "name: d"
		if _, err := s.Propose(ctx, p); !errors.Is(err, ErrNotOurs) {
			t.Errorf("Propose over someone's commit: %v, want ErrNotOurs", err)
		}
		if r.head(branch) != theirs {
			t.Errorf("their commit %s was replaced by %s", theirs, r.head(branch))
		}

		// Never the watched branch, never outside redis-gitops/.
		for _, b := range []string{"main", "feature/x"} {
			q := p
			q.Branch = b
			if _, err := s.Propose(ctx, q); err == nil {
				t.Errorf("Propose on %s was allowed", b)
			}
		}
	})
}
