package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/controlplane"
	"github.com/redis-gitops/redis-gitops/sandbox/internal/podnet"
)

// Sweep removes every host-level object a sandbox dir owns: processes left
// in its pod network namespaces or from its control plane, the namespaces,
// the bridge, mounts under the dir, and with removeDir the dir itself. It is
// what makes `sandbox down` leave nothing behind even after a crash.
func Sweep(ctx context.Context, n Names, removeDir bool) error {
	var errs []error
	netns, err := podnet.ListNetns(n.NetnsPrefix)
	errs = append(errs, err)
	for _, pid := range processesInNetns(netns) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	errs = append(errs, controlplane.KillStale(ctx, n.Dir))
	for _, ns := range netns {
		errs = append(errs, podnet.DeletePod(ctx, ns))
	}
	errs = append(errs, podnet.Bridge{Name: n.Bridge}.Teardown(ctx))
	for _, m := range mountsUnder(n.Dir) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	if removeDir {
		if err := os.RemoveAll(n.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", n.Dir, err))
		}
	}
	return errors.Join(errs...)
}

// Leftovers lists what of a sandbox still exists on the host; empty means
// the sandbox is fully gone.
func Leftovers(n Names) []string {
	var left []string
	netns, _ := podnet.ListNetns(n.NetnsPrefix)
	for _, ns := range netns {
		left = append(left, "network namespace "+ns)
	}
	for _, pid := range processesInNetns(netns) {
		left = append(left, fmt.Sprintf("process %d in a pod network namespace", pid))
	}
	links, _ := podnet.ListLinks(n.Bridge)
	for _, l := range links {
		left = append(left, "link "+l)
	}
	for _, pid := range controlplane.Stale(n.Dir) {
		left = append(left, fmt.Sprintf("control plane process %d", pid))
	}
	for _, pid := range processesMentioning(n.Dir) {
		left = append(left, fmt.Sprintf("process %d (%s)", pid, cmdline(pid)))
	}
	for _, m := range mountsUnder(n.Dir) {
		left = append(left, "mount "+m)
	}
	if _, err := os.Stat(n.Dir); err == nil {
		left = append(left, "directory "+n.Dir)
	}
	sort.Strings(left)
	return left
}

// processesInNetns finds processes whose network namespace is one of the
// named ones, by comparing namespace inodes.
func processesInNetns(names []string) []int {
	if len(names) == 0 {
		return nil
	}
	inodes := map[uint64]bool{}
	for _, name := range names {
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/run/netns", name), &st) == nil {
			inodes[st.Ino] = true
		}
	}
	var pids []int
	for _, pid := range allPids() {
		var st syscall.Stat_t
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil && inodes[st.Ino] {
			pids = append(pids, pid)
		}
	}
	return pids
}

// processesMentioning finds processes whose command line names dir: the
// supervisor and control-plane components all do. This process and its
// ancestors are not among them: whatever runs `sandbox down --dir D` (a
// make target, a script given D) names D too.
func processesMentioning(dir string) []int {
	var pids []int
	mine := map[int]bool{}
	for pid := os.Getpid(); pid > 1 && !mine[pid]; pid = parentOf(pid) {
		mine[pid] = true
	}
	for _, pid := range allPids() {
		if !mine[pid] && strings.Contains(cmdline(pid), dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// parentOf is pid's parent from /proc/<pid>/stat (0 when unknown).
func parentOf(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: fields start after
	// its closing parenthesis.
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

func cmdline(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

func allPids() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountsUnder lists mount points in this mount namespace under dir, deepest
// first so they can be unmounted in order.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// unescapeMount decodes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
