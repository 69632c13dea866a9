package gitsource

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/storage/memory"
)

const (
	// maxPushAttempts bounds the fetch, re-apply, push rounds when other
	// writers keep moving the status branch.
	maxPushAttempts = 6
	maxRetryDelay   = 5 * time.Second

	defaultAuthorName  = "redis-gitops"
	defaultAuthorEmail = "redis-gitops@localhost"
	defaultMessage     = "redis-gitops: update status"
)

// ErrPushConflict is returned when the status branch kept moving under
// every attempt to push on top of it.
var ErrPushConflict = errors.New("status branch kept moving")

// errRemoteMoved says the remote branch is no longer at our base: fetch
// again and re-apply.
var errRemoteMoved = errors.New("remote branch moved")

// Commit is a change to the status branch.
type Commit struct {
	// Branch is the status branch; Source.Branch when empty. A branch the
	// remote does not have yet starts at the watched branch's head.
	Branch string
	// Files maps repository paths to their new content; a nil value
	// deletes the file. Contents are never logged.
	Files map[string][]byte
	// Message is the commit message.
	Message string
	// Author names the commit's author and committer; When is set at
	// commit time.
	Author object.Signature
}

// Push commits c on top of the remote status branch and pushes it, without
// force. Only files whose content differs from the branch's head count;
// when none does it commits nothing and returns "". When another writer
// moves the branch first, Push fetches the new head, re-applies the same
// files on top of it and tries again, with jittered exponential backoff, up
// to maxPushAttempts times; it never overwrites another commit.
func (s *Source) Push(ctx context.Context, c Commit) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(); err != nil {
		return "", fmt.Errorf("push status: %w", err)
	}
	branch := cmp.Or(c.Branch, s.Branch)
	h, err := s.push(ctx, branch, c)
	if err != nil {
		return "", fmt.Errorf("push status to %s branch %s: %w", redact(s.URL), branch, err)
	}
	return h, nil
}

func (s *Source) push(ctx context.Context, branch string, c Commit) (string, error) {
	for p := range c.Files {
		if err := checkFilePath(p); err != nil {
			return "", err
		}
	}
	if len(c.Files) == 0 {
		return "", nil
	}
	recloned := false
	for attempt := 1; ; attempt++ {
		h, err := s.pushOnce(ctx, branch, c, attempt)
		switch {
		case err == nil:
			return h, nil
		case errors.As(err, new(*cloneError)) && !recloned:
			// See sync: a fresh clone has every object of the heads.
			s.Log.Warn("git clone unreadable; cloning afresh", "err", err)
			if err := s.reclone(ctx, s.Branch); err != nil {
				return "", err
			}
			recloned = true
		case !errors.Is(err, errRemoteMoved):
			return "", err
		case attempt == maxPushAttempts:
			return "", fmt.Errorf("%w: gave up after %d attempts", ErrPushConflict, attempt)
		default:
			s.Log.Debug("git status branch moved; retrying", "branch", branch, "attempt", attempt, "err", err)
		}
		if err := sleep(ctx, s.backoff(attempt)); err != nil {
			return "", err
		}
	}
}

// backoff is the jittered exponential delay after the given attempt.
func (s *Source) backoff(attempt int) time.Duration {
	d := min(s.retryBase<<(attempt-1), maxRetryDelay)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pushOnce makes one attempt: fetch the base, build the commit, send it.
func (s *Source) pushOnce(ctx context.Context, branch string, c Commit, attempt int) (string, error) {
	// The remote's current head is both our parent and, in the update
	// command, the value the server must still see; a status branch that
	// does not exist yet (old zero) starts at the watched branch's head.
	old, err := s.fetch(ctx, s.repo, branch)
	base := old
	if errors.Is(err, ErrBranchNotFound) && branch != s.Branch {
		old = plumbing.ZeroHash
		base, err = s.fetch(ctx, s.repo, s.Branch)
	}
	if err != nil {
		return "", err
	}

	out := memory.NewStorage()
	commit, objects, err := s.build(base, c, out)
	if err != nil || commit.IsZero() {
		return "", err
	}
	s.hook("built", attempt)
	if err := s.send(ctx, branch, old, commit, objects, out, attempt); err != nil {
		return "", err
	}
	s.Log.Info("git status pushed", "branch", branch, "commit", commit.String(), "files", len(c.Files))
	if err := s.addOurs(commit.String()); err != nil {
		// The push happened; only the memory of it across a restart is lost.
		s.Log.Warn("remember pushed commit", "commit", commit.String(), "err", err)
	}
	return commit.String(), nil
}

// build writes the commit of c on top of base into out and returns its hash
// with every object it wrote; zero when no file's content differs.
func (s *Source) build(base plumbing.Hash, c Commit, out *memory.Storage) (plumbing.Hash, []plumbing.Hash, error) {
	parent, err := object.GetCommit(s.repo.Storer, base)
	if err != nil {
		return plumbing.ZeroHash, nil, damaged(fmt.Errorf("read commit %s: %w", base, err))
	}
	ed := &treeEditor{base: s.repo.Storer, out: out}
	tree, err := ed.edit(parent.TreeHash, c.Files, "")
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	if tree == parent.TreeHash {
		return plumbing.ZeroHash, nil, nil
	}
	sig := object.Signature{
		Name:  cmp.Or(c.Author.Name, defaultAuthorName),
		Email: cmp.Or(c.Author.Email, defaultAuthorEmail),
		When:  time.Now(),
	}
	h, err := ed.encode(&object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      cmp.Or(c.Message, defaultMessage),
		TreeHash:     tree,
		ParentHashes: []plumbing.Hash{base},
	})
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	slices.SortFunc(ed.written, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	return h, slices.Compact(ed.written), nil
}

// send updates branch from old to commit on the remote, sending exactly the
// given objects. It talks receive-pack itself rather than through
// Remote.Push: go-git's push walks the local history to decide what to
// send, and that walk fails or overreaches in a shallow clone, while here
// the new objects are known. The update command names old, so the server
// refuses it atomically if the branch moved after we looked; either way
// that comes back as errRemoteMoved.
func (s *Source) send(ctx context.Context, branch string, old, commit plumbing.Hash, objects []plumbing.Hash, from *memory.Storage, attempt int) (err error) {
	ep, err := transport.NewEndpoint(s.URL)
	if err != nil {
		return err
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return err
	}
	sess, err := cl.NewReceivePackSession(ep, s.Auth)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := sess.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return err
	}
	refs, err := ar.AllReferences()
	if err != nil {
		return err
	}
	name := plumbing.NewBranchReferenceName(branch)
	cur := plumbing.ZeroHash
	if ref, err := refs.Reference(name); err == nil {
		cur = ref.Hash()
	}
	if cur != old {
		return fmt.Errorf("%w: %s is at %s, not %s", errRemoteMoved, branch, short(cur), short(old))
	}
	s.hook("advertised", attempt)

	var pack bytes.Buffer
	if _, err := packfile.NewEncoder(&pack, from, false).Encode(objects, 0); err != nil {
		return fmt.Errorf("encode pack: %w", err)
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(ar.Capabilities)
	req.Commands = []*packp.Command{{Name: name, Old: old, New: commit}}
	req.Packfile = io.NopCloser(&pack)
	if _, err := sess.ReceivePack(ctx, req); err != nil {
		// The report names the server's reason but not in a form to act
		// on ("failed to update ref", "cannot lock ref", a hook's own
		// words); where the branch is now says what happened.
		now, lerr := s.remoteHead(ctx, branch)
		switch {
		case lerr != nil:
			return errors.Join(err, lerr)
		case now == commit:
			return nil // applied; only the report was lost
		case now != old:
			return fmt.Errorf("%w: %v", errRemoteMoved, err)
		}
		return err
	}
	return nil
}

// remoteHead lists the remote's refs and returns branch's head, zero when
// the branch does not exist.
func (s *Source) remoteHead(ctx context.Context, branch string) (plumbing.Hash, error) {
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: remoteName, URLs: []string{s.URL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: s.Auth})
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("list remote refs: %w", err)
	}
	name := plumbing.NewBranchReferenceName(branch)
	for _, r := range refs {
		if r.Name() == name {
			return r.Hash(), nil
		}
	}
	return plumbing.ZeroHash, nil
}

func (s *Source) hook(stage string, attempt int) {
	if s.testHook != nil {
		s.testHook(stage, attempt)
	}
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "nothing"
	}
	return h.String()[:12]
}
