package kubelet

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/cert"
)

// Timing of a node's heartbeats. The real kubelet renews its 40 s lease every
// 10 s; the sandbox renews a 6 s lease every 1.5 s so that a killed node goes
// NotReady within the controller-manager's (shortened) grace period.
const (
	leaseSeconds   = 6
	renewInterval  = 1500 * time.Millisecond
	statusInterval = 5 * time.Second
)

// Config describes one sandbox node.
type Config struct {
	NodeName string
	Zone     string
	// Address is the node's InternalIP (a loopback address of its own, e.g.
	// 127.0.1.1) where its kubelet API listens on Port (0: any free port).
	Address string
	// ExternalAddress, if set, is reported as the node's ExternalIP: an
	// address on the sandbox bridge that pods and the host both reach, where
	// the sandbox's service proxy serves nodePorts.
	ExternalAddress string
	Port            int
	// KubeletVersion is reported in the node's status.
	KubeletVersion string
	Dir            string
	Client         kubernetes.Interface
	Network        *Network
	Images         ImageTable
	// APIServer is the API server's address as pods reach it, given to
	// every container as KUBERNETES_SERVICE_HOST/PORT; unset: not given.
	APIServer netip.AddrPort
	Log       *slog.Logger
}

// Node is a running sandbox node: its virtual-kubelet controllers, kubelet
// API server and pods.
type Node struct {
	cfg      Config
	provider *Provider
	cancel   context.CancelFunc
	done     chan struct{}
	err      error
	once     sync.Once
}

// Start registers the node (or takes it over again after a kill) and starts
// running the pods bound to it. It returns once the node is Ready.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Images == nil {
		cfg.Images = DefaultImages
	}
	p := newProvider(cfg)
	ctx, cancel := context.WithCancel(ctx)
	n := &Node{cfg: cfg, provider: p, cancel: cancel, done: make(chan struct{})}

	podInformers := informers.NewSharedInformerFactoryWithOptions(cfg.Client, time.Minute, nodeutil.PodInformerFilter(cfg.NodeName))
	podInformer := podInformers.Core().V1().Pods()
	// The kubelet API listens first: the node object carries its port.
	srv, err := n.serveKubeletAPI(p, podInformer.Lister())
	if err != nil {
		cancel()
		return nil, err
	}
	cfg = n.cfg
	nodeSpec := cfg.nodeObject()
	nc, err := node.NewNodeController(node.NewNaiveNodeProvider(), nodeSpec, cfg.Client.CoreV1().Nodes(),
		node.WithNodeEnableLeaseV1WithRenewInterval(nodeutil.NodeLeaseV1Client(cfg.Client), leaseSeconds, renewInterval),
		node.WithNodeStatusUpdateInterval(statusInterval),
		node.WithNodePingInterval(renewInterval),
	)
	if err != nil {
		cancel()
		srv.Close()
		return nil, fmt.Errorf("node %s: %w", cfg.NodeName, err)
	}

	objInformers := informers.NewSharedInformerFactory(cfg.Client, time.Minute)
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&corev1client.EventSinkImpl{Interface: cfg.Client.CoreV1().Events("")})
	pc, err := node.NewPodController(node.PodControllerConfig{
		PodClient:         cfg.Client.CoreV1(),
		PodInformer:       podInformer,
		EventRecorder:     broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: cfg.NodeName}),
		Provider:          p,
		ConfigMapInformer: objInformers.Core().V1().ConfigMaps(),
		SecretInformer:    objInformers.Core().V1().Secrets(),
		ServiceInformer:   objInformers.Core().V1().Services(),
		// The sandbox resolves env itself, once the pod IP is known
		// (virtual-kubelet would resolve status.podIP to "").
		SkipDownwardAPIResolution: true,
	})
	if err != nil {
		cancel()
		srv.Close()
		broadcaster.Shutdown()
		return nil, fmt.Errorf("node %s: %w", cfg.NodeName, err)
	}

	podInformers.Start(ctx.Done())
	objInformers.Start(ctx.Done())
	go func() {
		defer close(n.done)
		defer broadcaster.Shutdown()
		defer srv.Close()
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { defer wg.Done(); _ = pc.Run(ctx, 4) }()
		go func() { defer wg.Done(); p.syncStatuses(ctx, podInformer.Lister()) }()
		go func() { defer wg.Done(); n.err = nc.Run(ctx) }()
		wg.Wait()
	}()

	select {
	case <-nc.Ready():
	case <-n.done:
		return nil, fmt.Errorf("node %s stopped before ready: %w", cfg.NodeName, n.err)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		n.Kill()
		return nil, fmt.Errorf("node %s: not ready after 30s", cfg.NodeName)
	}
	select {
	case <-pc.Ready():
	case <-pc.Done():
		n.Kill()
		return nil, fmt.Errorf("node %s: pod controller: %w", cfg.NodeName, pc.Err())
	case <-time.After(30 * time.Second):
		n.Kill()
		return nil, fmt.Errorf("node %s: pod controller not ready after 30s", cfg.NodeName)
	}
	return n, nil
}

// nodeObject is the Node as registered: Ready, with the sandbox's labels,
// capacity for plenty of pods and the kubelet endpoint.
func (cfg Config) nodeObject() *corev1.Node {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("8"),
		corev1.ResourceMemory:           resource.MustParse("16Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	now := metav1.Now()
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	addresses := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: cfg.Address}}
	if cfg.ExternalAddress != "" {
		addresses = append(addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: cfg.ExternalAddress})
	}
	addresses = append(addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: cfg.NodeName})
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: cfg.NodeName,
			Labels: map[string]string{
				corev1.LabelHostname:           cfg.NodeName,
				corev1.LabelTopologyZone:       cfg.Zone,
				corev1.LabelOSStable:           "linux",
				corev1.LabelArchStable:         "amd64",
				"node.kubernetes.io/role":      "sandbox",
				corev1.LabelInstanceTypeStable: "sandbox",
			},
		},
		Status: corev1.NodeStatus{
			Phase:           corev1.NodeRunning,
			Capacity:        capacity,
			Allocatable:     capacity,
			Addresses:       addresses,
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(cfg.Port)}},
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion:          cfg.KubeletVersion,
				OperatingSystem:         "linux",
				Architecture:            "amd64",
				ContainerRuntimeVersion: "sandbox://processes",
				OSImage:                 "redis-gitops sandbox",
			},
			Conditions: []corev1.NodeCondition{
				cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "sandbox kubelet is posting ready status"),
				cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", ""),
				cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", ""),
				cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", ""),
				cond(corev1.NodeNetworkUnavailable, corev1.ConditionFalse, "RouteCreated", "sandbox bridge"),
			},
		},
	}
}

// serveKubeletAPI serves logs and exec for `kubectl logs/exec` on the node's
// address, with a self-signed certificate: the API server does not verify
// kubelet serving certificates unless told to.
func (n *Node) serveKubeletAPI(p *Provider, lister corev1listers.PodLister) (*http.Server, error) {
	tlsCfg, err := tlsConfigFor(n.cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("node %s: kubelet certificate: %w", n.cfg.NodeName, err)
	}
	addr := net.JoinHostPort(n.cfg.Address, strconv.Itoa(n.cfg.Port))
	l, err := tls.Listen("tcp", addr, tlsCfg)
	if err != nil {
		return nil, fmt.Errorf("node %s: kubelet api: %w", n.cfg.NodeName, err)
	}
	n.cfg.Port = l.Addr().(*net.TCPAddr).Port
	handler := api.PodHandler(api.PodHandlerConfig{
		RunInContainer:        p.RunInContainer,
		AttachToContainer:     p.AttachToContainer,
		GetContainerLogs:      p.GetContainerLogs,
		GetPods:               p.GetPods,
		GetPodsFromKubernetes: func(context.Context) ([]*corev1.Pod, error) { return lister.List(labels.Everything()) },
		GetStatsSummary:       p.GetStatsSummary,
		GetMetricsResource:    p.GetMetricsResource,
		PortForward:           p.PortForward,
		StreamIdleTimeout:     5 * time.Minute,
		StreamCreationTimeout: 30 * time.Second,
	}, true)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return srv, nil
}

func tlsConfigFor(host string) (*tls.Config, error) {
	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey(host, []net.IP{net.ParseIP(host)}, nil)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// Kill stops the node as a power loss would: containers get SIGKILL, the
// lease and status stop, the kubelet API goes away. The Node object stays.
func (n *Node) Kill() {
	n.once.Do(func() {
		n.provider.kill()
		n.cancel()
		<-n.done
	})
}

// Stop ends every pod gracefully, then the node's controllers.
func (n *Node) Stop() {
	n.once.Do(func() {
		n.provider.stop()
		n.cancel()
		<-n.done
	})
}

// Done is closed when the node's controllers have stopped.
func (n *Node) Done() <-chan struct{} { return n.done }

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.NodeName }

// SetPartitioned cuts (or restores) traffic between this node's pods and
// every other pod.
func (n *Node) SetPartitioned(ctx context.Context, on bool) error {
	return n.provider.setPartitioned(ctx, on)
}

// Partitioned tells whether the node is cut off.
func (n *Node) Partitioned() bool { return n.provider.isPartitioned() }

// KillContainer kills one container's process.
func (n *Node) KillContainer(namespace, pod, container string) error {
	return n.provider.KillContainer(namespace, pod, container)
}

// Pods lists the pods the node runs, with their observed status.
func (n *Node) Pods(ctx context.Context) ([]*corev1.Pod, error) { return n.provider.GetPods(ctx) }
