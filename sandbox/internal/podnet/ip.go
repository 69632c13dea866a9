// Package podnet gives sandbox pods their own network namespaces, wired to
// a Linux bridge in the root network namespace.
//
// Everything here shells out to iproute2 ("ip"): the sandbox is test
// infrastructure, and the ip command's error messages are far easier to
// debug than raw netlink errnos. All objects the package creates are
// findable by name for leftover cleanup: network namespaces by the caller's
// prefix (ListNetns), the bridge by its name (ListLinks), and host-side veth
// ends by VethName of the namespace.
package podnet

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// NetnsDir is where "ip netns add" pins named network namespaces.
const NetnsDir = "/run/netns"

// ip runs the ip command and folds its stderr into the error, because the
// exit status alone ("exit status 2") says nothing about what went wrong.
func ip(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ip", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return out, fmt.Errorf("ip %s: %w", strings.Join(args, " "), err)
		}
		return out, fmt.Errorf("ip %s: %s: %w", strings.Join(args, " "), msg, err)
	}
	return out, nil
}

// isNotFound reports whether an ip error means the object was already gone,
// which the idempotent delete paths treat as success.
func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	for _, m := range []string{
		"Cannot find device",
		"No such process",
		"No such file or directory",
		"does not exist",
	} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// inNetns runs fn on an OS thread that has joined the named network
// namespace. The thread stays locked and is therefore thrown away when the
// goroutine ends, so no other goroutine can ever be scheduled on a thread
// left in the wrong namespace. Sockets created inside fn belong to the
// namespace for their whole life, even after fn returns.
func inNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // deliberately never unlocked, see above
		f, err := os.Open(filepath.Join(NetnsDir, name))
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", name, err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("join netns %s: %w", name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// writeSysctl writes a /proc/sys value. Network sysctls resolve against the
// calling thread's network namespace, so inside inNetns this configures the
// pod, not the host.
func writeSysctl(key, value string) error {
	p := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// ListNetns returns the names of the named network namespaces (entries of
// /run/netns) that start with prefix. A missing /run/netns means none.
func ListNetns(prefix string) ([]string, error) {
	entries, err := os.ReadDir(NetnsDir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list netns: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// ListLinks returns the names of the network interfaces in the caller's
// (normally the root) network namespace that start with prefix.
func ListLinks(prefix string) ([]string, error) {
	// /sys/class/net reflects the namespace sysfs was mounted in, which is
	// the root namespace on a normal host; it avoids a netlink dump.
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
