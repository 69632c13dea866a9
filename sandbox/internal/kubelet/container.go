package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/proc"
)

// Restart back-off: the kubelet's is 10 s doubling to 5 min; the sandbox's is
// shorter so tests of crash loops finish, with the same shape.
const (
	backoffStart = time.Second
	backoffMax   = 20 * time.Second
	// backoffReset: a container that ran this long starts the back-off over.
	backoffReset = time.Minute
)

// container is one container of a pod and its restart loop.
type container struct {
	ps     *podState
	spec   corev1.Container
	isInit bool

	mu       sync.Mutex
	proc     *proc.Process
	env      map[string]string
	state    corev1.ContainerState
	last     corev1.ContainerState // the latest termination
	prev     corev1.ContainerState // the one before it
	restarts int32
	ready    bool
	ran      bool // started at least once
}

func newContainer(ps *podState, spec corev1.Container, isInit bool) *container {
	return &container{ps: ps, spec: spec, isInit: isInit}
}

func (c *container) logPath(previous bool) string {
	name := c.spec.Name + ".log"
	if previous {
		name += ".1"
	}
	return filepath.Join(c.ps.dir, "logs", name)
}

// restartPolicy is the pod's policy; init containers restart on failure
// unless the pod says Never.
func (c *container) shouldRestart(exitCode int) bool {
	policy := c.ps.pod.Spec.RestartPolicy
	if c.spec.RestartPolicy != nil && *c.spec.RestartPolicy == corev1.ContainerRestartPolicyAlways {
		policy = corev1.RestartPolicyAlways
	}
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	if c.isInit {
		return exitCode != 0
	}
	return true
}

// run starts the container and keeps it going per the restart policy. It
// returns true when the container ended successfully for good (what an init
// container must do), false when it failed for good or the pod stopped.
func (c *container) run(ctx context.Context, volumes map[string]string) bool {
	backoff := backoffStart
	for {
		started := time.Now()
		code, err := c.runOnce(ctx, volumes)
		if err != nil {
			c.ps.p.log.Warn("container start", "pod", c.ps.key.String(), "container", c.spec.Name, "err", err)
		}
		if c.ps.stopping() {
			return false
		}
		if err == nil && !c.shouldRestart(code) {
			return code == 0
		}
		if time.Since(started) > backoffReset {
			backoff = backoffStart
		}
		c.mu.Lock()
		if c.ran {
			c.restarts++
		}
		if err == nil {
			c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason: "CrashLoopBackOff", Message: fmt.Sprintf("back-off %s restarting failed container", backoff)}}
		}
		c.mu.Unlock()
		c.ps.p.publish(c.ps.snapshot())
		select {
		case <-c.ps.stopCh:
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, backoffMax)
	}
}

// runOnce starts the process, runs its probes, and waits for it to end or
// for the pod to stop. An error means the process could not start.
func (c *container) runOnce(ctx context.Context, volumes map[string]string) (int, error) {
	spec, err := c.processSpec(ctx, volumes)
	if err != nil {
		c.setWaitingError(err)
		return -1, err
	}
	logf, err := c.openLog()
	if err != nil {
		c.setWaitingError(err)
		return -1, err
	}
	defer logf.Close()
	spec.Stdout, spec.Stderr = logf, logf
	p, err := proc.Start(ctx, spec)
	if err != nil {
		c.setWaitingError(&startError{err})
		return -1, err
	}
	c.mu.Lock()
	c.proc, c.ran, c.ready = p, true, false
	c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	c.mu.Unlock()
	c.ps.p.publish(c.ps.snapshot())

	probeCtx, stopProbes := context.WithCancel(ctx)
	var probes sync.WaitGroup
	c.startProbes(probeCtx, &probes)

	var reason string
	select {
	case <-p.Done():
	case <-c.ps.stopCh:
		reason = c.stop(ctx, p)
	}
	stopProbes()
	probes.Wait()
	code := p.ExitCode()
	if reason == "" {
		reason = "Completed"
		if code != 0 {
			reason = "Error"
		}
	}
	c.mu.Lock()
	finished := metav1.Now()
	term := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: int32(code), Reason: reason, StartedAt: c.state.Running.StartedAt, FinishedAt: finished}}
	if code < 0 {
		term.Terminated.ExitCode = 137
	}
	c.state, c.prev, c.last, c.ready, c.proc = term, c.last, term, false, nil
	c.mu.Unlock()
	c.ps.p.publish(c.ps.snapshot())
	return int(term.Terminated.ExitCode), nil
}

// startError marks a process that could not be started (bad command, bad
// mount): reported as CreateContainerError / RunContainerError.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

func (c *container) setWaitingError(err error) {
	reason := "CreateContainerConfigError"
	var notMapped *ErrImageNotMapped
	var se *startError
	switch {
	case errors.As(err, &notMapped):
		reason = "ErrImagePull"
	case errors.As(err, &se):
		reason = "RunContainerError"
	}
	c.mu.Lock()
	c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: err.Error()}}
	c.mu.Unlock()
	c.ps.p.publish(c.ps.snapshot())
}

// processSpec resolves image, env, $(VAR) expansion and mounts into what
// proc.Start runs.
func (c *container) processSpec(ctx context.Context, volumes map[string]string) (proc.Spec, error) {
	img, err := c.ps.p.images.Resolve(c.spec.Image)
	if err != nil {
		return proc.Spec{}, err
	}
	c.ps.mu.Lock()
	pod := c.ps.pod.DeepCopy()
	rt := podRuntime{PodIP: c.ps.ip, HostIP: c.ps.p.hostIP, APIServer: c.ps.p.apiServer}
	c.ps.mu.Unlock()
	env, err := containerEnv(pod, &c.spec, img, rt, apiObjects{ctx: ctx, client: c.ps.p.client})
	if err != nil {
		return proc.Spec{}, err
	}
	argv := expandArgs(img.Argv(c.spec.Command, c.spec.Args), env)
	if len(argv) == 0 {
		return proc.Spec{}, fmt.Errorf("container %s: no command", c.spec.Name)
	}
	argv[0] = img.programPath(argv[0])
	mounts, err := containerMounts(&c.spec, volumes)
	if err != nil {
		return proc.Spec{}, err
	}
	if inside := img.containerProgram(); inside != "" {
		// The image's program, read-only, as it would be in its image.
		mounts = append(mounts, proc.Mount{HostPath: img.Program, ContainerPath: inside, ReadOnly: true})
	}
	wd := c.spec.WorkingDir
	if wd == "" {
		wd = img.WorkingDir
	}
	if wd == "" {
		wd = "/"
	}
	c.mu.Lock()
	c.env = env
	c.mu.Unlock()
	return proc.Spec{
		Name:       c.spec.Name,
		NetNS:      c.ps.netns,
		Path:       argv[0],
		Args:       argv[1:],
		Env:        envList(env),
		WorkingDir: wd,
		Mounts:     mounts,
	}, nil
}

// openLog rotates the previous run's log (for `kubectl logs --previous`).
func (c *container) openLog() (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(c.logPath(false)), 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Stat(c.logPath(false)); err == nil {
		_ = os.Rename(c.logPath(false), c.logPath(true))
	}
	return os.OpenFile(c.logPath(false), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// stop runs the preStop hook, then SIGTERM, then SIGKILL when the grace
// period is over; a killed node skips straight to SIGKILL.
func (c *container) stop(ctx context.Context, p *proc.Process) string {
	c.ps.mu.Lock()
	grace, killed := c.ps.grace, c.ps.killed
	c.ps.mu.Unlock()
	if killed {
		_ = p.Signal(syscall.SIGKILL)
		<-p.Done()
		return "Error"
	}
	deadline := time.Now().Add(grace)
	if h := c.spec.Lifecycle; h != nil && h.PreStop != nil && grace > 0 {
		hookCtx, cancel := context.WithDeadline(ctx, deadline)
		if err := c.runHandler(hookCtx, h.PreStop); err != nil {
			c.ps.p.log.Warn("preStop hook", "pod", c.ps.key.String(), "container", c.spec.Name, "err", err)
		}
		cancel()
	}
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
		return "Completed"
	case <-time.After(time.Until(deadline)):
		_ = p.Signal(syscall.SIGKILL)
		<-p.Done()
		return "Error"
	}
}

func (c *container) signal(sig syscall.Signal) error {
	c.mu.Lock()
	p := c.proc
	c.mu.Unlock()
	if p == nil {
		return fmt.Errorf("container %s is not running", c.spec.Name)
	}
	return p.Signal(sig)
}

func (c *container) pid() (int, map[string]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return 0, nil, fmt.Errorf("container %s is not running", c.spec.Name)
	}
	return c.proc.Pid(), c.env, nil
}

func (c *container) isRunning() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc != nil
}

func (c *container) hasRun() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ran
}

func (c *container) exitCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Terminated != nil {
		return int(c.state.Terminated.ExitCode)
	}
	return 1
}

func (c *container) setReady(ready bool) {
	c.mu.Lock()
	changed := c.ready != ready && c.proc != nil
	if changed {
		c.ready = ready
	}
	c.mu.Unlock()
	if changed {
		c.ps.p.publish(c.ps.snapshot())
	}
}

// status is the container's status as the kubelet reports it. Before the
// first start, the pod-level reason (volumes, image) says why it waits.
func (c *container) status(podReason, podMessage string) corev1.ContainerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := corev1.ContainerStatus{
		Name:                 c.spec.Name,
		Image:                c.spec.Image,
		ImageID:              "sandbox://" + c.spec.Image,
		State:                c.state,
		LastTerminationState: c.last,
		RestartCount:         c.restarts,
		Ready:                c.ready,
	}
	running := c.state.Running != nil
	st.Started = &running
	if c.proc != nil {
		st.ContainerID = fmt.Sprintf("sandbox://%d", c.proc.Pid())
	}
	if c.state == (corev1.ContainerState{}) {
		reason := podReason
		if reason == "" {
			reason = "ContainerCreating"
		}
		st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: podMessage}}
	}
	if c.state.Terminated != nil {
		// The current state is the latest termination; the last state is the one before.
		st.LastTerminationState = c.prev
	}
	return st
}
