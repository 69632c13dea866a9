package controlplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/cert"
)

const (
	// pollInterval is short because every poll saved is startup time.
	pollInterval = 100 * time.Millisecond
	// checkTimeout bounds one probe so a hung listener cannot eat the
	// whole phase budget.
	checkTimeout = 2 * time.Second
	tailLines    = 25
)

// waitReady polls check until it succeeds, the phase timeout passes, ctx
// ends, or any component exits. Errors name p and quote its log tail.
func (c *ControlPlane) waitReady(ctx context.Context, p *process, timeout time.Duration, check func(context.Context) error) error {
	phaseCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		checkCtx, cancelCheck := context.WithTimeout(phaseCtx, checkTimeout)
		last := check(checkCtx)
		cancelCheck()
		if last == nil {
			return nil
		}
		select {
		case <-c.done:
			// Quote the log of whichever component died, which may not be p.
			err := c.Err()
			for _, q := range c.procsSnapshot() {
				if !q.running() {
					return fmt.Errorf("start %s: %w\n%s", p.name, err, logBlock(q))
				}
			}
			return fmt.Errorf("start %s: %w", p.name, err)
		case <-phaseCtx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("start %s: %w (last check: %v)", p.name, ctx.Err(), last)
			}
			return fmt.Errorf("start %s: not ready after %s: %w (last check: %v)\n%s", p.name, timeout, phaseCtx.Err(), last, logBlock(p))
		case <-ticker.C:
		}
	}
}

func (c *ControlPlane) procsSnapshot() []*process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*process(nil), c.procs...)
}

func logBlock(p *process) string {
	return fmt.Sprintf("--- last lines of %s ---\n%s", p.logPath, p.logTail(tailLines))
}

// loopbackTransport never consults proxy settings: every endpoint is on
// 127.0.0.1 and must stay there.
func loopbackTransport(tlsConfig *tls.Config) *http.Transport {
	return &http.Transport{Proxy: nil, TLSClientConfig: tlsConfig, DisableKeepAlives: true}
}

// httpCheck returns a probe that GETs url and wants 200 with want in the body.
func httpCheck(client *http.Client, url, want string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	}
}

func (c *ControlPlane) checkEtcd(ctx context.Context) error {
	client := &http.Client{Transport: loopbackTransport(nil)}
	return httpCheck(client, c.ports.etcdURL()+"/health", `"health":"true"`)(ctx)
}

// checkHealthz probes a controller's /healthz, verifying its serving cert
// against the sandbox CA.
func (c *ControlPlane) checkHealthz(p *process) func(context.Context) error {
	return func(ctx context.Context) error {
		pool, err := cert.NewPool(c.layout.cert(certCA))
		if err != nil {
			return err
		}
		client := &http.Client{Transport: loopbackTransport(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})}
		return httpCheck(client, p.endpoint+"/healthz", "ok")(ctx)
	}
}

// apiChecks are the probes that go through the admin client.
type apiChecks struct {
	client kubernetes.Interface
}

// apiserverChecks loads the admin kubeconfig into c.rest and returns the
// probes built on it.
func (c *ControlPlane) apiserverChecks() (*apiChecks, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.layout.adminKubeconfig())
	if err != nil {
		return nil, fmt.Errorf("load admin kubeconfig: %w", err)
	}
	// The sandbox is the only user; client-side throttling only slows
	// tests and controllers built on this config.
	cfg.QPS, cfg.Burst = 100, 200
	c.rest = cfg
	probeCfg := *cfg
	probeCfg.Timeout = checkTimeout
	client, err := kubernetes.NewForConfig(&probeCfg)
	if err != nil {
		return nil, fmt.Errorf("build admin client: %w", err)
	}
	return &apiChecks{client: client}, nil
}

func (a *apiChecks) readyz(ctx context.Context) error {
	body, err := a.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("GET /readyz: %w: %s", err, lastLines(string(body), 5))
	}
	if strings.TrimSpace(string(body)) != "ok" {
		return errors.New("GET /readyz: " + string(body))
	}
	return nil
}

func (a *apiChecks) defaultServiceAccount(ctx context.Context) error {
	_, err := a.client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get serviceaccount default/default: %w", err)
	}
	return nil
}
