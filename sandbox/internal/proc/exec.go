package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Size is a terminal size in character cells.
type Size struct {
	Width, Height uint16
}

// ptyDrainIdle is how long Exec keeps reading a terminal after the command
// exited once no more output arrives. Output normally ends with EIO when the
// last holder of the terminal closes it; this only matters when a
// background child keeps it open.
const ptyDrainIdle = 200 * time.Millisecond

// Exec runs cmd inside the container of process pid: in its mount and
// network namespaces, with its root and working directory. env nil means
// the container's environment: its Spec.Env if this process started it. With tty, the command gets a
// new session on a pseudo-terminal that carries stdin and stdout (stderr is
// unused, as with kubectl exec -t) and is resized from resize; otherwise it
// gets plain pipes. It returns the command's exit code (128+N for death by
// signal N); a non-zero exit is not an error. ctx cancellation kills the
// command.
func Exec(ctx context.Context, pid int, cmd []string, env []string, stdin io.Reader, stdout, stderr io.Writer, tty bool, resize <-chan Size) (exitCode int, err error) {
	if len(cmd) == 0 {
		return -1, fmt.Errorf("exec in container of pid %d: empty command", pid)
	}
	// nsenter would report a vanished target as exit status 1,
	// indistinguishable from the command's own; check first.
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/ns/mnt", pid)); err != nil {
		return -1, fmt.Errorf("exec %s in container of pid %d: %w", cmd[0], pid, err)
	}
	if env == nil {
		env, err = processEnv(pid)
		if err != nil {
			return -1, fmt.Errorf("exec %s in container of pid %d: %w", cmd[0], pid, err)
		}
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return -1, fmt.Errorf("exec %s in container of pid %d: %w", cmd[0], pid, err)
	}
	args := append([]string{"--target", strconv.Itoa(pid), "--mount", "--net", "--root", "--wd", "--"}, cmd...)
	c := exec.CommandContext(ctx, nsenter, args...)
	c.Env = env
	c.WaitDelay = waitDelay
	if tty {
		err = runTTY(c, stdin, stdout, resize)
	} else {
		err = runPipes(c, stdin, stdout, stderr)
	}
	if err != nil {
		return -1, fmt.Errorf("exec %s in container of pid %d: %w", cmd[0], pid, err)
	}
	if ctx.Err() != nil {
		return exitCodeOf(c.ProcessState), fmt.Errorf("exec %s in container of pid %d: %w", cmd[0], pid, ctx.Err())
	}
	return exitCodeOf(c.ProcessState), nil
}

// processEnv returns the environment pid was started with: the Spec.Env of
// a process Start launched, else what /proc/PID/environ still shows.
func processEnv(pid int) ([]string, error) {
	if env, ok := startedEnv.Load(pid); ok {
		return env.([]string), nil
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil, err
	}
	env := []string{}
	for _, kv := range bytes.Split(raw, []byte{0}) {
		if len(kv) > 0 {
			env = append(env, string(kv))
		}
	}
	return env, nil
}

// waitResult turns the outcome of Cmd.Wait into an error only when the
// command could not be run or waited for; exit statuses are results.
func waitResult(err error) error {
	var exitErr *exec.ExitError
	if err == nil || errors.As(err, &exitErr) || errors.Is(err, exec.ErrWaitDelay) {
		return nil
	}
	return err
}

func runPipes(c *exec.Cmd, stdin io.Reader, stdout, stderr io.Writer) error {
	c.Stdout, c.Stderr = stdout, stderr
	var stdinW *os.File
	switch in := stdin.(type) {
	case nil:
	case *os.File:
		c.Stdin = in
	default:
		// Our own pipe instead of letting exec copy: exec's copier can keep
		// Wait blocked on a stdin that never ends after the command exited.
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		c.Stdin, stdinW = r, w
		defer r.Close()
		defer w.Close()
	}
	if err := c.Start(); err != nil {
		return err
	}
	if stdinW != nil {
		c.Stdin.(*os.File).Close()
		go func() {
			_, _ = io.Copy(stdinW, stdin)
			stdinW.Close() // EOF for the command
		}()
	}
	return waitResult(c.Wait())
}

func runTTY(c *exec.Cmd, stdin io.Reader, stdout io.Writer, resize <-chan Size) error {
	master, slave, err := openPTY()
	if err != nil {
		return err
	}
	defer master.Close()
	if stdout == nil {
		stdout = io.Discard
	}
	// Apply a size that is already waiting, so the command starts with it.
	if resize != nil {
		select {
		case sz, ok := <-resize:
			if ok {
				setSize(master, sz)
			}
		default:
		}
	}
	c.Stdin, c.Stdout, c.Stderr = slave, slave, slave
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = c.Start()
	slave.Close() // only the command may hold it, or EIO never comes
	if err != nil {
		return err
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	if resize != nil {
		wg.Go(func() {
			for {
				select {
				case sz, ok := <-resize:
					if !ok {
						return
					}
					setSize(master, sz)
				case <-done:
					return
				}
			}
		})
	}
	if stdin != nil {
		// Not waited for: it may block in stdin.Read until the caller
		// closes stdin. Writes fail once master is closed.
		go func() { _, _ = io.Copy(master, stdin) }()
	}
	var exited atomic.Bool
	var copyErr error
	out := make(chan struct{})
	go func() {
		defer close(out)
		buf := make([]byte, 32*1024)
		for {
			n, err := master.Read(buf)
			if n > 0 {
				if _, werr := stdout.Write(buf[:n]); werr != nil {
					copyErr = werr
					return
				}
				if exited.Load() {
					_ = master.SetReadDeadline(time.Now().Add(ptyDrainIdle))
				}
			}
			if err != nil {
				return // EIO: every holder of the terminal closed it
			}
		}
	}()
	waitErr := c.Wait()
	exited.Store(true)
	_ = master.SetReadDeadline(time.Now().Add(ptyDrainIdle))
	<-out
	close(done)
	wg.Wait()
	if err := waitResult(waitErr); err != nil {
		return err
	}
	if copyErr != nil {
		return fmt.Errorf("copy output: %w", copyErr)
	}
	return nil
}

// openPTY returns a new pseudo-terminal pair. The master is non-blocking so
// the runtime poller can apply read deadlines to it.
func openPTY() (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	// TIOCGPTPEER opens the peer through the master itself, so it works no
	// matter which devpts instance (if any) is mounted at /dev/pts.
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno == 0 {
		return master, os.NewFile(sfd, "pty-slave"), nil
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open pty peer: %w", err)
	}
	name := "/dev/pts/" + strconv.Itoa(n)
	slave, err = os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open pty peer: %w", err)
	}
	return master, slave, nil
}

func setSize(master *os.File, sz Size) {
	ws := &unix.Winsize{Row: sz.Height, Col: sz.Width}
	// Not master.Fd(): that would switch the descriptor to blocking mode
	// and break the read deadlines. A failed resize only garbles the
	// display, so it is not worth failing the command for.
	if rc, err := master.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws)
		})
	}
}
