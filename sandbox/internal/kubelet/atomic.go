package kubelet

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The kubelet's atomic writer layout for content volumes (pkg/volume/util
// atomic_writer.go): the files live in a hidden timestamped directory,
// "..data" points at it, and each top-level name is a symlink through
// "..data". An update writes a new directory and swaps "..data" with one
// rename, so a reader sees either every old file or every new one, never a
// certificate from one Secret version and its key from the other.
const dataDirLink = "..data"

// writeAtomic makes dir hold exactly files; it reports whether anything
// changed (false when the content is already there).
func writeAtomic(dir string, files []file, defaultMode *int32) (bool, error) {
	for _, f := range files {
		if strings.Contains(f.path, "..") || filepath.IsAbs(f.path) {
			return false, fmt.Errorf("invalid path %q", f.path)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	if same(dir, files, defaultMode) {
		return false, nil
	}
	ts, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return false, err
	}
	for _, f := range files {
		p := filepath.Join(ts, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return false, err
		}
		mode := fileMode(f, defaultMode)
		if err := os.WriteFile(p, f.data, mode); err != nil {
			return false, err
		}
		if err := os.Chmod(p, mode); err != nil {
			return false, err
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, dataDirLink))
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataDirLink)); err != nil {
		return false, err
	}
	// Top-level names: add the new ones, drop those no longer there.
	want := map[string]bool{}
	for _, f := range files {
		want[strings.SplitN(filepath.ToSlash(f.path), "/", 2)[0]] = true
	}
	for name := range want {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(dataDirLink, name), link); err != nil {
			return false, err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") && !want[e.Name()] {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	if old != "" && old != filepath.Base(ts) {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return true, nil
}

func fileMode(f file, defaultMode *int32) os.FileMode {
	mode := os.FileMode(0o644)
	if defaultMode != nil {
		mode = os.FileMode(*defaultMode)
	}
	if f.mode != nil {
		mode = os.FileMode(*f.mode)
	}
	return mode
}

// same: dir's current data directory holds exactly files, with their modes.
func same(dir string, files []file, defaultMode *int32) bool {
	cur, err := os.Readlink(filepath.Join(dir, dataDirLink))
	if err != nil {
		return false
	}
	base := filepath.Join(dir, cur)
	var have []string
	err = filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(base, p)
			have = append(have, rel)
		}
		return err
	})
	if err != nil || len(have) != len(files) {
		return false
	}
	sort.Strings(have)
	for _, f := range files {
		p := filepath.Join(base, f.path)
		if i := sort.SearchStrings(have, filepath.Clean(f.path)); i == len(have) || have[i] != filepath.Clean(f.path) {
			return false
		}
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != fileMode(f, defaultMode).Perm() {
			return false
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(data, f.data) {
			return false
		}
	}
	return true
}

// contentSyncPeriod is how often a running pod's configMap and secret
// volumes are brought up to date. The kubelet takes up to its sync period
// plus its cache's TTL (about a minute by default); the sandbox is quicker
// but not instant, so that code waiting on a renewal must still wait.
const contentSyncPeriod = 10 * time.Second

// refreshContent rewrites pod's configMap and secret volumes (whole
// volumes: as with the kubelet, a subPath mount keeps the file it started
// with) whenever their object changes, until stop is closed. An object that
// cannot be read leaves the volume as it is.
func (ps *podState) refreshContent(ctx context.Context, volumes map[string]string) {
	ps.mu.Lock()
	pod := ps.pod.DeepCopy()
	ps.mu.Unlock()
	objs := apiObjects{ctx: ctx, client: ps.p.client}
	t := time.NewTicker(contentSyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ps.stopCh:
			return
		case <-t.C:
		}
		for _, v := range pod.Spec.Volumes {
			var src fileSource
			var mode *int32
			switch {
			case v.ConfigMap != nil:
				src, mode = configMapFiles(objs, pod.Namespace, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional), v.ConfigMap.DefaultMode
			case v.Secret != nil:
				src, mode = secretFiles(objs, pod.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional), v.Secret.DefaultMode
			default:
				continue
			}
			files, err := src()
			if err != nil {
				continue
			}
			if changed, err := writeAtomic(volumes[v.Name], files, mode); err != nil {
				ps.p.log.Warn("refresh volume", "pod", ps.key.String(), "volume", v.Name, "err", err)
			} else if changed {
				ps.p.log.Info("volume updated", "pod", ps.key.String(), "volume", v.Name)
			}
		}
	}
}
