package gitsource

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

const (
	specA  = "apiVersion: redis-gitops.io/v1\nkind: RedisCluster\nmetadata: {name: a}\n"
	specA2 = "apiVersion: redis-gitops.io/v1\nkind: RedisCluster\nmetadata: {name: a}\nspec: {masters: 6}\n"
	specB  = "apiVersion: redis-gitops.io/v1\nkind: RedisCluster\nmetadata: {name: b}\n"
)

// seed gives the remote's main branch two commits (so a depth-1 clone is
// really shallow) holding clusters/a.yaml, clusters/b.yaml and a README.
func seed(r *remote) string {
	r.commit("main", map[string]string{"README.md": "hello\n"}, "readme")
	return r.commit("main", map[string]string{"clusters/a.yaml": specA, "clusters/b.yaml": specB}, "specs")
}

func mustSync(t *testing.T, s *Source) Snapshot {
	t.Helper()
	snap, err := s.Sync(context.Background())
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return snap
}

func TestSyncClonesThenReadsNothingWhenUnmoved(t *testing.T) {
	forEachTransport(t, func(t *testing.T, r *remote) {
		head := seed(r)
		s := r.source("")

		first := mustSync(t, s)
		if !first.Changed || first.Head != head || first.Revision != head || first.SpecTree == "" {
			t.Fatalf("first Sync = %+v, want Changed, Head = Revision = %s, a SpecTree", first, head)
		}
		if got, _ := readSpec(t, first, "clusters/a.yaml"); got != specA {
			t.Errorf("clusters/a.yaml = %q, want %q", got, specA)
		}
		if shallow, err := os.ReadFile(filepath.Join(s.Dir, repoDirName, "shallow")); err != nil || len(shallow) == 0 {
			t.Errorf("clone is not shallow (shallow file: %q, %v)", shallow, err)
		}

		before := listing(t, s.Dir)
		second := mustSync(t, s)
		if want := first; second != (Snapshot{Head: want.Head, Revision: want.Revision, SpecTree: want.SpecTree, Dir: want.Dir}) {
			t.Errorf("second Sync = %+v, want %+v without Changed", second, want)
		}
		// No new object, ref, state or checkout file: nothing was written.
		if after := listing(t, s.Dir); !slices.Equal(before, after) {
			t.Errorf("second Sync wrote to the state dir:\nbefore %q\nafter  %q", before, after)
		}
	})
}

func TestSyncHeadMoves(t *testing.T) {
	tests := []struct {
		name        string
		files       map[string]string
		specChanged bool
		want        map[string]string // checkout path -> content; deleted = absent
	}{
		{
			name:  "status commit",
			files: map[string]string{"status/default/a.yaml": "phase: Ready\n"},
			want:  map[string]string{"clusters/a.yaml": specA, "status/default/a.yaml": deleted},
		},
		{
			name:  "readme",
			files: map[string]string{"README.md": "changed\n"},
			want:  map[string]string{"clusters/a.yaml": specA, "README.md": deleted},
		},
		{
			name:        "spec changed",
			files:       map[string]string{"clusters/a.yaml": specA2},
			specChanged: true,
			want:        map[string]string{"clusters/a.yaml": specA2, "clusters/b.yaml": specB},
		},
		{
			name:        "spec deleted",
			files:       map[string]string{"clusters/b.yaml": deleted},
			specChanged: true,
			want:        map[string]string{"clusters/a.yaml": specA, "clusters/b.yaml": deleted},
		},
		{
			name:        "spec added in a subdirectory",
			files:       map[string]string{"clusters/prod/c.yaml": specB},
			specChanged: true,
			want:        map[string]string{"clusters/prod/c.yaml": specB},
		},
		{
			name:        "spec path removed",
			files:       map[string]string{"clusters/a.yaml": deleted, "clusters/b.yaml": deleted},
			specChanged: true,
			want:        map[string]string{"clusters": deleted},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, r *remote) {
				seed(r)
				s := r.source("")
				first := mustSync(t, s)
				head := r.commit("main", tt.files, tt.name)

				got := mustSync(t, s)
				if got.Head != head {
					t.Errorf("Head = %s, want the new head %s", got.Head, head)
				}
				if got.Changed != tt.specChanged {
					t.Errorf("Changed = %v, want %v", got.Changed, tt.specChanged)
				}
				wantRev, wantTreeSame := first.Revision, true
				if tt.specChanged {
					wantRev, wantTreeSame = head, false
				}
				if got.Revision != wantRev {
					t.Errorf("Revision = %s, want %s", got.Revision, wantRev)
				}
				if (got.SpecTree == first.SpecTree) != wantTreeSame {
					t.Errorf("SpecTree %s, first %s: same = %v, want %v", got.SpecTree, first.SpecTree, !wantTreeSame, wantTreeSame)
				}
				if tt.name == "spec path removed" && got.SpecTree != "" {
					t.Errorf("SpecTree = %s, want \"\" for an absent spec path", got.SpecTree)
				}
				for p, want := range tt.want {
					content, ok := readSpec(t, got, p)
					switch {
					case want == deleted && ok:
						t.Errorf("%s is in the checkout, want it gone", p)
					case want != deleted && content != want:
						t.Errorf("%s = %q, want %q", p, content, want)
					}
				}
				if tt.specChanged && isDir(first.Dir) {
					t.Errorf("old checkout %s still on disk", first.Dir)
				}
			})
		})
	}
}

func TestSyncForcePush(t *testing.T) {
	tests := []struct {
		name  string
		force func(r *remote, older string) string // returns the new head
		want  string                               // clusters/a.yaml at the new head
	}{
		{
			name: "history rewritten",
			force: func(r *remote, _ string) string {
				return r.rewrite("main", map[string]string{"clusters/a.yaml": specB}, "rewritten")
			},
			want: specB,
		},
		{
			// The older commit lies behind the shallow boundary: the clone
			// never had it.
			name:  "reset to an older commit",
			force: func(r *remote, older string) string { r.setRef("main", older); return older },
			want:  specA,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, r *remote) {
				older := seed(r)
				r.commit("main", map[string]string{"clusters/a.yaml": specA2}, "a2")
				s := r.source("")
				if got, _ := readSpec(t, mustSync(t, s), "clusters/a.yaml"); got != specA2 {
					t.Fatalf("before: clusters/a.yaml = %q", got)
				}

				head := tt.force(r, older)
				got := mustSync(t, s)
				if got.Head != head || got.Revision != head || !got.Changed {
					t.Errorf("Sync = %+v, want Head = Revision = %s, Changed", got, head)
				}
				if content, _ := readSpec(t, got, "clusters/a.yaml"); content != tt.want {
					t.Errorf("clusters/a.yaml = %q, want %q", content, tt.want)
				}
			})
		})
	}
}

func TestSyncFetchFailureKeepsLast(t *testing.T) {
	forEachTransport(t, func(t *testing.T, r *remote) {
		seed(r)
		s := r.source("")
		first := mustSync(t, s)
		r.commit("main", map[string]string{"clusters/a.yaml": specA2}, "a2")

		moved := r.dir + ".moved"
		if err := os.Rename(r.dir, moved); err != nil {
			t.Fatal(err)
		}
		if snap, err := s.Sync(context.Background()); err == nil {
			t.Fatalf("Sync with the remote gone = %+v, want an error", snap)
		}
		last, ok := s.Last()
		if !ok || last != first {
			t.Errorf("Last() = %+v, %v; want the first snapshot %+v", last, ok, first)
		}
		if content, _ := readSpec(t, last, "clusters/a.yaml"); content != specA {
			t.Errorf("last checkout clusters/a.yaml = %q, want %q", content, specA)
		}

		if err := os.Rename(moved, r.dir); err != nil {
			t.Fatal(err)
		}
		if got := mustSync(t, s); !got.Changed {
			t.Errorf("Sync after the remote came back = %+v, want Changed", got)
		}
	})
}

func TestSyncMissingBranch(t *testing.T) {
	r := newRemote(t, "file", nil)
	seed(r)
	s := r.source("")
	s.Branch = "nope"
	if _, err := s.Sync(context.Background()); err == nil || !strings.Contains(err.Error(), ErrBranchNotFound.Error()) {
		t.Errorf("Sync of a missing branch: %v, want %v", err, ErrBranchNotFound)
	}
}

func TestSyncRestart(t *testing.T) {
	forEachTransport(t, func(t *testing.T, r *remote) {
		seed(r)
		dir := t.TempDir()
		first := mustSync(t, r.source(dir))

		// A status commit while the daemon was down: the specs are the same.
		statusHead := r.commit("main", map[string]string{"status/default/a.md": "ok\n"}, "status")
		s := r.source(dir)
		if last, ok := s.Last(); !ok || last.Revision != first.Revision || last.Changed {
			t.Errorf("Last() after restart = %+v, %v; want the persisted snapshot at %s", last, ok, first.Revision)
		}
		got := mustSync(t, s)
		if got.Changed || got.Revision != first.Revision || got.Head != statusHead {
			t.Errorf("Sync after restart = %+v, want unchanged Revision %s at Head %s", got, first.Revision, statusHead)
		}

		// A spec commit while down: Changed against the persisted tree.
		specHead := r.commit("main", map[string]string{"clusters/a.yaml": specA2}, "a2")
		got = mustSync(t, r.source(dir))
		if !got.Changed || got.Revision != specHead {
			t.Errorf("Sync after restart = %+v, want Changed at %s", got, specHead)
		}
	})
}

func TestSyncCompactsTheClone(t *testing.T) {
	r := newRemote(t, "file", nil)
	seed(r)
	s := r.source("")
	s.maxPacks = 2
	for i := range 6 {
		content := strings.Repeat("x", i+1)
		r.commit("main", map[string]string{"clusters/a.yaml": content}, "change")
		snap := mustSync(t, s)
		if got, _ := readSpec(t, snap, "clusters/a.yaml"); got != content {
			t.Fatalf("round %d: clusters/a.yaml = %q, want %q", i, got, content)
		}
		packs, _ := filepath.Glob(filepath.Join(s.Dir, repoDirName, "objects", "pack", "*.pack"))
		if len(packs) > s.maxPacks {
			t.Fatalf("round %d: %d packs, want at most %d", i, len(packs), s.maxPacks)
		}
	}
}

// TestRecoversFromACloneMissingObjects damages the clone so that the head
// commit is there but its tree is not, as a shallow fetch that left objects
// out would: Sync and Push clone afresh and go on.
func TestRecoversFromACloneMissingObjects(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, r *remote, s *Source)
	}{
		{"sync", func(t *testing.T, r *remote, s *Source) {
			if got, _ := readSpec(t, mustSync(t, s), "clusters/a.yaml"); got != specA {
				t.Errorf("clusters/a.yaml = %q, want %q", got, specA)
			}
		}},
		{"push", func(t *testing.T, r *remote, s *Source) {
			h := mustPush(t, s, report(map[string]string{"status/default/a.yaml": "ok\n"}))
			if h == "" || r.head("main") != h {
				t.Errorf("Push = %q, remote main %s", h, r.head("main"))
			}
			r.fsck()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRemote(t, "file", nil)
			head := seed(r)
			s := r.source("")
			mustSync(t, s)

			packs, _ := filepath.Glob(filepath.Join(s.Dir, repoDirName, "objects", "pack", "*"))
			for _, p := range packs {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
			commit, err := r.open().Storer.EncodedObject(plumbing.CommitObject, plumbing.NewHash(head))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.repo.Storer.SetEncodedObject(commit); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(s.Dir, checkoutDirName)); err != nil {
				t.Fatal(err)
			}
			tt.run(t, r, r.source(s.Dir)) // a restart after the damage
		})
	}
}

func TestSourceConfig(t *testing.T) {
	tests := []struct {
		name    string
		src     *Source
		wantErr string
	}{
		{name: "no URL", src: &Source{Dir: "/x"}, wantErr: "no repository URL"},
		{name: "no Dir", src: &Source{URL: "/srv/repo.git"}, wantErr: "no state directory"},
		{name: "password in URL", src: &Source{URL: "https://bob:hunter2@git.example.com/r.git", Dir: "/x"}, wantErr: "carries a password"},
		{name: "spec path outside", src: &Source{URL: "/srv/repo.git", Dir: "/x", SpecPath: "../etc"}, wantErr: "leaves the repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.src.Sync(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Sync = %v, want an error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}

	s := Source{URL: "/srv/repo.git", Dir: t.TempDir(), SpecPath: "/deploy/clusters/"}
	if err := s.ensureLoaded(); err != nil {
		t.Fatal(err)
	}
	if s.Branch != DefaultBranch || s.SpecPath != "deploy/clusters" || s.Log == nil {
		t.Errorf("defaults: Branch %q, SpecPath %q, Log %v", s.Branch, s.SpecPath, s.Log)
	}
}
