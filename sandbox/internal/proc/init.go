package proc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// stagingDir is where the init builds the new root before pivoting into it.
// A tmpfs mounted over /tmp inside the container's own mount namespace is
// invisible to the host, so nothing is ever created on the host filesystem.
// Mount sources are opened before this hides the host's /tmp.
const stagingDir = "/tmp"

// oldRootDir is where pivot_root parks the host root until it is detached.
const oldRootDir = "/.oldroot"

// hostDirs are the host's top-level directories a container sees.
// Read-only ones hold programs and libraries, which no container has a
// reason to change on the host.
var hostDirs = []struct {
	name     string
	readOnly bool
}{
	{"usr", true}, {"bin", true}, {"sbin", true}, {"opt", true},
	{"lib", true}, {"lib32", true}, {"lib64", true}, {"libx32", true},
	{"etc", false}, {"var", false}, {"home", false}, {"root", false}, {"srv", false},
}

// runInit is the container init: it reports any failure through the error
// pipe and exits, or execs the program and never returns.
func runInit() {
	// Joining a network namespace affects only the calling thread, and it
	// is this thread that must execve, so it must not change under us.
	runtime.LockOSThread()
	errPipe := os.NewFile(errFD, "init-error")
	// Close-on-exec turns a successful exec into EOF for Start.
	unix.CloseOnExec(errFD)
	err := containerInit()
	fmt.Fprint(errPipe, err.Error())
	os.Exit(initExitCode)
}

// source is a mount source opened before the host root goes away.
type source struct {
	m     Mount
	fd    int
	isDir bool
}

func containerInit() error {
	f := os.NewFile(specFD, "init-spec")
	raw, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	var s initSpec
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("decode spec: %w", err)
	}

	// O_PATH descriptors pin the mount sources: they stay usable after the
	// staging tmpfs hides /tmp and after pivot_root, via /proc/self/fd.
	mounts := append([]Mount(nil), s.Mounts...)
	sort.SliceStable(mounts, func(i, j int) bool {
		return depth(mounts[i].ContainerPath) < depth(mounts[j].ContainerPath)
	})
	sources := make([]source, 0, len(mounts))
	for _, m := range mounts {
		fd, err := unix.Open(m.HostPath, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("mount %s: open %s: %w", m.ContainerPath, m.HostPath, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return fmt.Errorf("mount %s: stat %s: %w", m.ContainerPath, m.HostPath, err)
		}
		sources = append(sources, source{m: m, fd: fd, isDir: st.Mode&unix.S_IFMT == unix.S_IFDIR})
	}

	if s.NetNS != "" {
		if err := joinNetns(s.NetNS); err != nil {
			return err
		}
	}

	// Without this, mounts below would propagate to the host's shared
	// mounts (e.g. /run/netns, which ip makes shared).
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	hostBound, err := buildRoot(stagingDir)
	if err != nil {
		return err
	}
	if err := pivot(stagingDir); err != nil {
		return err
	}
	for _, src := range sources {
		if err := bindSource(src, hostBound); err != nil {
			return err
		}
		// Record where the mount really is, in case its path went through
		// a symlink, so nothing gets created inside it either.
		real, err := filepath.EvalSymlinks(src.m.ContainerPath)
		if err != nil {
			return fmt.Errorf("mount %s: %w", src.m.ContainerPath, err)
		}
		hostBound = append(hostBound, real)
		unix.Close(src.fd)
	}
	// Detaching the old root drops the container's references to every
	// host mount it does not need, e.g. other pods' /run/netns pins.
	if err := unix.Unmount(oldRootDir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := os.Remove(oldRootDir); err != nil {
		return fmt.Errorf("remove %s: %w", oldRootDir, err)
	}

	wd := s.WorkingDir
	if wd == "" {
		wd = "/"
	}
	if err := ensurePath(wd, true, hostBound); err != nil {
		return fmt.Errorf("working dir %s: %w", wd, err)
	}
	if err := unix.Chdir(wd); err != nil {
		return fmt.Errorf("working dir %s: %w", wd, err)
	}
	env := s.Env
	if env == nil {
		env = []string{}
	}
	err = syscall.Exec(s.Path, s.Argv, env)
	return fmt.Errorf("exec %s: %w", s.Path, err)
}

func depth(p string) int {
	return strings.Count(filepath.Clean(p), "/")
}

func joinNetns(name string) error {
	if name == "" || strings.Contains(name, "/") || name == "." || name == ".." {
		return fmt.Errorf("join netns %q: invalid name", name)
	}
	fd, err := unix.Open(filepath.Join("/run/netns", name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("join netns %s: %w", name, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("join netns %s: %w", name, err)
	}
	return nil
}

// buildRoot mounts a tmpfs at root and fills it with the host directories,
// /dev, /proc, /sys and fresh /run and /tmp. It returns the container paths
// that show host directories, inside which nothing may be created.
func buildRoot(root string) ([]string, error) {
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
		return nil, fmt.Errorf("mount root tmpfs: %w", err)
	}
	var hostBound []string
	for _, d := range hostDirs {
		host := "/" + d.name
		fi, err := os.Lstat(host)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mount %s: %w", host, err)
		}
		target := filepath.Join(root, d.name)
		if fi.Mode()&os.ModeSymlink != 0 {
			// Merged /usr: /bin -> usr/bin. Copying the link keeps paths
			// like /proc/PID/exe identical to the host's.
			link, err := os.Readlink(host)
			if err != nil {
				return nil, fmt.Errorf("mount %s: %w", host, err)
			}
			if err := os.Symlink(link, target); err != nil {
				return nil, fmt.Errorf("mount %s: %w", host, err)
			}
			continue
		}
		if !fi.IsDir() {
			continue
		}
		if err := bind(host, target, true, d.readOnly); err != nil {
			return nil, fmt.Errorf("mount %s: %w", host, err)
		}
		hostBound = append(hostBound, host)
	}
	for _, d := range []string{"dev", "proc", "sys"} {
		if err := bind("/"+d, filepath.Join(root, d), true, false); err != nil {
			return nil, fmt.Errorf("mount /%s: %w", d, err)
		}
		hostBound = append(hostBound, "/"+d)
	}
	for _, t := range []struct{ name, mode string }{{"run", "mode=755"}, {"tmp", "mode=1777"}} {
		target := filepath.Join(root, t.name)
		if err := os.Mkdir(target, 0o755); err != nil {
			return nil, fmt.Errorf("mount /%s: %w", t.name, err)
		}
		if err := unix.Mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, t.mode); err != nil {
			return nil, fmt.Errorf("mount /%s: %w", t.name, err)
		}
	}
	return hostBound, nil
}

// bind creates the directory target in the staging tmpfs and bind-mounts
// source on it.
func bind(source, target string, recursive, readOnly bool) error {
	if err := os.Mkdir(target, 0o755); err != nil {
		return err
	}
	return bindMount(source, target, recursive, readOnly)
}

func bindMount(source, target string, recursive, readOnly bool) error {
	flags := uintptr(unix.MS_BIND)
	if recursive {
		flags |= unix.MS_REC
	}
	if err := unix.Mount(source, target, "", flags, ""); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if !readOnly {
		return nil
	}
	// A bind mount ignores MS_RDONLY at creation; it takes a remount. The
	// remount replaces the per-mount flags, so carry over the restrictive
	// ones the source had rather than silently lifting them.
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	keep := uintptr(st.Flags) & (unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC)
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|keep, ""); err != nil {
		return fmt.Errorf("remount read-only: %w", err)
	}
	return nil
}

// pivot makes root the root of the mount namespace, with the old root
// still reachable at oldRootDir until the caller detaches it.
func pivot(root string) error {
	put := filepath.Join(root, oldRootDir)
	if err := os.Mkdir(put, 0o700); err != nil {
		return fmt.Errorf("pivot root: %w", err)
	}
	if err := unix.PivotRoot(root, put); err != nil {
		return fmt.Errorf("pivot root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("pivot root: %w", err)
	}
	return nil
}

// bindSource mounts a pinned source at its container path. It runs after
// pivot_root, so symlinks in the container path resolve inside the
// container, never into the host.
func bindSource(src source, hostBound []string) error {
	target := filepath.Clean(src.m.ContainerPath)
	if target == "/" || target == oldRootDir || strings.HasPrefix(target, oldRootDir+"/") {
		return fmt.Errorf("mount %s: invalid container path", src.m.ContainerPath)
	}
	if err := ensurePath(target, src.isDir, hostBound); err != nil {
		return fmt.Errorf("mount %s: %w", target, err)
	}
	from := "/proc/self/fd/" + strconv.Itoa(src.fd)
	if err := bindMount(from, target, true, src.m.ReadOnly); err != nil {
		return fmt.Errorf("mount %s: %w", target, err)
	}
	return nil
}

// ensurePath makes sure p exists inside the container as a directory (dir)
// or a non-directory, creating it and its missing parents only if the
// nearest existing ancestor lies in the container's own tmpfs rather than
// in one of the hostBound paths.
func ensurePath(p string, dir bool, hostBound []string) error {
	if fi, err := os.Stat(p); err == nil {
		if fi.IsDir() != dir {
			if dir {
				return fmt.Errorf("%s exists and is not a directory", p)
			}
			return fmt.Errorf("%s exists and is a directory, mount source is not", p)
		}
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// Find the nearest existing ancestor and resolve it, symlinks included,
	// to learn where the new entries would really be created.
	anc, rest := p, ""
	for {
		if _, err := os.Lstat(anc); err == nil {
			break
		}
		rest = filepath.Join(filepath.Base(anc), rest)
		anc = filepath.Dir(anc)
	}
	real, err := filepath.EvalSymlinks(anc)
	if err != nil {
		return err
	}
	for _, h := range hostBound {
		if real == h || strings.HasPrefix(real, h+"/") {
			return fmt.Errorf("%s would be created in host directory %s; create it on the host first", filepath.Join(real, rest), h)
		}
	}
	full := filepath.Join(real, rest)
	if dir {
		return os.MkdirAll(full, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(full, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}
