package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// ProposalPrefix starts the name of every branch Propose pushes: it never
// pushes anywhere else.
const ProposalPrefix = "redis-gitops/"

// ErrNotOurs is returned when a proposal's branch exists but its head is
// not a commit Propose made for the same proposal: someone else's branch,
// or a commit pushed on top of ours. It is never overwritten.
var ErrNotOurs = errors.New("the branch's head is not a commit of redis-gitops's own")

// Proposal is a one-file change proposed on a branch of the daemon's own,
// for a pull request into the watched branch.
type Proposal struct {
	// Branch starts with ProposalPrefix and is not the watched branch.
	Branch string
	// File is the repository path of the file to change.
	File string
	// Edit returns the file's new content from its content at the watched
	// branch's head.
	Edit func(old []byte) ([]byte, error)
	// Message is the commit message; Trailer is added as its last line and
	// marks the commit as this proposal's.
	Message string
	// Trailer is a "Key: value" line naming the proposal, such as
	// "Redis-Gitops-Drift: prod/cache".
	Trailer string
	Author  object.Signature
}

// Propose makes Branch hold one commit on top of the watched branch's head
// that changes File by Edit, and returns that commit. When Branch already
// holds our commit for this proposal with the same content of File, it is
// left as it is (the watched branch moving alone does not re-push). When it
// holds something else, Propose returns ErrNotOurs and pushes nothing. The
// update names the branch's old head, so a concurrent push makes it fail
// rather than be lost. It returns "" when Edit changes nothing.
func (s *Source) Propose(ctx context.Context, p Proposal) (string, error) {
	if !strings.HasPrefix(p.Branch, ProposalPrefix) || p.Branch == s.Branch || strings.TrimSpace(p.Trailer) == "" || !strings.Contains(p.Trailer, ": ") {
		return "", fmt.Errorf("propose on branch %q: only a redis-gitops/ branch other than the watched one, with a trailer", p.Branch)
	}
	if err := checkFilePath(p.File); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(); err != nil {
		return "", fmt.Errorf("propose on %s: %w", p.Branch, err)
	}
	for attempt := 1; ; attempt++ {
		h, err := s.proposeOnce(ctx, p, attempt)
		switch {
		case err == nil:
			return h, nil
		case !errors.Is(err, errRemoteMoved):
			return "", fmt.Errorf("propose on %s: %w", p.Branch, err)
		case attempt == maxPushAttempts:
			return "", fmt.Errorf("propose on %s: %w: gave up after %d attempts", p.Branch, ErrPushConflict, attempt)
		}
		if err := sleep(ctx, s.backoff(attempt)); err != nil {
			return "", err
		}
	}
}

func (s *Source) proposeOnce(ctx context.Context, p Proposal, attempt int) (string, error) {
	base, err := s.fetch(ctx, s.repo, s.Branch)
	if err != nil {
		return "", err
	}
	baseCommit, err := object.GetCommit(s.repo.Storer, base)
	if err != nil {
		return "", damaged(fmt.Errorf("read commit %s: %w", base, err))
	}
	before, err := fileAt(baseCommit, p.File)
	if err != nil {
		return "", err
	}
	after, err := p.Edit(before)
	if err != nil {
		return "", err
	}
	if string(after) == string(before) {
		return "", nil
	}

	old, err := s.fetch(ctx, s.repo, p.Branch)
	switch {
	case errors.Is(err, ErrBranchNotFound):
		old = plumbing.ZeroHash
	case err != nil:
		return "", err
	default:
		cur, err := object.GetCommit(s.repo.Storer, old)
		if err != nil {
			return "", damaged(fmt.Errorf("read commit %s: %w", old, err))
		}
		if !hasTrailer(cur.Message, p.Trailer) {
			return "", fmt.Errorf("%s at %s: %w", p.Branch, short(old), ErrNotOurs)
		}
		if now, err := fileAt(cur, p.File); err == nil && string(now) == string(after) {
			return old.String(), nil
		}
	}

	out := memory.NewStorage()
	msg := strings.TrimRight(p.Message, "\n") + "\n\n" + p.Trailer + "\n"
	commit, objects, err := s.build(base, Commit{Files: map[string][]byte{p.File: after}, Message: msg, Author: p.Author}, out)
	if err != nil || commit.IsZero() {
		return "", err
	}
	if err := s.send(ctx, p.Branch, old, commit, objects, out, attempt); err != nil {
		return "", err
	}
	s.Log.Info("git proposal pushed", "branch", p.Branch, "commit", commit.String(), "file", p.File)
	return commit.String(), nil
}

// fileAt reads a file of a commit's tree.
func fileAt(c *object.Commit, path string) ([]byte, error) {
	f, err := c.File(path)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", path, short(c.Hash), err)
	}
	r, err := f.Reader()
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", path, short(c.Hash), err)
	}
	defer r.Close()
	return io.ReadAll(r)
}

// hasTrailer: msg has the line trailer.
func hasTrailer(msg, trailer string) bool {
	for _, line := range strings.Split(msg, "\n") {
		if strings.TrimSpace(line) == trailer {
			return true
		}
	}
	return false
}
