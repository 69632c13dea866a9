package kubelet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/proc"
)

// startProbes runs the readiness and liveness probes of a running container.
// A container without a readiness probe is ready as soon as it runs.
func (c *container) startProbes(ctx context.Context, wg *sync.WaitGroup) {
	if c.isInit {
		return
	}
	if c.spec.ReadinessProbe == nil {
		c.setReady(true)
	} else {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.probeLoop(ctx, c.spec.ReadinessProbe, c.setReady)
		}()
	}
	if c.spec.LivenessProbe != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.probeLoop(ctx, c.spec.LivenessProbe, func(alive bool) {
				if !alive {
					c.ps.p.log.Info("liveness probe failed, restarting", "pod", c.ps.key.String(), "container", c.spec.Name)
					// The kubelet kills with the pod's grace period; the
					// restart loop then applies the restart policy.
					_ = c.signal(syscall.SIGTERM)
					go func() {
						select {
						case <-time.After(gracePeriod(c.ps.pod)):
							_ = c.signal(syscall.SIGKILL)
						case <-ctx.Done():
						}
					}()
				}
			})
		}()
	}
}

// probeLoop applies a probe's timing and thresholds and reports each change
// of its verdict.
func (c *container) probeLoop(ctx context.Context, pr *corev1.Probe, report func(bool)) {
	period := seconds(pr.PeriodSeconds, 10)
	timeout := seconds(pr.TimeoutSeconds, 1)
	successes, failures := int32(0), int32(0)
	successThreshold, failureThreshold := orDefault(pr.SuccessThreshold, 1), orDefault(pr.FailureThreshold, 3)
	verdict := -1 // unknown
	delay := time.Duration(pr.InitialDelaySeconds) * time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = period
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := c.probe(pctx, &pr.ProbeHandler)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			successes, failures = successes+1, 0
			if successes >= successThreshold && verdict != 1 {
				verdict = 1
				report(true)
			}
		} else {
			successes, failures = 0, failures+1
			if failures >= failureThreshold && verdict != 0 {
				verdict = 0
				report(false)
			}
		}
	}
}

func seconds(v int32, def int) time.Duration {
	if v <= 0 {
		return time.Duration(def) * time.Second
	}
	return time.Duration(v) * time.Second
}

func orDefault(v, def int32) int32 {
	if v <= 0 {
		return def
	}
	return v
}

// probe runs one probe: exec inside the container, or a TCP connect or HTTP
// GET from the node to the pod IP, as the kubelet does.
func (c *container) probe(ctx context.Context, h *corev1.ProbeHandler) error {
	switch {
	case h.Exec != nil:
		return c.execHandler(ctx, h.Exec.Command)
	case h.TCPSocket != nil:
		addr, err := c.target(h.TCPSocket.Host, h.TCPSocket.Port)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	case h.HTTPGet != nil:
		return c.httpGet(ctx, h.HTTPGet)
	}
	return fmt.Errorf("probe has no handler the sandbox supports")
}

// runHandler runs a lifecycle hook (preStop).
func (c *container) runHandler(ctx context.Context, h *corev1.LifecycleHandler) error {
	switch {
	case h.Exec != nil:
		return c.execHandler(ctx, h.Exec.Command)
	case h.HTTPGet != nil:
		return c.httpGet(ctx, h.HTTPGet)
	case h.Sleep != nil:
		select {
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		case <-ctx.Done():
		}
		return nil
	}
	return fmt.Errorf("lifecycle hook has no handler the sandbox supports")
}

// execHandler runs a command in the container; a non-zero exit is a failure.
func (c *container) execHandler(ctx context.Context, cmd []string) error {
	pid, env, err := c.pid()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	code, err := proc.Exec(ctx, pid, cmd, envList(env), nil, &out, &out, false, nil)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("command %q exited with %d: %s", cmd, code, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

func (c *container) httpGet(ctx context.Context, g *corev1.HTTPGetAction) error {
	addr, err := c.target(g.Host, g.Port)
	if err != nil {
		return err
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+g.Path, nil)
	if err != nil {
		return err
	}
	for _, h := range g.HTTPHeaders {
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("http probe: status %d", resp.StatusCode)
	}
	return nil
}

// target resolves a probe's host and (possibly named) port to an address.
func (c *container) target(host string, port intstr.IntOrString) (string, error) {
	if host == "" {
		c.ps.mu.Lock()
		host = c.ps.ip
		c.ps.mu.Unlock()
	}
	n := port.IntValue()
	if port.Type == intstr.String {
		n = 0
		for _, p := range c.spec.Ports {
			if p.Name == port.StrVal {
				n = int(p.ContainerPort)
			}
		}
		if n == 0 {
			return "", fmt.Errorf("container %s has no port named %q", c.spec.Name, port.StrVal)
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}
