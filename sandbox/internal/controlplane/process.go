package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/spawn"
)

// process is one running component.
type process struct {
	name     string
	logPath  string
	pidPath  string
	endpoint string
	// logStart is the log size before this run, so error messages quote
	// only lines written by this run.
	logStart int64

	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait has returned
	err    error         // cmd.Wait result; read only after exited is closed
}

// startProcess launches bin with args, output appended to logPath, and
// records its pid in pidPath so a later run can find it after a crash.
// Deliberately not exec.CommandContext: ctx only bounds startup, the
// component must outlive it.
func startProcess(name, bin string, args []string, logPath, pidPath, endpoint string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	info, err := logFile.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat log: %w", err)
	}
	fmt.Fprintf(logFile, "==== %s %s %s\n", time.Now().Format(time.RFC3339), bin, strings.Join(args, " "))

	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: a terminal ^C reaches only the supervisor,
		// which then stops components in order.
		Setpgid: true,
		// If the supervisor dies hard, take the components with it.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := spawn.Start(cmd); err != nil {
		return nil, err
	}
	p := &process{
		name:     name,
		logPath:  logPath,
		pidPath:  pidPath,
		endpoint: endpoint,
		logStart: info.Size(),
		cmd:      cmd,
		exited:   make(chan struct{}),
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if err := os.WriteFile(pidPath, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		p.kill()
		<-p.exited
		return nil, fmt.Errorf("write pid file: %w", err)
	}
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// exitError describes why the process ended; valid after exited is closed.
func (p *process) exitError() error {
	if p.err == nil {
		return errors.New("exited with status 0")
	}
	return p.err
}

// signal sends sig to the whole process group, in case a component ever
// forks helpers.
func (p *process) signal(sig syscall.Signal) {
	if err := syscall.Kill(-p.pid(), sig); err != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

func (p *process) kill() { p.signal(syscall.SIGKILL) }

// terminate sends SIGTERM, escalates to SIGKILL after grace or when ctx
// ends, and waits for the exit. It returns an error only if the process
// could not be made to exit.
func (p *process) terminate(ctx context.Context, grace time.Duration) error {
	defer os.Remove(p.pidPath)
	if !p.running() {
		return nil
	}
	p.signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	p.kill()
	// SIGKILL cannot be ignored; this bound only guards against a process
	// stuck in uninterruptible sleep.
	select {
	case <-p.exited:
		return nil
	case <-time.After(killWait):
		return fmt.Errorf("stop %s (pid %d): still running %s after SIGKILL", p.name, p.pid(), killWait)
	}
}

// logTail returns the last lines this run wrote to the component's log.
func (p *process) logTail(lines int) string {
	return tailFile(p.logPath, p.logStart, lines)
}

// tailFile returns up to the last n lines of path after offset start,
// reading at most 64 KiB so a huge log cannot blow up an error message.
func tailFile(path string, start int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	const maxRead = 64 << 10
	from := max(start, info.Size()-maxRead)
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	return lastLines(string(data), n)
}

// lastLines returns the last n non-empty-terminated lines of s.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if s == "" || n <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
