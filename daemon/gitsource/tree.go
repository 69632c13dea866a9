package gitsource

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// treeEditor applies file changes to a tree. It reads existing trees from
// base and writes every new object to out, remembering their hashes: they
// are exactly what a push on top of the base commit has to send.
type treeEditor struct {
	base    storer.EncodedObjectStorer
	out     storer.EncodedObjectStorer
	written []plumbing.Hash
}

// edit applies changes (path relative to the tree -> content, nil to
// delete) to the tree base (zero for none) and returns the new tree's hash:
// base itself when nothing differs, zero when the tree ends up empty.
func (e *treeEditor) edit(base plumbing.Hash, changes map[string][]byte, dir string) (plumbing.Hash, error) {
	entries := map[string]object.TreeEntry{}
	if !base.IsZero() {
		t, err := object.GetTree(e.base, base)
		if err != nil {
			return plumbing.ZeroHash, damaged(fmt.Errorf("read tree %s: %w", displayDir(dir), err))
		}
		for _, te := range t.Entries {
			entries[te.Name] = te
		}
	}

	files := map[string][]byte{}
	subdirs := map[string]map[string][]byte{}
	for p, data := range changes {
		first, rest, nested := strings.Cut(p, "/")
		if !nested {
			files[first] = data
			continue
		}
		if subdirs[first] == nil {
			subdirs[first] = map[string][]byte{}
		}
		subdirs[first][rest] = data
	}

	changed := false
	for _, name := range sortedKeys(files) {
		data := files[name]
		full := path.Join(dir, name)
		old, exists := entries[name]
		if exists && old.Mode == filemode.Dir {
			return plumbing.ZeroHash, fmt.Errorf("%s is a directory", full)
		}
		if _, ok := subdirs[name]; ok {
			return plumbing.ZeroHash, fmt.Errorf("%s is both a file and a directory", full)
		}
		if data == nil {
			if exists {
				delete(entries, name)
				changed = true
			}
			continue
		}
		h := plumbing.ComputeHash(plumbing.BlobObject, data)
		if exists && old.Hash == h && (old.Mode == filemode.Regular || old.Mode == filemode.Executable) {
			continue
		}
		if err := e.write(plumbing.BlobObject, data, h); err != nil {
			return plumbing.ZeroHash, err
		}
		entries[name] = object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h}
		changed = true
	}

	for _, name := range sortedKeys(subdirs) {
		full := path.Join(dir, name)
		old, exists := entries[name]
		var oldHash plumbing.Hash
		if exists {
			if old.Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%s is not a directory", full)
			}
			oldHash = old.Hash
		}
		h, err := e.edit(oldHash, subdirs[name], full)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		switch {
		case h == oldHash:
			continue
		case h.IsZero():
			delete(entries, name) // Git keeps no empty trees
		default:
			entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
		}
		changed = true
	}

	if !changed {
		return base, nil
	}
	if len(entries) == 0 && dir != "" {
		return plumbing.ZeroHash, nil
	}
	t := &object.Tree{}
	for _, te := range entries {
		t.Entries = append(t.Entries, te)
	}
	sort.Sort(object.TreeEntrySorter(t.Entries))
	return e.encode(t)
}

func (e *treeEditor) encode(o interface {
	Encode(plumbing.EncodedObject) error
}) (plumbing.Hash, error) {
	obj := e.out.NewEncodedObject()
	if err := o.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := e.out.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	e.written = append(e.written, h)
	return h, nil
}

func (e *treeEditor) write(t plumbing.ObjectType, data []byte, want plumbing.Hash) error {
	obj := e.out.NewEncodedObject()
	obj.SetType(t)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	h, err := e.out.SetEncodedObject(obj)
	if err != nil {
		return err
	}
	if h != want {
		return fmt.Errorf("blob hash %s, want %s", h, want)
	}
	e.written = append(e.written, h)
	return nil
}

// checkFilePath rejects repository paths that are not plain relative paths
// in canonical form, or that reach into .git.
func checkFilePath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty file path")
	case strings.ContainsRune(p, 0), strings.Contains(p, "\\"):
		return fmt.Errorf("file path %q has a forbidden character", p)
	case path.IsAbs(p), path.Clean(p) != p, p == ".", p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("file path %q is not a clean relative path", p)
	}
	for _, part := range strings.Split(p, "/") {
		if strings.EqualFold(part, ".git") {
			return fmt.Errorf("file path %q reaches into .git", p)
		}
	}
	return nil
}

func displayDir(dir string) string {
	if dir == "" {
		return "/"
	}
	return dir
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
