package gitsource

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// The remote in these tests is a bare repository on disk, reached as the
// daemon would reach a forge: over the file transport (go-git runs
// git-upload-pack and git-receive-pack) or over smart HTTP on loopback
// (git-http-backend behind net/http/cgi). The HTTP one matters most: for
// local paths go-git's own push takes a shortcut through the remote's
// storage, so only a network transport shows what a real forge sees.
const gitHTTPBackend = "/usr/lib/git-core/git-http-backend"

// deleted, as a file's content in remote.commit, removes the file.
const deleted = "\x00deleted"

type remote struct {
	t   *testing.T
	dir string // the bare repository
	url string // what the Source under test is given
}

var transports = []string{"file", "http"}

// forEachTransport runs f once per transport, each on a fresh remote.
func forEachTransport(t *testing.T, f func(t *testing.T, r *remote)) {
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f(t, newRemote(t, kind, nil))
		})
	}
}

// newRemote makes an empty bare repository served over kind. wrap, if not
// nil, wraps the HTTP handler (to demand credentials).
func newRemote(t *testing.T, kind string, wrap func(http.Handler) http.Handler) *remote {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		// go-git's file transport runs git-upload-pack and git-receive-pack.
		t.Fatal("the test remote needs the git CLI (Debian package git, installed by make deps):", err)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "remote.git")
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		Bare:        true,
		InitOptions: git.InitOptions{DefaultBranch: plumbing.Main},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := repo.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Raw.Section("http").SetOption("receivepack", "true")
	if err := repo.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	r := &remote{t: t, dir: dir, url: dir}
	if kind == "http" {
		if _, err := os.Stat(gitHTTPBackend); err != nil {
			t.Fatalf("no %s (Debian package git, installed by make deps): %v", gitHTTPBackend, err)
		}
		var h http.Handler = &cgi.Handler{
			Path: gitHTTPBackend,
			Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
		}
		if wrap != nil {
			h = wrap(h)
		}
		srv := httptest.NewServer(h) // listens on 127.0.0.1
		t.Cleanup(srv.Close)
		r.url = srv.URL + "/remote.git"
	}
	return r
}

// source is a Source on r with a fresh state directory and fast retries.
func (r *remote) source(dir string) *Source {
	if dir == "" {
		dir = r.t.TempDir()
	}
	return &Source{
		URL:       r.url,
		Branch:    "main",
		Dir:       dir,
		Log:       slog.New(slog.NewTextHandler(testLog{r.t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		retryBase: time.Millisecond,
	}
}

// testLog sends the Source's log to the test's, shown on failure or -v.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// commit makes one commit on branch as another writer would: a full clone,
// a worktree change, a plain push. It returns the commit's hash.
func (r *remote) commit(branch string, files map[string]string, msg string) string {
	r.t.Helper()
	repo, wt := r.clone(branch)
	h := r.commitIn(repo, wt, files, msg)
	if err := repo.Push(&git.PushOptions{RefSpecs: []config.RefSpec{refspec(branch, false)}}); err != nil {
		r.t.Fatalf("push %s: %v", branch, err)
	}
	return h
}

// rewrite replaces the head of branch by a commit on its parent, with
// files applied, and force-pushes it: history is rewritten.
func (r *remote) rewrite(branch string, files map[string]string, msg string) string {
	r.t.Helper()
	repo, wt := r.clone(branch)
	head, err := repo.Head()
	if err != nil {
		r.t.Fatal(err)
	}
	c, err := repo.CommitObject(head.Hash())
	if err != nil {
		r.t.Fatal(err)
	}
	if err := wt.Reset(&git.ResetOptions{Commit: c.ParentHashes[0], Mode: git.HardReset}); err != nil {
		r.t.Fatal(err)
	}
	h := r.commitIn(repo, wt, files, msg)
	if err := repo.Push(&git.PushOptions{RefSpecs: []config.RefSpec{refspec(branch, true)}}); err != nil {
		r.t.Fatalf("force-push %s: %v", branch, err)
	}
	return h
}

func refspec(branch string, force bool) config.RefSpec {
	ref := plumbing.NewBranchReferenceName(branch)
	s := fmt.Sprintf("%s:%s", ref, ref)
	if force {
		s = "+" + s
	}
	return config.RefSpec(s)
}

// clone clones branch of the remote in memory with its whole history, or
// starts an empty repository when the remote has no such branch yet.
func (r *remote) clone(branch string) (*git.Repository, *git.Worktree) {
	r.t.Helper()
	ref := plumbing.NewBranchReferenceName(branch)
	repo, err := git.Clone(memory.NewStorage(), memfs.New(), &git.CloneOptions{URL: r.dir, ReferenceName: ref, SingleBranch: true})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		repo, err = git.InitWithOptions(memory.NewStorage(), memfs.New(), git.InitOptions{DefaultBranch: ref})
		if err == nil {
			_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{r.dir}})
		}
	}
	if err != nil {
		r.t.Fatalf("clone %s: %v", branch, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	return repo, wt
}

func (r *remote) commitIn(repo *git.Repository, wt *git.Worktree, files map[string]string, msg string) string {
	r.t.Helper()
	for p, content := range files {
		if content == deleted {
			if _, err := wt.Remove(p); err != nil {
				r.t.Fatalf("remove %s: %v", p, err)
			}
			continue
		}
		if err := wt.Filesystem.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		f, err := wt.Filesystem.Create(p)
		if err != nil {
			r.t.Fatal(err)
		}
		if _, err := f.Write([]byte(content)); err != nil {
			r.t.Fatal(err)
		}
		f.Close()
		if _, err := wt.Add(p); err != nil {
			r.t.Fatal(err)
		}
	}
	sig := &object.Signature{Name: "someone else", Email: "else@example.com", When: time.Now()}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, AllowEmptyCommits: true})
	if err != nil {
		r.t.Fatal(err)
	}
	return h.String()
}

// setRef points branch at an existing commit, as a force-push of it would.
func (r *remote) setRef(branch, hash string) {
	r.t.Helper()
	repo := r.open()
	ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), plumbing.NewHash(hash))
	if err := repo.Storer.SetReference(ref); err != nil {
		r.t.Fatal(err)
	}
}

func (r *remote) open() *git.Repository {
	r.t.Helper()
	repo, err := git.PlainOpen(r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	return repo
}

// head is the commit at branch on the remote, "" when there is none.
func (r *remote) head(branch string) string {
	r.t.Helper()
	ref, err := r.open().Reference(plumbing.NewBranchReferenceName(branch), false)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return ""
	}
	if err != nil {
		r.t.Fatal(err)
	}
	return ref.Hash().String()
}

func (r *remote) commitObject(hash string) *object.Commit {
	r.t.Helper()
	c, err := r.open().CommitObject(plumbing.NewHash(hash))
	if err != nil {
		r.t.Fatalf("commit %s: %v", hash, err)
	}
	return c
}

// file is the content of p at the head of branch, and whether it exists.
func (r *remote) file(branch, p string) (string, bool) {
	r.t.Helper()
	f, err := r.commitObject(r.head(branch)).File(p)
	if errors.Is(err, object.ErrFileNotFound) {
		return "", false
	}
	if err != nil {
		r.t.Fatal(err)
	}
	s, err := f.Contents()
	if err != nil {
		r.t.Fatal(err)
	}
	return s, true
}

// isAncestor reports whether commit a is an ancestor of (or is) b.
func (r *remote) isAncestor(a, b string) bool {
	r.t.Helper()
	ok, err := r.commitObject(a).IsAncestor(r.commitObject(b))
	if err != nil {
		r.t.Fatal(err)
	}
	return ok
}

// fsck has the git CLI, an independent judge, check every object and link
// in the remote: what we pushed must be well-formed and complete.
func (r *remote) fsck() {
	r.t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		r.t.Log("no git CLI; fsck skipped")
		return
	}
	out, err := exec.Command(git, "-C", r.dir, "fsck", "--strict", "--no-progress").CombinedOutput()
	if err != nil {
		r.t.Fatalf("git fsck: %v\n%s", err, out)
	}
}

// listing is every file under dir with its size and modification time: two
// equal listings mean nothing was written.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out = append(out, fmt.Sprintf("%s %d %s", p, info.Size(), info.ModTime().Format(time.RFC3339Nano)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// readSpec is the content of a file in a snapshot's checkout, "" if absent.
func readSpec(t *testing.T, snap Snapshot, p string) (string, bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(snap.Dir, p))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(data), true
}
