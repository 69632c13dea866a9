package gitsource

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// checkoutDir is where the checkout of a spec tree lives. Checkouts are
// named by content, so one is written once and never changes.
func (s *Source) checkoutDir(specTree string) string {
	if specTree == "" {
		specTree = "absent"
	}
	return filepath.Join(s.Dir, checkoutDirName, specTree)
}

// checkout writes entry (SpecPath at some commit; nil when absent) to disk
// unless that content is there already, and returns the directory holding
// it. It writes into a temporary directory and renames it, so a reader or
// a crash never sees half a checkout.
func (s *Source) checkout(entry *object.TreeEntry) (dir string, err error) {
	tree := ""
	if entry != nil {
		tree = entry.Hash.String()
	}
	dir = s.checkoutDir(tree)
	if isDir(dir) {
		return dir, nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()

	if entry != nil {
		dst := filepath.Join(tmp, filepath.FromSlash(s.SpecPath))
		switch {
		case entry.Mode == filemode.Dir:
			t, err := object.GetTree(s.repo.Storer, entry.Hash)
			if err != nil {
				return "", damaged(fmt.Errorf("read tree %s: %w", s.SpecPath, err))
			}
			if err := s.writeTree(t, dst); err != nil {
				return "", err
			}
		default:
			if err := s.writeEntry(entry.Name, entry, dst); err != nil {
				return "", err
			}
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// writeTree writes the files of t under dst.
func (s *Source) writeTree(t *object.Tree, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	w := object.NewTreeWalker(t, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return damaged(fmt.Errorf("walk %s: %w", s.SpecPath, err))
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("walk %s: unsafe path %q", s.SpecPath, name)
		}
		if e.Mode == filemode.Dir {
			continue // created with its first file; Git has no empty dirs
		}
		if err := s.writeEntry(s.SpecPath+"/"+name, &e, filepath.Join(dst, filepath.FromSlash(name))); err != nil {
			return err
		}
	}
}

// writeEntry writes one blob. Symbolic links and submodules are skipped:
// a link could make a spec file out of any file on the daemon's disk.
func (s *Source) writeEntry(name string, e *object.TreeEntry, dst string) error {
	var perm os.FileMode
	switch e.Mode {
	case filemode.Regular, filemode.Deprecated:
		perm = 0o644
	case filemode.Executable:
		perm = 0o755
	default:
		s.Log.Warn("git checkout skips a path that is not a regular file", "path", name, "mode", e.Mode.String())
		return nil
	}
	blob, err := object.GetBlob(s.repo.Storer, e.Hash)
	if err != nil {
		return damaged(fmt.Errorf("read %s: %w", name, err))
	}
	r, err := blob.Reader()
	if err != nil {
		return damaged(fmt.Errorf("read %s: %w", name, err))
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return damaged(fmt.Errorf("copy %s: %w", name, err)) // mostly a bad object
	}
	return f.Close()
}

// pruneCheckouts removes every checkout but keep.
func (s *Source) pruneCheckouts(keep string) {
	root := filepath.Join(s.Dir, checkoutDirName)
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if p := filepath.Join(root, e.Name()); p != keep {
			if err := os.RemoveAll(p); err != nil {
				s.Log.Warn("remove old git checkout", "dir", p, "err", err)
			}
		}
	}
}
