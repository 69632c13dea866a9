package gitsource

import (
	"context"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// A pull request's head (refs/pull/N/head, as forges publish it) and the
// base branch are read without touching the clone of the watched branch.
func TestSpecFilesAt(t *testing.T) {
	forEachTransport(t, func(t *testing.T, r *remote) {
		base := r.commit("main", map[string]string{"clusters/a.yaml": "a: 1\n", "README.md": "x"}, "base")
		r.setRef("feature", base)
		head := r.commit("feature", map[string]string{"clusters/a.yaml": "a: 2\n", "clusters/team/b.yml": "b: 1\n", "clusters/.hidden/c.yaml": "c", "clusters/notes.txt": "n"}, "head")
		repo := r.open()
		if err := repo.Storer.SetReference(plumbing.NewHashReference("refs/pull/7/head", plumbing.NewHash(head))); err != nil {
			t.Fatal(err)
		}
		s := r.source("")
		sha, files, err := s.SpecFilesAt(context.Background(), "refs/pull/7/head")
		if err != nil {
			t.Fatal(err)
		}
		if sha != head || len(files) != 2 || string(files["clusters/a.yaml"]) != "a: 2\n" || string(files["clusters/team/b.yml"]) != "b: 1\n" {
			t.Errorf("head: %s %v", sha, files)
		}
		sha, files, err = s.SpecFilesAt(context.Background(), "main")
		if err != nil || sha != base || len(files) != 1 || string(files["clusters/a.yaml"]) != "a: 1\n" {
			t.Errorf("base: %s %v %v", sha, files, err)
		}
		if _, _, err := s.SpecFilesAt(context.Background(), "refs/pull/8/head"); err == nil {
			t.Error("a missing reference is no error")
		}
		if _, ok := s.Last(); ok {
			t.Error("reading a ref touched the watched branch's snapshot")
		}
	})
}
