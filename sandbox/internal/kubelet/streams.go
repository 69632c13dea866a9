package kubelet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"k8s.io/apimachinery/pkg/types"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/proc"
)

func (p *Provider) lookup(namespace, name, containerName string) (*container, error) {
	p.mu.Lock()
	ps, ok := p.pods[types.NamespacedName{Namespace: namespace, Name: name}]
	p.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("pod %s/%s does not run on node %s", namespace, name, p.nodeName)
	}
	return ps.findContainer(containerName)
}

// GetContainerLogs serves `kubectl logs`: tail, limit, previous and follow.
func (p *Provider) GetContainerLogs(ctx context.Context, namespace, podName, containerName string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	c, err := p.lookup(namespace, podName, containerName)
	if err != nil {
		return nil, err
	}
	// The log file holds the latest run; once it has ended (back-off before
	// a restart), that run is the "previous" one.
	path := c.logPath(false)
	if opts.Previous && c.isRunning() {
		path = c.logPath(true)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) && opts.Previous {
			return nil, fmt.Errorf("previous terminated container %q in pod %q not found", containerName, podName)
		}
		if !os.IsNotExist(err) {
			return nil, err
		}
	}
	data = tailLines(data, opts.Tail)
	if opts.LimitBytes > 0 && len(data) > opts.LimitBytes {
		data = data[:opts.LimitBytes]
	}
	if !opts.Follow || opts.Previous {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	pr, pw := io.Pipe()
	go follow(ctx, path, int64(len(data)), data, pw)
	return pr, nil
}

// tailLines keeps the last n lines (n <= 0 keeps all).
func tailLines(data []byte, n int) []byte {
	if n <= 0 {
		return data
	}
	end := len(data)
	if end > 0 && data[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if data[i] == '\n' {
			n--
			if n == 0 {
				return data[i+1:]
			}
		}
	}
	return data
}

// follow writes what was read so far, then polls the file for more until the
// client goes away.
func follow(ctx context.Context, path string, offset int64, first []byte, w *io.PipeWriter) {
	if _, err := w.Write(first); err != nil {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		w.CloseWithError(err)
		return
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		w.CloseWithError(err)
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			continue
		}
		if err != nil && err != io.EOF {
			w.CloseWithError(err)
			return
		}
		select {
		case <-ctx.Done():
			w.Close()
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// RunInContainer serves `kubectl exec`: the command runs in the container's
// mount and network namespaces with its environment.
func (p *Provider) RunInContainer(ctx context.Context, namespace, podName, containerName string, cmd []string, attach api.AttachIO) error {
	c, err := p.lookup(namespace, podName, containerName)
	if err != nil {
		return err
	}
	pid, env, err := c.pid()
	if err != nil {
		return err
	}
	var resize chan proc.Size
	if attach.TTY() && attach.Resize() != nil {
		resize = make(chan proc.Size, 1)
		go func() {
			defer close(resize)
			for {
				select {
				case s, ok := <-attach.Resize():
					if !ok {
						return
					}
					select {
					case resize <- proc.Size{Width: s.Width, Height: s.Height}:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	var stdout, stderr io.Writer = io.Discard, io.Discard
	if w := attach.Stdout(); w != nil {
		stdout = w
		defer w.Close()
	}
	if w := attach.Stderr(); w != nil {
		stderr = w
		defer w.Close()
	}
	code, err := proc.Exec(ctx, pid, cmd, envList(env), attach.Stdin(), stdout, stderr, attach.TTY(), resize)
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// exitError carries a command's exit code back through the exec stream, so
// `kubectl exec` exits with it (the API's ExitStatus interface).
type exitError struct{ code int }

func (e *exitError) Error() string {
	return fmt.Sprintf("command terminated with non-zero exit code: %d", e.code)
}
func (e *exitError) String() string  { return e.Error() }
func (e *exitError) Exited() bool    { return true }
func (e *exitError) ExitStatus() int { return e.code }

// AttachToContainer is not supported: containers have no attachable stdin.
func (p *Provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return fmt.Errorf("attach is not supported by the sandbox kubelet")
}

// PortForward is not supported; tests reach pods through their namespaces.
func (p *Provider) PortForward(context.Context, string, string, int32, io.ReadWriteCloser) error {
	return fmt.Errorf("port-forward is not supported by the sandbox kubelet")
}

// GetStatsSummary reports the node with no usage figures.
func (p *Provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return &statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{NodeName: p.nodeName}}, nil
}

// GetMetricsResource reports no resource metrics.
func (p *Provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, nil
}
