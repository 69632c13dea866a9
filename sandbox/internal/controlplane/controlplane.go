// Package controlplane runs a real Kubernetes control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler) as child
// processes of the sandbox, listening on 127.0.0.1 only, and stops it
// without leaving processes or listeners behind.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// Defaults applied by Start to zero Config fields.
const (
	DefaultServiceCIDR            = "10.96.0.0/16"
	DefaultNodeMonitorGracePeriod = 10 * time.Second
)

// Per-phase startup bounds; the caller's ctx may cut them shorter. They are
// generous because the first start on a loaded 2-core machine is slow.
const (
	etcdTimeout       = 30 * time.Second
	apiserverTimeout  = 90 * time.Second
	controllerTimeout = 60 * time.Second

	// stopGrace is how long a component gets to exit after SIGTERM.
	stopGrace = 10 * time.Second
	// killWait bounds the wait after SIGKILL.
	killWait = 5 * time.Second
)

// Config describes one control plane. Only Dir is required.
type Config struct {
	// Dir is the state dir: certs/, etcd/, logs/<component>.log,
	// pids/<component>.pid, kubeconfigs/ and the admin Dir/kubeconfig.
	Dir string
	// BinDir holds kube-apiserver, kube-controller-manager and
	// kube-scheduler; empty means look them up in PATH.
	BinDir string
	// EtcdBin is the etcd binary, a path or a name looked up in PATH;
	// default "etcd".
	EtcdBin string
	// ServiceCIDR is the Service IP range (allocation only; there is no
	// kube-proxy); default DefaultServiceCIDR.
	ServiceCIDR string
	// ClusterCIDR is the pod CIDR passed to --cluster-cidr; optional.
	ClusterCIDR string
	// NodeMonitorGracePeriod is how long a silent node stays Ready; short
	// so a killed node goes NotReady quickly. Default
	// DefaultNodeMonitorGracePeriod.
	NodeMonitorGracePeriod time.Duration
	// ExtraSANs are extra IP addresses for the apiserver serving cert.
	ExtraSANs []string
	// Logf, if set, receives one line per startup phase with its timing.
	Logf func(format string, args ...any)
}

// withDefaults fills zero fields and validates the result without I/O.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Dir == "" {
		return cfg, errors.New("config: dir is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return cfg, fmt.Errorf("config: dir: %w", err)
	}
	cfg.Dir = dir
	if cfg.EtcdBin == "" {
		cfg.EtcdBin = NameEtcd
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = DefaultServiceCIDR
	}
	if _, err := firstServiceIP(cfg.ServiceCIDR); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if cfg.ClusterCIDR != "" {
		if _, err := netip.ParsePrefix(cfg.ClusterCIDR); err != nil {
			return cfg, fmt.Errorf("config: cluster cidr: %w", err)
		}
	}
	switch {
	case cfg.NodeMonitorGracePeriod == 0:
		cfg.NodeMonitorGracePeriod = DefaultNodeMonitorGracePeriod
	case cfg.NodeMonitorGracePeriod < time.Second:
		return cfg, fmt.Errorf("config: node monitor grace period %s is below 1s", cfg.NodeMonitorGracePeriod)
	}
	if _, err := parseIPs(cfg.ExtraSANs); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return cfg, nil
}

// Component is a snapshot of one control-plane process.
type Component struct {
	Name    string
	Pid     int
	Running bool
	LogPath string
	// Endpoint is the URL the component serves on 127.0.0.1.
	Endpoint string
}

// ControlPlane is a running control plane. Its methods are safe for
// concurrent use.
type ControlPlane struct {
	cfg     Config
	layout  layout
	ports   ports
	procs   []*process // in start order
	rest    *rest.Config
	startup time.Duration

	mu       sync.Mutex
	stopping bool
	err      error
	done     chan struct{}
	doneOnce sync.Once

	stopOnce sync.Once
	stopErr  error
}

// Start brings up etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler on free 127.0.0.1 ports and returns once the apiserver is
// ready, both controllers report healthy and the "default" ServiceAccount
// exists (so Pods can be created). ctx bounds startup only: the components
// keep running after ctx ends, until Stop. On failure everything started
// is stopped again.
func Start(ctx context.Context, cfg Config) (_ *ControlPlane, err error) {
	began := time.Now()
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if pids := Stale(cfg.Dir); len(pids) > 0 {
		return nil, fmt.Errorf("start control plane: components of a previous run in %s are still running (pids %v); stop them first", cfg.Dir, pids)
	}
	bins, err := resolveBinaries(cfg)
	if err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	c := &ControlPlane{cfg: cfg, layout: layout{dir: cfg.Dir}, done: make(chan struct{})}
	defer func() {
		if err == nil {
			return
		}
		// Clean up even if ctx was cancelled, but still bounded.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopGrace+killWait)
		defer cancel()
		if stopErr := c.Stop(stopCtx); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
	}()

	phase := time.Now()
	if err := c.prepare(); err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	cfg.Logf("control plane: certificates and kubeconfigs ready in %s", since(phase))

	phase = time.Now()
	etcd, err := c.launch(NameEtcd, bins[NameEtcd], etcdArgs(c.layout, c.ports), c.ports.etcdURL())
	if err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx, etcd, etcdTimeout, c.checkEtcd); err != nil {
		return nil, err
	}
	cfg.Logf("control plane: etcd ready in %s", since(phase))

	phase = time.Now()
	apiserver, err := c.launch(NameAPIServer, bins[NameAPIServer], apiserverArgs(c.layout, c.ports, cfg), c.ports.apiserverURL())
	if err != nil {
		return nil, err
	}
	checkAPI, err := c.apiserverChecks()
	if err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	if err := c.waitReady(ctx, apiserver, apiserverTimeout, checkAPI.readyz); err != nil {
		return nil, err
	}
	cfg.Logf("control plane: kube-apiserver ready in %s", since(phase))

	// Both controllers start in parallel: neither depends on the other.
	phase = time.Now()
	kcm, err := c.launch(NameControllerManager, bins[NameControllerManager], controllerManagerArgs(c.layout, c.ports, cfg), "https://"+hostPort(c.ports.controllerManager))
	if err != nil {
		return nil, err
	}
	sched, err := c.launch(NameScheduler, bins[NameScheduler], schedulerArgs(c.layout, c.ports), "https://"+hostPort(c.ports.scheduler))
	if err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx, sched, controllerTimeout, c.checkHealthz(sched)); err != nil {
		return nil, err
	}
	cfg.Logf("control plane: kube-scheduler healthy in %s", since(phase))
	if err := c.waitReady(ctx, kcm, controllerTimeout, c.checkHealthz(kcm)); err != nil {
		return nil, err
	}
	cfg.Logf("control plane: kube-controller-manager healthy in %s", since(phase))
	// Pod admission rejects Pods until their namespace's "default"
	// ServiceAccount exists; waiting here means the first apply works.
	if err := c.waitReady(ctx, kcm, controllerTimeout, checkAPI.defaultServiceAccount); err != nil {
		return nil, err
	}
	cfg.Logf("control plane: default serviceaccount ready in %s", since(phase))

	c.startup = time.Since(began)
	return c, nil
}

// prepare creates the state dir layout, certificates, ports and kubeconfigs.
func (c *ControlPlane) prepare() error {
	l := c.layout
	for _, d := range []string{l.dir, l.certs(), l.logs(), l.pids(), l.kubeconfigs(), l.etcdData()} {
		// 0700: the dir holds private keys and the etcd data.
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	if err := writePKI(l, c.cfg); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	free, err := freePorts(5)
	if err != nil {
		return err
	}
	c.ports = ports{etcdClient: free[0], etcdPeer: free[1], apiserver: free[2], controllerManager: free[3], scheduler: free[4]}
	return writeKubeconfigs(l, c.ports.apiserverURL())
}

// launch starts one component and registers it for Stop and monitoring.
func (c *ControlPlane) launch(name, bin string, args []string, endpoint string) (*process, error) {
	p, err := startProcess(name, bin, args, c.layout.log(name), c.layout.pid(name), endpoint)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	go c.watch(p)
	return p, nil
}

// watch reports the first component that exits while not being stopped.
func (c *ControlPlane) watch(p *process) {
	<-p.exited
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping || c.err != nil {
		return
	}
	c.err = fmt.Errorf("%s (pid %d) exited unexpectedly: %w (log %s)", p.name, p.pid(), p.exitError(), p.logPath)
	c.closeDone()
}

func (c *ControlPlane) closeDone() { c.doneOnce.Do(func() { close(c.done) }) }

// resolveBinaries maps component names to executable paths.
func resolveBinaries(cfg Config) (map[string]string, error) {
	bins := map[string]string{}
	var errs []error
	for _, name := range componentNames {
		bin := name
		switch {
		case name == NameEtcd:
			bin = cfg.EtcdBin
		case cfg.BinDir != "":
			bin = filepath.Join(cfg.BinDir, name)
		}
		path, err := exec.LookPath(bin)
		if err != nil {
			errs = append(errs, fmt.Errorf("find %s: %w", name, err))
			continue
		}
		bins[name] = path
	}
	return bins, errors.Join(errs...)
}

// KubeconfigPath returns the admin (system:masters) kubeconfig, Dir/kubeconfig.
func (c *ControlPlane) KubeconfigPath() string { return c.layout.adminKubeconfig() }

// CAFile returns the cluster CA certificate. Kubelets use it as
// --client-ca-file to authenticate the apiserver's kubelet client cert.
func (c *ControlPlane) CAFile() string { return c.layout.cert(certCA) }

// APIServerURL returns the apiserver's https URL on 127.0.0.1.
func (c *ControlPlane) APIServerURL() string { return c.ports.apiserverURL() }

// APIServerPort returns the apiserver's port on 127.0.0.1.
func (c *ControlPlane) APIServerPort() int { return c.ports.apiserver }

// RESTConfig returns a fresh copy of the admin client configuration.
func (c *ControlPlane) RESTConfig() *rest.Config { return rest.CopyConfig(c.rest) }

// StartupDuration returns how long Start took, from call to ready.
func (c *ControlPlane) StartupDuration() time.Duration { return c.startup }

// Components returns a snapshot of the components in start order.
func (c *ControlPlane) Components() []Component {
	c.mu.Lock()
	procs := append([]*process(nil), c.procs...)
	c.mu.Unlock()
	out := make([]Component, 0, len(procs))
	for _, p := range procs {
		out = append(out, Component{Name: p.name, Pid: p.pid(), Running: p.running(), LogPath: p.logPath, Endpoint: p.endpoint})
	}
	return out
}

// Done is closed when a component exits unexpectedly (see Err) or when
// Stop has finished. Components are never restarted.
func (c *ControlPlane) Done() <-chan struct{} { return c.done }

// Err returns the first unexpected component exit, or nil if none
// happened (including after a clean Stop).
func (c *ControlPlane) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stop sends SIGTERM to the components in reverse start order, escalating
// to SIGKILL after a grace period or when ctx ends, and waits for every one
// to exit. It is idempotent; later calls return the first call's result.
func (c *ControlPlane) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		c.stopping = true
		procs := append([]*process(nil), c.procs...)
		c.mu.Unlock()
		var errs []error
		for i := len(procs) - 1; i >= 0; i-- {
			if err := procs[i].terminate(ctx, stopGrace); err != nil {
				errs = append(errs, err)
			}
		}
		c.closeDone()
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

func since(t time.Time) time.Duration { return time.Since(t).Round(10 * time.Millisecond) }
