package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Stale returns the pids of control-plane components that a previous run
// with the same state dir left behind (e.g. after the supervisor crashed
// in a way Pdeathsig did not cover). A pid counts only if its pid file is
// present and /proc/<pid>/cmdline still names that component's binary and
// refers to dir, so a recycled pid is never reported. Components of a run
// that is still alive in another process are reported too: the pid files
// cannot tell the two apart, so callers decide (e.g. `sandbox down`).
func Stale(dir string) []int {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	l := layout{dir: abs}
	var pids []int
	for _, name := range componentNames {
		pid, ok := readPidFile(l.pid(name))
		if ok && isComponent(pid, name, abs) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// KillStale stops the processes Stale reports: SIGTERM to each process
// group, SIGKILL after a grace period or when ctx ends, then removes the
// pid files. It returns an error only for processes that survive.
func KillStale(ctx context.Context, dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("kill stale components: %w", err)
	}
	pids := Stale(abs)
	for _, pid := range pids {
		signalGroup(pid, syscall.SIGTERM)
	}
	// Re-reading cmdline (empty for zombies) instead of probing the pid
	// means a recycled pid is never waited on or killed.
	alive := func() []int { return Stale(abs) }
	if !waitGone(ctx, alive, stopGrace) {
		for _, pid := range alive() {
			signalGroup(pid, syscall.SIGKILL)
		}
		// Fresh context: after SIGKILL we only wait for the kernel.
		if !waitGone(context.WithoutCancel(ctx), alive, killWait) {
			return fmt.Errorf("kill stale components: pids %v still running after SIGKILL", alive())
		}
	}
	l := layout{dir: abs}
	var errs []error
	for _, name := range componentNames {
		if err := os.Remove(l.pid(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kill stale components: %w", err)
	}
	return nil
}

// waitGone polls until alive reports nothing, timeout passes or ctx ends.
func waitGone(ctx context.Context, alive func() []int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for len(alive()) > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-ticker.C:
		}
	}
	return true
}

// signalGroup signals pid's process group when pid leads one (components
// are started with Setpgid), else just pid.
func signalGroup(pid int, sig syscall.Signal) {
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
		if syscall.Kill(-pid, sig) == nil {
			return
		}
	}
	_ = syscall.Kill(pid, sig)
}

func readPidFile(path string) (int, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// isComponent reports whether pid runs the named component for dir.
func isComponent(pid int, name, dir string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return cmdlineMatches(cmdline, name, dir)
}

// cmdlineMatches checks a NUL-separated /proc cmdline: argv[0] must be the
// component binary and some argument must point into dir (every component
// gets a data dir, cert or kubeconfig path there).
func cmdlineMatches(cmdline []byte, name, dir string) bool {
	args := strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00")
	if len(args) == 0 || filepath.Base(args[0]) != name {
		return false
	}
	prefix := filepath.Clean(dir) + string(filepath.Separator)
	for _, a := range args[1:] {
		if _, value, ok := strings.Cut(a, "="); ok && strings.HasPrefix(value, prefix) {
			return true
		}
	}
	return false
}
