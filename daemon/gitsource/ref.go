package gitsource

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// SpecFilesAt fetches ref alone (a branch name, or a full reference such
// as a pull request's refs/pull/7/head) at depth 1 into memory, leaving the
// clone of the watched branch as it is, and returns the commit it points
// to and the spec files under SpecPath at that commit, keyed by their path
// in the repository (for spec.LoadFiles).
func (s *Source) SpecFilesAt(ctx context.Context, ref string) (string, map[string][]byte, error) {
	if err := s.ensureLoaded(); err != nil {
		return "", nil, err
	}
	name := plumbing.ReferenceName(ref)
	if !strings.HasPrefix(ref, "refs/") {
		name = plumbing.NewBranchReferenceName(ref)
	}
	repo, err := git.Init(memory.NewStorage(), nil)
	if err != nil {
		return "", nil, err
	}
	local := plumbing.ReferenceName("refs/redis-gitops/at")
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: remoteName, URLs: []string{s.URL}})
	err = remote.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{config.RefSpec(fmt.Sprintf("+%s:%s", name, local))},
		Depth:      1,
		Auth:       s.Auth,
		Tags:       git.NoTags,
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, git.NoMatchingRefSpecError{}):
		return "", nil, fmt.Errorf("fetch %s from %s: no such reference", ref, redact(s.URL))
	default:
		return "", nil, fmt.Errorf("fetch %s from %s: %w", ref, redact(s.URL), err)
	}
	r, err := repo.Storer.Reference(local)
	if err != nil {
		return "", nil, fmt.Errorf("fetch %s: %w", ref, err)
	}
	commit, err := object.GetCommit(repo.Storer, r.Hash())
	if err != nil {
		return "", nil, fmt.Errorf("read commit %s: %w", r.Hash(), err)
	}
	files := map[string][]byte{}
	entry, err := specEntry(commit, s.SpecPath)
	if err != nil || entry == nil {
		return r.Hash().String(), files, err
	}
	if !entry.Mode.IsFile() {
		tree, err := object.GetTree(repo.Storer, entry.Hash)
		if err != nil {
			return "", nil, fmt.Errorf("read %s at %s: %w", s.SpecPath, r.Hash(), err)
		}
		err = tree.Files().ForEach(func(f *object.File) error {
			p := path.Join(s.SpecPath, f.Name)
			if !isSpecName(p) || hiddenPath(f.Name) {
				return nil
			}
			content, err := f.Contents()
			if err != nil {
				return fmt.Errorf("read %s at %s: %w", p, r.Hash(), err)
			}
			files[p] = []byte(content)
			return nil
		})
		return r.Hash().String(), files, err
	}
	blob, err := object.GetBlob(repo.Storer, entry.Hash)
	if err != nil {
		return "", nil, fmt.Errorf("read %s at %s: %w", s.SpecPath, r.Hash(), err)
	}
	rd, err := blob.Reader()
	if err != nil {
		return "", nil, err
	}
	defer rd.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := rd.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	files[s.SpecPath] = []byte(b.String())
	return r.Hash().String(), files, nil
}

// isSpecName: a .yaml or .yml file, as spec.Load reads.
func isSpecName(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".yaml" || ext == ".yml"
}

// hiddenPath: under a directory whose name starts with ".", which
// spec.Load skips.
func hiddenPath(name string) bool {
	parts := strings.Split(name, "/")
	for _, p := range parts[:len(parts)-1] {
		if strings.HasPrefix(p, ".") {
			return true
		}
	}
	return false
}
