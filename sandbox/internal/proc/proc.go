// Package proc runs sandbox containers as local processes.
//
// A container is a process in its own mount namespace whose root is a
// private tmpfs holding bind mounts of the host's system directories plus
// the container's volumes, joined to a pod network namespace. There is no
// PID, user, UTS or IPC isolation and no image: containers run host
// binaries. This is test infrastructure, not a security boundary.
//
// Start works by re-executing the current binary as a small "container
// init" that builds the namespace and then execs the program in place, so
// the container's PID is the program's PID. Every binary that calls Start
// must therefore call Init first thing in main (or TestMain).
package proc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/spawn"
)

// initArg is the hidden first argument that turns the binary into a
// container init.
const initArg = "__sandbox-container-init"

// The init inherits the spec pipe and the error pipe at these descriptors
// (ExtraFiles start at 3).
const (
	specFD = 3
	errFD  = 4
)

// initExitCode is the exit status of an init that failed before exec,
// following the shell convention for "command could not be run".
const initExitCode = 127

// waitDelay bounds how long waiting for a process or command keeps copying
// output after it exited, in case a descendant that escaped its process
// group still holds the output pipe.
const waitDelay = 5 * time.Second

var initCalled atomic.Bool

// startedEnv remembers the environment of each running process Start
// launched, by PID, for Exec. /proc/PID/environ is no substitute: programs
// that rewrite their process title, redis-server among them, overwrite it.
var startedEnv sync.Map // int -> []string

// Mount is a bind mount of a host file or directory into the container.
type Mount struct {
	// HostPath is the absolute host path; it must exist.
	HostPath string
	// ContainerPath is the absolute path inside the container. It is
	// created if missing, but only inside the container's own tmpfs: a
	// path that would have to be created inside a host directory (/usr,
	// /etc, another Mount, ...) is an error, because creating it would
	// change the host.
	ContainerPath string
	// ReadOnly makes the mount read-only inside the container.
	ReadOnly bool
}

// Spec describes a container process.
type Spec struct {
	// Name identifies the container in errors.
	Name string
	// NetNS is the name of a network namespace under /run/netns to join;
	// "" keeps the host's, which is meant for tests only.
	NetNS string
	// Path is the program. A name without a slash is looked up in the
	// host's PATH. The program must live in a directory the container
	// sees (/usr, /bin, /opt, ...), since it is executed inside the
	// container's root.
	Path string
	// Args are the arguments after the program name; argv[0] is Path as
	// given.
	Args []string
	// Env is exactly the program's environment, as KEY=VALUE.
	Env []string
	// WorkingDir is the working directory inside the container, "" for /.
	// It is created like a Mount's ContainerPath.
	WorkingDir string
	// Mounts are applied in order of path depth, so a mount can sit
	// inside an earlier one's ContainerPath only if that path exists there.
	Mounts []Mount
	// Stdout and Stderr receive the program's output; nil discards it.
	// An *os.File is handed to the program directly; any other writer is
	// fed by a copying goroutine.
	Stdout, Stderr io.Writer
}

// initSpec is what Start hands to the container init. It travels through a
// pipe, not argv or the environment, because Env may carry secrets that
// must not show up in /proc/PID/cmdline or be misread by the init.
type initSpec struct {
	Name       string
	NetNS      string
	Path       string // resolved program path
	Argv       []string
	Env        []string
	WorkingDir string
	Mounts     []Mount
}

// Process is a running container process.
type Process struct {
	name     string
	cmd      *exec.Cmd
	pid      int
	done     chan struct{}
	exitCode int
	waitErr  error
}

// Init turns the process into a container init if Start launched it, and
// otherwise returns at once. It must be the first thing main (or TestMain)
// does in every binary that calls Start: a container init never returns
// from it, it execs the container's program or exits with status 127.
func Init() {
	initCalled.Store(true)
	if len(os.Args) < 2 || os.Args[1] != initArg {
		return
	}
	runInit() // does not return
}

// Start starts the container process described by s and returns once the
// program has been exec'ed inside its namespaces, or with the init's error,
// e.g. "container redis: mount /conf: ...". ctx bounds the start-up only;
// cancelling it later does not affect the process.
//
// The process is in its own process group and is killed (Pdeathsig) when
// the sandbox process dies, so a dead supervisor leaves no orphans; it is
// forked from package spawn's immortal thread so that no retired Go thread
// can trigger that signal early.
func Start(ctx context.Context, s Spec) (*Process, error) {
	if !initCalled.Load() {
		return nil, fmt.Errorf("container %s: proc.Init was not called in main", s.Name)
	}
	if err := validate(s); err != nil {
		return nil, fmt.Errorf("container %s: %w", s.Name, err)
	}
	path := s.Path
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", s.Name, err)
		}
		path = p
	}
	spec, err := json.Marshal(initSpec{
		Name:       s.Name,
		NetNS:      s.NetNS,
		Path:       path,
		Argv:       append([]string{s.Path}, s.Args...),
		Env:        s.Env,
		WorkingDir: s.WorkingDir,
		Mounts:     s.Mounts,
	})
	if err != nil {
		return nil, fmt.Errorf("container %s: encode spec: %w", s.Name, err)
	}

	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", s.Name, err)
	}
	defer specW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		specR.Close()
		return nil, fmt.Errorf("container %s: %w", s.Name, err)
	}
	defer errR.Close()

	// /proc/self/exe rather than os.Executable: it works even if the binary
	// was replaced or deleted since it started.
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{"sandbox-init", initArg},
		Env:        []string{},
		Stdout:     s.Stdout,
		Stderr:     s.Stderr,
		ExtraFiles: []*os.File{specR, errW},
		WaitDelay:  waitDelay,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWNS,
			Setpgid:    true,
			Pdeathsig:  syscall.SIGKILL,
		},
	}
	err = spawn.Start(cmd)
	// The child has its own copies; ours must go or EOF never arrives.
	specR.Close()
	errW.Close()
	if err != nil {
		return nil, fmt.Errorf("container %s: start init: %w", s.Name, err)
	}
	pid := cmd.Process.Pid

	result := make(chan error, 1)
	go func() {
		if _, err := specW.Write(spec); err != nil {
			result <- fmt.Errorf("send spec: %w", err)
			return
		}
		specW.Close()
		// The error pipe is close-on-exec in the init: EOF without a
		// message means the program was exec'ed.
		msg, err := io.ReadAll(errR)
		switch {
		case err != nil:
			result <- fmt.Errorf("read init status: %w", err)
		case len(msg) > 0:
			result <- errors.New(string(msg))
		default:
			result <- nil
		}
	}()
	select {
	case err = <-result:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		_ = unix.Kill(-pid, unix.SIGKILL)
		_ = cmd.Wait()
		return nil, fmt.Errorf("container %s: %w", s.Name, err)
	}

	p := &Process{name: s.Name, cmd: cmd, pid: pid, done: make(chan struct{})}
	startedEnv.Store(pid, append([]string{}, s.Env...))
	go p.reap()
	return p, nil
}

func validate(s Spec) error {
	if s.Path == "" {
		return errors.New("no program path")
	}
	for _, m := range s.Mounts {
		if !strings.HasPrefix(m.HostPath, "/") || !strings.HasPrefix(m.ContainerPath, "/") {
			return fmt.Errorf("mount %s: host and container paths must be absolute", m.ContainerPath)
		}
	}
	if s.WorkingDir != "" && !strings.HasPrefix(s.WorkingDir, "/") {
		return fmt.Errorf("working dir %s: must be absolute", s.WorkingDir)
	}
	return nil
}

// reap waits for the program to exit, then kills what is left of its
// process group, the way a container's processes die with its PID 1.
func (p *Process) reap() {
	defer close(p.done)
	// Wait without reaping first: while the exited program is a zombie its
	// PID, and so the group ID, cannot be reused, so the group kill below
	// cannot hit an unrelated process.
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, p.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	_ = unix.Kill(-p.pid, unix.SIGKILL)
	startedEnv.Delete(p.pid) // before the PID can be reused

	err := p.cmd.Wait()
	p.exitCode = exitCodeOf(p.cmd.ProcessState)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) {
		p.waitErr = fmt.Errorf("container %s: wait: %w", p.name, err)
	}
}

// exitCodeOf maps a wait status to a shell-style exit code: the status, or
// 128+N for death by signal N (so SIGKILL gives 137, as in Kubernetes).
func exitCodeOf(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// Pid returns the program's process ID (on the host; there is no PID
// namespace).
func (p *Process) Pid() int { return p.pid }

// Done is closed once the program has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode returns the exit code once Done is closed, and -1 before. Death
// by signal N gives 128+N.
func (p *Process) ExitCode() int {
	select {
	case <-p.done:
		return p.exitCode
	default:
		return -1
	}
}

// Wait blocks until the program exits and returns its exit code (see
// ExitCode). A non-zero exit is not an error; err reports a failure to wait
// or to copy output. Wait may be called any number of times.
func (p *Process) Wait() (exitCode int, err error) {
	<-p.done
	return p.exitCode, p.waitErr
}

// Signal sends sig to the program only, like a container runtime stopping
// PID 1; the rest of the process group is killed when the program exits.
// It returns os.ErrProcessDone after the program has been reaped.
func (p *Process) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("container %s: signal %v: %w", p.name, sig, err)
	}
	return nil
}
