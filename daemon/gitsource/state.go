package gitsource

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// keepOurs bounds the persisted list of commits this Source pushed; Ours
// is asked about recent heads only.
const keepOurs = 256

// state is what Dir remembers across restarts. It holds hashes and names,
// never credentials: URL is stored redacted.
type state struct {
	URL      string   `json:"url"`
	Branch   string   `json:"branch"`
	SpecPath string   `json:"specPath"`
	Head     string   `json:"head,omitempty"`
	Revision string   `json:"revision,omitempty"`
	SpecTree string   `json:"specTree,omitempty"`
	Ours     []string `json:"ours,omitempty"`
}

// loadState reads the persisted state. A missing, unreadable or foreign one
// (another URL, branch or spec path) starts afresh: the worst that costs
// is one Changed=true.
func (s *Source) loadState() {
	st := state{URL: redact(s.URL), Branch: s.Branch, SpecPath: s.SpecPath}
	data, err := os.ReadFile(filepath.Join(s.Dir, stateFileName))
	var old state
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		s.Log.Warn("git source state unreadable; starting afresh", "err", err)
	case json.Unmarshal(data, &old) != nil:
		s.Log.Warn("git source state corrupt; starting afresh", "file", filepath.Join(s.Dir, stateFileName))
	case old.URL != st.URL:
		s.Log.Info("git source URL changed; starting afresh")
	default:
		st.Ours = old.Ours
		if old.Branch == st.Branch && old.SpecPath == st.SpecPath {
			st.Head, st.Revision, st.SpecTree = old.Head, old.Revision, old.SpecTree
		}
	}

	s.st = st
	s.ours = make(map[string]bool, len(st.Ours))
	for _, h := range st.Ours {
		s.ours[h] = true
	}
	if st.Head == "" {
		return
	}
	if dir := s.checkoutDir(st.SpecTree); isDir(dir) {
		s.last = Snapshot{Head: st.Head, Revision: st.Revision, SpecTree: st.SpecTree, Dir: dir}
		s.haveLast = true
	}
}

// saveState writes st atomically.
func (s *Source) saveState(st state) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(s.Dir, stateFileName), data); err != nil {
		return fmt.Errorf("save git source state: %w", err)
	}
	return nil
}

// addOurs remembers a pushed commit, here and on disk.
func (s *Source) addOurs(hash string) error {
	s.stateMu.Lock()
	s.ours[hash] = true
	st := s.st
	st.Ours = append(append([]string(nil), st.Ours...), hash)
	if n := len(st.Ours); n > keepOurs {
		for _, h := range st.Ours[:n-keepOurs] {
			delete(s.ours, h)
		}
		st.Ours = st.Ours[n-keepOurs:]
	}
	s.st = st
	s.stateMu.Unlock()
	return s.saveState(st)
}

func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), name)
}
