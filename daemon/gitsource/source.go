// Package gitsource is the daemon's Git repository: it fetches the watched
// branch into one persistent shallow clone, hands out a checkout of the
// cluster specs, and commits status reports back.
//
// Source.Dir holds repo.git (a bare, shallow clone: only the heads it
// fetched, at depth 1), checkouts/<spec tree hash> (the spec path as files,
// written once and never changed) and state.json (the last head, Revision
// and spec tree, and the commits this Source pushed).
//
// It speaks Git only through go-git; nothing here runs the git binary.
package gitsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/redis-gitops/redis-gitops/spec"
)

// DefaultBranch is the watched branch when Source.Branch is empty.
const DefaultBranch = "main"

const (
	remoteName = "origin"

	// Layout of Source.Dir.
	repoDirName     = "repo.git"
	checkoutDirName = "checkouts"
	stateFileName   = "state.json"

	// Every fetch that brings objects adds a pack; past this many the
	// clone is replaced by a fresh depth-1 one, which holds a single pack.
	defaultMaxPacks = 50
)

// ErrBranchNotFound is returned when the remote has no such branch.
var ErrBranchNotFound = errors.New("branch not found on the remote")

// Source is one watched repository and branch, kept in a persistent shallow
// clone under Dir. Its methods are safe for concurrent use; Sync and Push
// run one at a time.
type Source struct {
	// URL is the remote: https://..., ssh://..., git@host:path, or a
	// local path or file:// URL (tests). Credentials belong in Auth, never
	// in the URL.
	URL string
	// Branch is the watched branch; DefaultBranch when empty.
	Branch string
	// Dir is the state directory. The clone, the spec checkouts and the
	// persisted Revision live here across restarts.
	Dir string
	// Auth authenticates to the remote; nil for none. See AuthConfig.
	Auth transport.AuthMethod
	// SpecPath is the repository path holding the specs; spec.DefaultPath
	// when empty. "." is the whole repository, in which case every status
	// commit changes the spec tree too.
	SpecPath string
	// Log receives what the source does; discarded when nil. It never
	// sees file contents or credentials.
	Log *slog.Logger

	mu   sync.Mutex // serialises Sync and Push: one clone, one writer
	repo *git.Repository

	loadOnce sync.Once
	loadErr  error

	stateMu  sync.RWMutex // guards st, last, haveLast and ours
	st       state
	last     Snapshot
	haveLast bool
	ours     map[string]bool

	// Seams for tests; zero values mean the defaults.
	maxPacks  int
	retryBase time.Duration
	testHook  func(stage string, attempt int)
}

// Snapshot is what one successful Sync saw.
type Snapshot struct {
	// Head is the commit at the head of the watched branch just fetched.
	Head string
	// Revision is the commit the specs are taken from: the head at which
	// this Source last saw the tree at SpecPath change. A head that moved
	// only for a status commit or an unrelated file keeps the old Revision.
	Revision string
	// SpecTree is the hash of the tree (or file) at SpecPath; "" when
	// SpecPath does not exist at Head.
	SpecTree string
	// Dir holds SpecPath as it is at Head (and so at Revision), on local
	// disk, for spec.Load(filepath.Join(Dir, SpecPath)). Its content never
	// changes; a later Sync with another SpecTree uses another directory
	// and removes this one. When SpecTree is "", Dir has no SpecPath.
	Dir string
	// Changed is whether SpecTree differs from the previous successful
	// Sync, this process's or a persisted one; true on the very first.
	Changed bool
}

// init sets the defaults and checks the configuration. It runs once.
func (s *Source) init() error {
	if s.URL == "" {
		return errors.New("no repository URL")
	}
	if u, err := url.Parse(s.URL); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return errors.New("repository URL carries a password; give credentials in files instead")
		}
	}
	if s.Dir == "" {
		return errors.New("no state directory")
	}
	if s.Branch == "" {
		s.Branch = DefaultBranch
	}
	p, err := cleanSpecPath(s.SpecPath)
	if err != nil {
		return err
	}
	s.SpecPath = p
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.maxPacks == 0 {
		s.maxPacks = defaultMaxPacks
	}
	if s.retryBase == 0 {
		s.retryBase = 250 * time.Millisecond
	}
	return nil
}

func cleanSpecPath(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return spec.DefaultPath, nil
	}
	p = path.Clean(p)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("spec path %q leaves the repository", p)
	}
	return p, nil
}

// ensureLoaded sets the defaults and reads the persisted state, once.
func (s *Source) ensureLoaded() error {
	s.loadOnce.Do(func() {
		if s.loadErr = s.init(); s.loadErr != nil {
			return
		}
		s.loadState()
	})
	return s.loadErr
}

// Last returns the snapshot of the last successful Sync, or the persisted
// one from before a restart while its checkout is still on disk. A failed
// Sync leaves it as it was.
func (s *Source) Last() (Snapshot, bool) {
	if s.ensureLoaded() != nil {
		return Snapshot{}, false
	}
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	return s.last, s.haveLast
}

// Ours reports whether this Source pushed the commit hash, in this process
// or, as persisted in Dir, before a restart.
func (s *Source) Ours(hash string) bool {
	if s.ensureLoaded() != nil {
		return false
	}
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	return s.ours[hash]
}

// Sync fetches the head of the watched branch (depth 1) and returns the
// snapshot of the specs at it. When the head has not moved it reads nothing
// but the remote's ref advertisement. On error the last good snapshot (see
// Last) stays as it was.
func (s *Source) Sync(ctx context.Context) (Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, err := s.sync(ctx)
	if err != nil {
		return Snapshot{}, fmt.Errorf("sync %s branch %s: %w", redact(s.URL), s.Branch, err)
	}
	return snap, nil
}

func (s *Source) sync(ctx context.Context) (Snapshot, error) {
	if err := s.open(); err != nil {
		return Snapshot{}, err
	}
	snap, err := s.syncOnce(ctx)
	if errors.As(err, new(*cloneError)) {
		// The fetch went well but the clone cannot give what it fetched: a
		// shallow fetch that left objects out (go-git does not always
		// negotiate shallow boundaries as git does) or a damaged disk. A
		// fresh clone cures both.
		s.Log.Warn("git clone unreadable; cloning afresh", "err", err)
		if err := s.reclone(ctx, s.Branch); err != nil {
			return Snapshot{}, err
		}
		snap, err = s.syncOnce(ctx)
	}
	return snap, err
}

// cloneError marks a failure to read the clone after a good fetch.
type cloneError struct{ err error }

func (e *cloneError) Error() string { return e.err.Error() }
func (e *cloneError) Unwrap() error { return e.err }

func damaged(err error) error { return &cloneError{err} }

func (s *Source) syncOnce(ctx context.Context) (Snapshot, error) {
	head, err := s.fetch(ctx, s.repo, s.Branch)
	if err != nil {
		return Snapshot{}, err
	}

	s.stateMu.RLock()
	st, last, haveLast := s.st, s.last, s.haveLast
	s.stateMu.RUnlock()
	if haveLast && last.Head == head.String() && isDir(last.Dir) {
		last.Changed = false
		return last, nil
	}

	commit, err := object.GetCommit(s.repo.Storer, head)
	if err != nil {
		return Snapshot{}, damaged(fmt.Errorf("read commit %s: %w", head, err))
	}
	entry, err := specEntry(commit, s.SpecPath)
	if err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{Head: head.String(), Revision: head.String()}
	if entry != nil {
		snap.SpecTree = entry.Hash.String()
	}
	if st.Head != "" && st.SpecTree == snap.SpecTree && st.Revision != "" {
		snap.Revision = st.Revision
	} else {
		snap.Changed = true
	}
	if snap.Dir, err = s.checkout(entry); err != nil {
		return Snapshot{}, err
	}

	st.Head, st.Revision, st.SpecTree = snap.Head, snap.Revision, snap.SpecTree
	if err := s.saveState(st); err != nil {
		return Snapshot{}, err
	}
	s.stateMu.Lock()
	s.st, s.last, s.haveLast = st, snap, true
	s.stateMu.Unlock()
	if snap.Changed {
		s.Log.Info("git specs changed", "head", snap.Head, "specTree", snap.SpecTree)
	}
	s.pruneCheckouts(snap.Dir)
	s.compact(ctx)
	return snap, nil
}

// open opens the clone in Dir, creating it the first time.
func (s *Source) open() error {
	if err := s.ensureLoaded(); err != nil {
		return err
	}
	if s.repo != nil {
		return nil
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	dir := filepath.Join(s.Dir, repoDirName)
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		r, err := git.PlainOpen(dir)
		if err != nil {
			return fmt.Errorf("open git clone %s: %w", dir, err)
		}
		s.repo = r
		return nil
	}
	r, err := initRepo(dir)
	if err != nil {
		return err
	}
	s.repo = r
	return nil
}

// initRepo creates an empty bare repository at dir, atomically: a crash
// leaves either no dir or a complete one.
func initRepo(dir string) (*git.Repository, error) {
	tmp := dir + ".init"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if _, err := git.PlainInit(tmp, true); err != nil {
		return nil, fmt.Errorf("init git clone %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	return git.PlainOpen(dir)
}

// fetch brings the head of branch into repo at depth 1, with a force
// refspec so that a rewritten history replaces ours, and returns it. An
// up-to-date branch costs only the ref advertisement.
func (s *Source) fetch(ctx context.Context, repo *git.Repository, branch string) (plumbing.Hash, error) {
	local := plumbing.NewRemoteReferenceName(remoteName, branch)
	refspec := config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(branch), local))
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: remoteName, URLs: []string{s.URL}})
	err := remote.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{refspec},
		Depth:      1,
		Auth:       s.Auth,
		Tags:       git.NoTags,
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, git.NoMatchingRefSpecError{}), errors.Is(err, transport.ErrEmptyRemoteRepository):
		return plumbing.ZeroHash, fmt.Errorf("fetch %s: %w", branch, ErrBranchNotFound)
	default:
		return plumbing.ZeroHash, fmt.Errorf("fetch %s: %w", branch, err)
	}
	ref, err := repo.Storer.Reference(local)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch %s: %w", branch, err)
	}
	return ref.Hash(), nil
}

// specEntry finds SpecPath in commit's tree; nil when it is absent.
func specEntry(commit *object.Commit, specPath string) (*object.TreeEntry, error) {
	root, err := commit.Tree()
	if err != nil {
		return nil, damaged(fmt.Errorf("read tree of %s: %w", commit.Hash, err))
	}
	if specPath == "." {
		return &object.TreeEntry{Name: ".", Mode: 0o040000, Hash: root.Hash}, nil
	}
	e, err := root.FindEntry(specPath)
	switch {
	case errors.Is(err, object.ErrEntryNotFound), errors.Is(err, object.ErrDirectoryNotFound):
		return nil, nil
	case err != nil:
		return nil, damaged(fmt.Errorf("find %s in %s: %w", specPath, commit.Hash, err))
	}
	return e, nil
}

// reclone replaces the clone by a fresh depth-1 fetch of branch. The state
// file and the checkouts are kept.
func (s *Source) reclone(ctx context.Context, branch string) error {
	dir := filepath.Join(s.Dir, repoDirName)
	tmp := dir + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	r, err := initRepo(tmp)
	if err != nil {
		return err
	}
	if _, err := s.fetch(ctx, r, branch); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	s.repo, err = git.PlainOpen(dir)
	return err
}

// compact replaces a clone that has gathered many packs; it only logs on
// failure, as the clone it had is still whole.
func (s *Source) compact(ctx context.Context) {
	packs, _ := filepath.Glob(filepath.Join(s.Dir, repoDirName, "objects", "pack", "*.pack"))
	if len(packs) <= s.maxPacks {
		return
	}
	s.Log.Debug("git clone has many packs; cloning afresh", "packs", len(packs))
	if err := s.reclone(ctx, s.Branch); err != nil {
		s.Log.Warn("git clone compaction failed", "err", err)
	}
}

// redact drops the user information from a URL, for errors and logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
