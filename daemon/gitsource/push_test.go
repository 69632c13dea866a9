package gitsource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/object"
)

func mustPush(t *testing.T, s *Source, c Commit) string {
	t.Helper()
	h, err := s.Push(context.Background(), c)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	return h
}

func report(files map[string]string) Commit {
	c := Commit{
		Files:   map[string][]byte{},
		Message: "status",
		Author:  object.Signature{Name: "redis-gitops", Email: "bot@example.com"},
	}
	for p, content := range files {
		if content == deleted {
			c.Files[p] = nil
		} else {
			c.Files[p] = []byte(content)
		}
	}
	return c
}

func TestPush(t *testing.T) {
	forEachTransport(t, func(t *testing.T, r *remote) {
		seed(r)
		s := r.source("")
		synced := mustSync(t, s)

		// Both files in one commit on top of the head, from a shallow clone.
		h := mustPush(t, s, report(map[string]string{
			"status/default/a.yaml": "phase: Ready\n",
			"status/default/a.md":   "# a\nReady\n",
		}))
		if h == "" || r.head("main") != h {
			t.Fatalf("Push = %q, remote main at %s; want our commit there", h, r.head("main"))
		}
		c := r.commitObject(h)
		if len(c.ParentHashes) != 1 || c.ParentHashes[0].String() != synced.Head {
			t.Errorf("parents = %v, want [%s]", c.ParentHashes, synced.Head)
		}
		if c.Author.Email != "bot@example.com" || c.Message != "status" || c.Author.When.IsZero() {
			t.Errorf("commit author %+v, message %q", c.Author, c.Message)
		}
		for p, want := range map[string]string{"status/default/a.yaml": "phase: Ready\n", "status/default/a.md": "# a\nReady\n", "clusters/a.yaml": specA} {
			if got, _ := r.file("main", p); got != want {
				t.Errorf("remote %s = %q, want %q", p, got, want)
			}
		}
		r.fsck()
		if !s.Ours(h) || s.Ours(synced.Head) {
			t.Errorf("Ours(ours) = %v, Ours(someone's) = %v; want true, false", s.Ours(h), s.Ours(synced.Head))
		}

		// The same content again: no commit, no push.
		if again := mustPush(t, s, report(map[string]string{"status/default/a.yaml": "phase: Ready\n"})); again != "" || r.head("main") != h {
			t.Errorf("unchanged Push = %q, remote main %s; want \"\" and still %s", again, r.head("main"), h)
		}
		if none := mustPush(t, s, report(map[string]string{"status/default/gone.md": deleted})); none != "" {
			t.Errorf("deleting an absent file = %q, want \"\"", none)
		}

		// One file changed, one deleted.
		h2 := mustPush(t, s, report(map[string]string{
			"status/default/a.yaml": "phase: Degraded\n",
			"status/default/a.md":   deleted,
		}))
		if h2 == "" || r.head("main") != h2 || !r.isAncestor(h, h2) {
			t.Fatalf("second Push = %q on top of %s, remote main %s", h2, h, r.head("main"))
		}
		if got, _ := r.file("main", "status/default/a.yaml"); got != "phase: Degraded\n" {
			t.Errorf("a.yaml = %q after the second push", got)
		}
		if _, ok := r.file("main", "status/default/a.md"); ok {
			t.Error("a.md still on the remote after its deletion")
		}
		r.fsck()

		// Deleting the last file of a directory removes the directory.
		if h3 := mustPush(t, s, report(map[string]string{"status/default/a.yaml": deleted})); h3 == "" {
			t.Fatal("deleting the last status file pushed nothing")
		}
		if _, err := r.commitObject(r.head("main")).File("status/default/a.yaml"); err == nil {
			t.Error("status/default/a.yaml still there")
		}
		r.fsck()

		// The status commits leave the specs where they were.
		if got := mustSync(t, s); got.Changed || got.Revision != synced.Revision || got.Head != r.head("main") {
			t.Errorf("Sync after status pushes = %+v, want unchanged Revision %s at the new head", got, synced.Revision)
		}
	})
}

func TestPushToSeparateStatusBranch(t *testing.T) {
	forEachTransport(t, func(t *testing.T, r *remote) {
		mainHead := seed(r)
		s := r.source("")
		c := report(map[string]string{"status/default/a.yaml": "phase: Ready\n"})
		c.Branch = "status"

		h := mustPush(t, s, c)
		if r.head("status") != h {
			t.Fatalf("status branch at %q, want %s", r.head("status"), h)
		}
		if p := r.commitObject(h).ParentHashes; len(p) != 1 || p[0].String() != mainHead {
			t.Errorf("first status commit's parents = %v, want the watched head %s", p, mainHead)
		}
		if r.head("main") != mainHead {
			t.Errorf("main moved to %s", r.head("main"))
		}

		// The next one builds on the status branch, not on main.
		r.commit("main", map[string]string{"clusters/a.yaml": specA2}, "a2")
		c.Files["status/default/a.yaml"] = []byte("phase: Degraded\n")
		h2 := mustPush(t, s, c)
		if p := r.commitObject(h2).ParentHashes; len(p) != 1 || p[0].String() != h {
			t.Errorf("second status commit's parents = %v, want [%s]", p, h)
		}
		r.fsck()
	})
}

// TestPushRace has another writer commit to the status branch between our
// fetch and our push: before we open the push (we see the move in the
// advertisement) or after the advertisement (the server refuses our update
// because the branch is no longer at our base).
func TestPushRace(t *testing.T) {
	for _, stage := range []string{"built", "advertised"} {
		t.Run(stage, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, r *remote) {
				seed(r)
				s := r.source("")
				var theirs string
				s.testHook = func(at string, attempt int) {
					if at == stage && attempt == 1 {
						theirs = r.commit("main", map[string]string{"status/default/other.yaml": "theirs\n"}, "another writer")
					}
				}

				ours := mustPush(t, s, report(map[string]string{"status/default/a.yaml": "ours\n"}))
				if ours == "" || r.head("main") != ours {
					t.Fatalf("Push = %q, remote main %s", ours, r.head("main"))
				}
				if !r.isAncestor(theirs, ours) {
					t.Errorf("their commit %s is not an ancestor of ours %s", theirs, ours)
				}
				for p, want := range map[string]string{"status/default/other.yaml": "theirs\n", "status/default/a.yaml": "ours\n"} {
					if got, _ := r.file("main", p); got != want {
						t.Errorf("%s = %q, want %q", p, got, want)
					}
				}
				r.fsck()
			})
		})
	}
}

func TestPushRaceWithTheSameContent(t *testing.T) {
	forEachTransport(t, func(t *testing.T, r *remote) {
		seed(r)
		s := r.source("")
		var theirs string
		s.testHook = func(at string, attempt int) {
			if at == "advertised" && attempt == 1 {
				theirs = r.commit("main", map[string]string{"status/default/a.yaml": "same\n"}, "another writer")
			}
		}
		if h := mustPush(t, s, report(map[string]string{"status/default/a.yaml": "same\n"})); h != "" {
			t.Errorf("Push = %q, want \"\": after the retry nothing differs", h)
		}
		if r.head("main") != theirs {
			t.Errorf("remote main at %s, want their %s", r.head("main"), theirs)
		}
	})
}

func TestPushGivesUpWhenTheBranchKeepsMoving(t *testing.T) {
	r := newRemote(t, "file", nil)
	seed(r)
	s := r.source("")
	var theirs []string
	s.testHook = func(at string, attempt int) {
		if at == "advertised" {
			theirs = append(theirs, r.commit("main", map[string]string{"status/x.yaml": strings.Repeat("x", attempt)}, "busy"))
		}
	}
	_, err := s.Push(context.Background(), report(map[string]string{"status/default/a.yaml": "ours\n"}))
	if !errors.Is(err, ErrPushConflict) {
		t.Fatalf("Push = %v, want %v", err, ErrPushConflict)
	}
	if len(theirs) != maxPushAttempts || r.head("main") != theirs[len(theirs)-1] {
		t.Errorf("%d attempts, remote main %s; want %d attempts and their last commit kept", len(theirs), r.head("main"), maxPushAttempts)
	}
}

func TestPushRejectsBadPaths(t *testing.T) {
	r := newRemote(t, "file", nil)
	seed(r)
	s := r.source("")
	for _, p := range []string{"", "/status/a", "status//a", "status/./a", "../a", "status/../../a", "status/", ".git/config", "x/.GIT/hooks/pre-commit", "a\\b", "a\x00b"} {
		if h, err := s.Push(context.Background(), report(map[string]string{p: "x"})); err == nil {
			t.Errorf("Push of %q = %q, want an error", p, h)
		}
	}
	for _, files := range []map[string]string{
		{"clusters": "a file where a directory is"},
		{"README.md/x": "a directory where a file is"},
		{"status/a": "x", "status/a/b": "both"},
	} {
		if h, err := s.Push(context.Background(), report(files)); err == nil {
			t.Errorf("Push of %v = %q, want an error", files, h)
		}
	}
	if got := r.commitObject(r.head("main")).Message; got != "specs" {
		t.Errorf("remote head is %q, want the seed untouched", got)
	}
}

// TestSyncAndPushTogether calls both from several goroutines, as a webhook
// and the loop might: they take turns on the one clone (run with -race).
func TestSyncAndPushTogether(t *testing.T) {
	r := newRemote(t, "file", nil)
	seed(r)
	s := r.source("")
	errs := make(chan error, 8)
	for i := range 4 {
		go func() {
			_, err := s.Sync(context.Background())
			errs <- err
		}()
		go func() {
			_, err := s.Push(context.Background(), report(map[string]string{fmt.Sprintf("status/default/%d.yaml", i): "ok\n"}))
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for i := range 4 {
		if _, ok := r.file("main", fmt.Sprintf("status/default/%d.yaml", i)); !ok {
			t.Errorf("status/default/%d.yaml missing", i)
		}
	}
	if got := mustSync(t, s); got.Head != r.head("main") || got.Changed {
		t.Errorf("final Sync = %+v, want the remote head %s, unchanged specs", got, r.head("main"))
	}
	r.fsck()
}
