package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/controlplane"
	"github.com/redis-gitops/redis-gitops/sandbox/internal/kubelet"
	"github.com/redis-gitops/redis-gitops/sandbox/internal/podnet"
	"github.com/redis-gitops/redis-gitops/sandbox/internal/serviceproxy"
	"github.com/redis-gitops/redis-gitops/sandbox/internal/storage"
)

// Options configure a sandbox.
type Options struct {
	Dir    string
	Nodes  int // default 3
	Zones  int // default: one zone per node
	BinDir string
	// Images is what the kubelets run for each image; nil: the default
	// table.
	Images kubelet.ImageTable
	Log    *slog.Logger
}

// Supervisor is a running sandbox.
type Supervisor struct {
	opts    Options
	names   Names
	client  kubernetes.Interface
	cp      *controlplane.ControlPlane
	network *kubelet.Network
	ranges  podnet.HostRanges
	proxy   *serviceproxy.Proxy
	// apiForward serves the API server to pods on the bridge gateway.
	apiForward *serviceproxy.TCPForward
	apiForPods netip.AddrPort
	// stopProxy ends the proxy's Run; proxyDone is closed when it returned.
	stopProxy context.CancelFunc
	proxyDone chan struct{}
	started   time.Time

	mu     sync.Mutex
	nodes  []*nodeSlot
	status State
}

// nodeSlot is one node: its config, and the running Node unless killed.
type nodeSlot struct {
	cfg  kubelet.Config
	node *kubelet.Node
}

// State is what `sandbox status` and `sandbox up` print, and what the
// supervisor writes to sandbox.json.
type State struct {
	Ready      bool   `json:"ready"`
	Pid        int    `json:"pid"`
	Dir        string `json:"dir"`
	Kubeconfig string `json:"kubeconfig"`
	Version    string `json:"kubernetesVersion"`
	Bridge     string `json:"bridge"`
	PodCIDR    string `json:"podCIDR"`
	Gateway    string `json:"gateway"`
	// LoadBalancerRange is where LoadBalancer Services get their address.
	LoadBalancerRange string `json:"loadBalancerRange"`
	// PodAPIServer is where pods reach the API server (host:port), their
	// KUBERNETES_SERVICE_HOST and _PORT.
	PodAPIServer string `json:"podAPIServer"`
	// Images is the image table: what each image runs.
	Images       []kubelet.ImageEntry `json:"images"`
	ServiceProxy serviceproxy.Status  `json:"serviceProxy"`
	// StartupSeconds is from the supervisor's start to every node Ready.
	StartupSeconds      float64                  `json:"startupSeconds"`
	ControlPlaneSeconds float64                  `json:"controlPlaneSeconds"`
	Components          []controlplane.Component `json:"components"`
	Nodes               []NodeState              `json:"nodes"`
}

// NodeState is one node in State.
type NodeState struct {
	Name    string `json:"name"`
	Zone    string `json:"zone"`
	Address string `json:"address"`
	// ExternalAddress is the node's ExternalIP, on the pod network, where
	// nodePorts are served.
	ExternalAddress string     `json:"externalAddress,omitempty"`
	Running         bool       `json:"running"`
	Partitioned     bool       `json:"partitioned"`
	Pods            []PodState `json:"pods,omitempty"`
}

// PodState is one pod a node runs.
type PodState struct {
	Name  string `json:"name"` // namespace/name
	IP    string `json:"ip"`
	Phase string `json:"phase"`
}

// Run starts a sandbox and serves its control socket until ctx ends, then
// tears everything down. ready is called once every node is Ready.
func Run(ctx context.Context, opts Options, ready func(State)) (err error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if opts.Zones <= 0 {
		opts.Zones = opts.Nodes
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Images == nil {
		opts.Images = kubelet.DefaultImages
	}
	names, err := NamesFor(opts.Dir)
	if err != nil {
		return err
	}
	s := &Supervisor{opts: opts, names: names, started: time.Now()}
	// Teardown runs on every exit path, with a context of its own: ctx is
	// usually already done when it runs.
	defer func() {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if terr := s.teardown(tctx); terr != nil {
			err = errors.Join(err, terr)
		}
	}()
	if err := s.start(ctx); err != nil {
		return err
	}
	ln, err := listenUnix(names.Socket)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	st := s.State(ctx)
	if err := writeJSON(names.StateFile, st); err != nil {
		return err
	}
	if ready != nil {
		ready(st)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-s.cp.Done():
		return fmt.Errorf("control plane stopped: %w", s.cp.Err())
	}
}

func (s *Supervisor) start(ctx context.Context) error {
	log := s.opts.Log
	if err := os.MkdirAll(filepath.Join(s.names.Dir, "logs"), 0o755); err != nil {
		return fmt.Errorf("create sandbox dir: %w", err)
	}
	bridge, cidr, err := claimPodNetwork(ctx, s.names.Bridge)
	if err != nil {
		return err
	}
	gateway := bridge.Gateway
	ipam, err := podnet.NewIPAM(cidr, gateway.Addr())
	if err != nil {
		return err
	}
	// The top of the pod CIDR belongs to the host: node external addresses
	// and LoadBalancer addresses, which pods reach on the bridge.
	if s.ranges, err = podnet.HostRangesOf(cidr); err != nil {
		return err
	}
	for _, r := range []netip.Prefix{s.ranges.Nodes, s.ranges.LoadBalancers} {
		if err := ipam.ReservePrefix(r); err != nil {
			return fmt.Errorf("pod network: keep %v from pods: %w", r, err)
		}
	}
	s.network = &kubelet.Network{Bridge: bridge, PodCIDR: cidr, IPAM: ipam, NetnsPrefix: s.names.NetnsPrefix}
	log.Info("pod network", "bridge", bridge.Name, "cidr", cidr, "gateway", gateway.Addr())

	s.cp, err = controlplane.Start(ctx, controlplane.Config{
		Dir:         s.names.Dir,
		BinDir:      s.opts.BinDir,
		ClusterCIDR: cidr.String(),
		// Pods reach the API server on the gateway (see startAPIForward).
		ExtraSANs: []string{gateway.Addr().String()},
		Logf:      func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...)) },
	})
	if err != nil {
		return err
	}
	log.Info("control plane ready", "seconds", s.cp.StartupDuration().Seconds())
	s.client, err = kubernetes.NewForConfig(s.cp.RESTConfig())
	if err != nil {
		return err
	}

	if err := s.startAPIForward(gateway.Addr()); err != nil {
		return err
	}
	if err := s.startProxy(ctx, bridge); err != nil {
		return err
	}

	prov := &storage.Provisioner{Client: s.client, Root: filepath.Join(s.names.Dir, "volumes"), Log: log}
	if err := prov.EnsureClass(ctx); err != nil {
		return err
	}
	go func() {
		if err := prov.Run(context.WithoutCancel(ctx)); err != nil {
			log.Error("storage provisioner", "err", err)
		}
	}()

	s.nodes = make([]*nodeSlot, s.opts.Nodes)
	errs := make([]error, s.opts.Nodes)
	var wg sync.WaitGroup
	for i := range s.opts.Nodes {
		s.nodes[i] = &nodeSlot{cfg: kubelet.Config{
			NodeName:        NodeName(i),
			Zone:            Zone(i, s.opts.Zones),
			Address:         NodeAddress(i),
			ExternalAddress: s.externalAddress(i),
			KubeletVersion:  KubernetesVersion,
			Dir:             filepath.Join(s.names.Dir, "pods"),
			Client:          s.client,
			Network:         s.network,
			Images:          s.opts.Images,
			APIServer:       s.apiForPods,
			Log:             log,
		}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.nodes[i].node, errs[i] = kubelet.Start(context.WithoutCancel(ctx), s.nodes[i].cfg)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := s.waitNodesReady(ctx, 60*time.Second); err != nil {
		return err
	}
	s.mu.Lock()
	s.status.StartupSeconds = time.Since(s.started).Seconds()
	s.mu.Unlock()
	log.Info("all nodes ready", "nodes", s.opts.Nodes, "seconds", time.Since(s.started).Seconds())
	return nil
}

// externalAddress is the i-th node's ExternalIP, added to the bridge by
// startProxy; "" past the 254 the node range holds (such nodes have only
// their InternalIP).
func (s *Supervisor) externalAddress(i int) string {
	a, err := s.ranges.NodeAddress(i)
	if err != nil {
		return ""
	}
	return a.String()
}

// startAPIForward makes the API server reachable from pods: a forward from
// the bridge gateway, on the API server's own port, to the API server on
// 127.0.0.1. Its serving certificate holds the gateway's address, so
// in-cluster clients verify it with the cluster CA they are given. The
// gateway is the sandbox's own address on its own bridge, so nothing
// outside the machine can reach it.
func (s *Supervisor) startAPIForward(gateway netip.Addr) error {
	port := s.cp.APIServerPort()
	listen := netip.AddrPortFrom(gateway, uint16(port))
	f, err := serviceproxy.ListenForward(listen.String(), fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("api server for pods: %w", err)
	}
	s.apiForward, s.apiForPods = f, listen
	s.opts.Log.Info("api server for pods", "address", listen)
	return nil
}

// startProxy puts every node's external address on the bridge and starts
// the service proxy, which serves nodePorts on them and on the nodes'
// InternalIPs, and LoadBalancer Services on addresses of their own.
func (s *Supervisor) startProxy(ctx context.Context, bridge podnet.Bridge) error {
	var nodes []serviceproxy.Node
	for i := range s.opts.Nodes {
		n := serviceproxy.Node{Name: NodeName(i), Addrs: []netip.Addr{netip.MustParseAddr(NodeAddress(i))}}
		if ext, err := s.ranges.NodeAddress(i); err == nil {
			if err := bridge.AddAddress(ctx, ext); err != nil {
				return fmt.Errorf("node %s external address: %w", n.Name, err)
			}
			n.Addrs = append([]netip.Addr{ext}, n.Addrs...)
		}
		nodes = append(nodes, n)
	}
	proxy, err := serviceproxy.New(serviceproxy.Config{
		Client:        s.client,
		Nodes:         nodes,
		LoadBalancers: s.ranges.LoadBalancers,
		Addresses:     bridge,
		Log:           s.opts.Log,
	})
	if err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.proxy, s.stopProxy, s.proxyDone = proxy, cancel, make(chan struct{})
	go func() {
		defer close(s.proxyDone)
		if err := proxy.Run(pctx); err != nil {
			s.opts.Log.Error("service proxy stopped", "err", err)
		}
	}()
	s.opts.Log.Info("service proxy", "nodeAddresses", s.ranges.Nodes, "loadBalancers", s.ranges.LoadBalancers)
	return nil
}

// waitNodesReady waits until the API shows every node Ready, which is what
// a user's `kubectl get nodes` would check.
func (s *Supervisor) waitNodesReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		list, err := s.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ready := 0
		if err == nil {
			for _, n := range list.Items {
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
			if ready >= s.opts.Nodes {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nodes: %d of %d Ready after %s (last error: %v)", ready, s.opts.Nodes, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// teardown stops pods, nodes, the control plane and the network, then
// removes whatever is left of the sandbox's host-level objects.
func (s *Supervisor) teardown(ctx context.Context) error {
	// The proxy goes first: it closes its listeners and connections and
	// takes its LoadBalancer addresses off the bridge.
	if s.stopProxy != nil {
		s.stopProxy()
		<-s.proxyDone
	}
	var wg sync.WaitGroup
	s.mu.Lock()
	for _, slot := range s.nodes {
		if slot != nil && slot.node != nil {
			wg.Add(1)
			go func(n *kubelet.Node) { defer wg.Done(); n.Stop() }(slot.node)
		}
	}
	s.mu.Unlock()
	wg.Wait()
	// After the pods, which may still talk to the API server while they
	// stop (a daemon releasing its Lease); this also ends their watches.
	if s.apiForward != nil {
		_ = s.apiForward.Close()
	}
	var errs []error
	if s.cp != nil {
		errs = append(errs, s.cp.Stop(ctx))
	}
	errs = append(errs, Sweep(ctx, s.names, false))
	return errors.Join(errs...)
}

// State reports the sandbox's components, nodes and pods.
func (s *Supervisor) State(ctx context.Context) State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Ready = true
	st.Pid = os.Getpid()
	st.Dir = s.names.Dir
	st.Kubeconfig = s.cp.KubeconfigPath()
	st.Version = KubernetesVersion
	st.Bridge = s.names.Bridge
	st.PodCIDR = s.network.PodCIDR.String()
	st.Gateway = s.network.Bridge.Gateway.Addr().String()
	st.LoadBalancerRange = s.ranges.LoadBalancers.String()
	if s.apiForPods.IsValid() {
		st.PodAPIServer = s.apiForPods.String()
	}
	st.Images = s.opts.Images.Entries()
	if s.proxy != nil {
		st.ServiceProxy = s.proxy.Status()
	}
	st.ControlPlaneSeconds = s.cp.StartupDuration().Seconds()
	st.Components = s.cp.Components()
	for _, slot := range s.nodes {
		ns := NodeState{Name: slot.cfg.NodeName, Zone: slot.cfg.Zone, Address: slot.cfg.Address, ExternalAddress: slot.cfg.ExternalAddress, Running: slot.node != nil}
		if slot.node != nil {
			ns.Partitioned = slot.node.Partitioned()
			pods, _ := slot.node.Pods(ctx)
			for _, p := range pods {
				ns.Pods = append(ns.Pods, PodState{Name: p.Namespace + "/" + p.Name, IP: p.Status.PodIP, Phase: string(p.Status.Phase)})
			}
		}
		st.Nodes = append(st.Nodes, ns)
	}
	return st
}

func (s *Supervisor) slot(name string) (*nodeSlot, error) {
	for _, slot := range s.nodes {
		if slot.cfg.NodeName == name {
			return slot, nil
		}
	}
	return nil, fmt.Errorf("no node named %q", name)
}

// KillNode powers a node off: its processes die and it stops heartbeating.
func (s *Supervisor) KillNode(ctx context.Context, name string) error {
	s.mu.Lock()
	slot, err := s.slot(name)
	var n *kubelet.Node
	if err == nil {
		n, slot.node = slot.node, nil
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if n == nil {
		return fmt.Errorf("node %s is already down", name)
	}
	n.Kill()
	// A node that is off answers on none of its addresses.
	if err := s.proxy.SetNodeUp(ctx, name, false); err != nil {
		return err
	}
	s.opts.Log.Info("node killed", "node", name)
	return nil
}

// StartNode powers a killed node on again.
func (s *Supervisor) StartNode(ctx context.Context, name string) error {
	s.mu.Lock()
	slot, err := s.slot(name)
	if err == nil && slot.node != nil {
		err = fmt.Errorf("node %s is already running", name)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	n, err := kubelet.Start(context.WithoutCancel(ctx), slot.cfg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	slot.node = n
	s.mu.Unlock()
	// A node comes back unpartitioned (its kubelet starts afresh).
	s.proxy.SetNodePartitioned(name, false)
	if err := s.proxy.SetNodeUp(ctx, name, true); err != nil {
		return err
	}
	s.opts.Log.Info("node started", "node", name)
	return nil
}

// PartitionNode cuts (on) or restores traffic between a node's pods and all
// other pods.
func (s *Supervisor) PartitionNode(ctx context.Context, name string, on bool) error {
	s.mu.Lock()
	slot, err := s.slot(name)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if slot.node == nil {
		return fmt.Errorf("node %s is down", name)
	}
	if err := slot.node.SetPartitioned(ctx, on); err != nil {
		return err
	}
	// The service proxy dials pods from the host, which a partition
	// spares; it must not carry pod traffic across the cut either.
	s.proxy.SetNodePartitioned(name, on)
	return nil
}

// KillContainer kills one container's process wherever its pod runs.
func (s *Supervisor) KillContainer(ctx context.Context, namespace, pod, container string) error {
	p, err := s.client.CoreV1().Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return err
	}
	s.mu.Lock()
	slot, err := s.slot(p.Spec.NodeName)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("pod %s/%s is not on a sandbox node: %w", namespace, pod, err)
	}
	if slot.node == nil {
		return fmt.Errorf("node %s is down", slot.cfg.NodeName)
	}
	return slot.node.KillContainer(namespace, pod, container)
}

func listenUnix(path string) (net.Listener, error) {
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, os.Chmod(path, 0o600)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// netLock serialises pod-CIDR choice between sandboxes on this machine: two
// sandboxes starting at once (test binaries run in parallel) would otherwise
// both find 10.244.0.0/16 free and route it to two bridges. It is an
// abstract unix socket, so it leaves no file behind and a dead holder
// releases it.
const netLock = "@redis-gitops-sandbox-net"

// claimPodNetwork picks a free pod CIDR and sets up the bridge on it, under
// netLock, so the route the bridge adds is what the next sandbox sees.
func claimPodNetwork(ctx context.Context, name string) (podnet.Bridge, netip.Prefix, error) {
	var lock net.Listener
	for {
		var err error
		if lock, err = net.Listen("unix", netLock); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return podnet.Bridge{}, netip.Prefix{}, fmt.Errorf("pod network lock: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer lock.Close()
	cidr, err := PickPodCIDR(podnet.OverlapsRoutes)
	if err != nil {
		return podnet.Bridge{}, netip.Prefix{}, err
	}
	bridge := podnet.Bridge{Name: name, Gateway: netip.PrefixFrom(cidr.Addr().Next(), cidr.Bits())}
	if err := bridge.Setup(ctx); err != nil {
		return podnet.Bridge{}, netip.Prefix{}, err
	}
	return bridge, cidr, nil
}
