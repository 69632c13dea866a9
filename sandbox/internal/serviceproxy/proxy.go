package serviceproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// AddressHolder puts addresses on the host and takes them off again; the
// sandbox bridge (podnet.Bridge) is one.
type AddressHolder interface {
	AddAddress(ctx context.Context, addr netip.Addr) error
	DeleteAddress(ctx context.Context, addr netip.Addr) error
}

// Config configures a Proxy.
type Config struct {
	Client kubernetes.Interface
	// Nodes are the nodes whose addresses serve nodePorts; their addresses
	// must exist on the host already.
	Nodes []Node
	// LoadBalancers is the range LoadBalancer Service addresses come from.
	LoadBalancers netip.Prefix
	// Addresses gets each LoadBalancer address added while it is assigned.
	Addresses AddressHolder
	Log       *slog.Logger
	// DialTimeout bounds the connection to one endpoint (default 2 s);
	// endpoints are on the local bridge, so a slow dial is a dead pod.
	DialTimeout time.Duration
	// Resync is how often the proxy retries what failed (binding a port,
	// writing a Service's status) without an event (default 5 s).
	Resync time.Duration
}

// Proxy forwards TCP connections from node and LoadBalancer addresses to
// Service endpoints. Create it with New, run it with Run.
type Proxy struct {
	cfg   Config
	pool  *Pool
	kick  chan struct{}
	syncs chan chan struct{}
	done  chan struct{}

	services corev1listers.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	pods     cache.Indexer // by podIP, to find a client pod's node

	// Owned by the Run loop.
	onHost map[netip.Addr]bool // LoadBalancer addresses added to the host

	mu          sync.Mutex
	down        map[string]bool // nodes that are off
	partitioned map[string]bool // nodes cut off from the others' pods
	listeners   map[netip.AddrPort]*listener
}

// New returns a Proxy for cfg.
func New(cfg Config) (*Proxy, error) {
	if cfg.Client == nil || cfg.Addresses == nil {
		return nil, errors.New("service proxy: Client and Addresses are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 2 * time.Second
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 5 * time.Second
	}
	pool, err := NewPool(cfg.LoadBalancers)
	if err != nil {
		return nil, fmt.Errorf("service proxy: %w", err)
	}
	return &Proxy{
		cfg:         cfg,
		pool:        pool,
		kick:        make(chan struct{}, 1),
		syncs:       make(chan chan struct{}),
		done:        make(chan struct{}),
		onHost:      map[netip.Addr]bool{},
		down:        map[string]bool{},
		partitioned: map[string]bool{},
		listeners:   map[netip.AddrPort]*listener{},
	}, nil
}

// Run watches Services and EndpointSlices and keeps the listeners and
// LoadBalancer addresses in line with them until ctx ends; then it closes
// every listener and connection and removes the addresses it added.
func (p *Proxy) Run(ctx context.Context) error {
	defer close(p.done)
	factory := informers.NewSharedInformerFactory(p.cfg.Client, 0)
	svcInformer := factory.Core().V1().Services()
	sliceInformer := factory.Discovery().V1().EndpointSlices()
	p.services = svcInformer.Lister()
	p.slices = sliceInformer.Lister()
	// Only Services change listeners; endpoints are looked up per
	// connection, so a pod that comes back with a new IP serves the next one.
	if _, err := svcInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.trigger() },
		UpdateFunc: func(any, any) { p.trigger() },
		DeleteFunc: func(any) { p.trigger() },
	}); err != nil {
		return fmt.Errorf("service proxy: watch services: %w", err)
	}
	_ = sliceInformer.Informer() // registered before Start, so it starts
	podInformer := factory.Core().V1().Pods().Informer()
	if err := podInformer.AddIndexers(cache.Indexers{podIPIndex: indexPodIP}); err != nil {
		return fmt.Errorf("service proxy: index pods: %w", err)
	}
	p.pods = podInformer.GetIndexer()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("service proxy: %v cache never synced: %w", typ, ctx.Err())
		}
	}
	defer p.cleanup(context.WithoutCancel(ctx))

	ticker := time.NewTicker(p.cfg.Resync)
	defer ticker.Stop()
	lastErr := ""
	for {
		var synced chan struct{}
		select {
		case <-ctx.Done():
			return nil
		case <-p.kick:
		case <-ticker.C:
		case synced = <-p.syncs:
		}
		// Errors are retried on the next tick; log each distinct one once.
		err := p.reconcile(ctx)
		if msg := fmt.Sprint(err); err != nil && msg != lastErr {
			p.cfg.Log.Error("service proxy", "err", err)
			lastErr = msg
		} else if err == nil {
			lastErr = ""
		}
		if synced != nil {
			close(synced)
		}
	}
}

func (p *Proxy) trigger() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// SetNodeUp stops (up false) or resumes answering on a node's addresses, as
// a node that is off or on would. Stopping closes the node's connections.
// It returns after the listeners follow, or when ctx ends or the proxy stops.
func (p *Proxy) SetNodeUp(ctx context.Context, name string, up bool) error {
	p.mu.Lock()
	p.down[name] = !up
	p.mu.Unlock()
	done := make(chan struct{})
	select {
	case p.syncs <- done:
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("service proxy: node %s: %w", name, ctx.Err())
	}
	select {
	case <-done:
		return nil
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("service proxy: node %s: %w", name, ctx.Err())
	}
}

// SetNodePartitioned records that a node's pods are cut off from (on) or
// reconnected to the other nodes' pods, and at once closes the proxied
// connections that now cross the cut: a partition stalls established
// connections, and closing them is the nearest a proxy can come.
func (p *Proxy) SetNodePartitioned(name string, on bool) {
	p.mu.Lock()
	p.partitioned[name] = on
	partitioned := maps.Clone(p.partitioned)
	ls := make([]*listener, 0, len(p.listeners))
	for _, l := range p.listeners {
		ls = append(ls, l)
	}
	p.mu.Unlock()
	if !on {
		return
	}
	// l.cut calls back under the listener's lock, so the callback must not
	// take p.mu (syncListeners takes them the other way round).
	for _, l := range ls {
		l.cut(func(f *flow) bool { return Cut(f.from, f.to, partitioned) })
	}
}

func (p *Proxy) isCut(from, to string) bool {
	if from == "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return Cut(from, to, p.partitioned)
}

const podIPIndex = "podIP"

func indexPodIP(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Status.PodIP == "" {
		return nil, nil
	}
	return []string{pod.Status.PodIP}, nil
}

// nodeOfClient returns the node of the pod that has addr, or "" when addr
// is no running pod's (the host, through a node or bridge address).
func (p *Proxy) nodeOfClient(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return ""
	}
	pods, err := p.pods.ByIndex(podIPIndex, tcp.IP.String())
	if err != nil {
		return ""
	}
	for _, obj := range pods {
		pod := obj.(*corev1.Pod)
		if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			return pod.Spec.NodeName
		}
	}
	return ""
}

// Status is what the proxy serves.
type Status struct {
	// Listeners counts the addresses and ports the proxy listens on.
	Listeners int `json:"listeners"`
	// LoadBalancers maps namespace/name to the Service's address.
	LoadBalancers map[string]string `json:"loadBalancers,omitempty"`
}

// Status reports what the proxy listens on.
func (p *Proxy) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Status{Listeners: len(p.listeners)}
	for ap, l := range p.listeners {
		if l.node == "" {
			if st.LoadBalancers == nil {
				st.LoadBalancers = map[string]string{}
			}
			st.LoadBalancers[l.target().Service.String()] = ap.Addr().String()
		}
	}
	return st
}

// reconcile brings LoadBalancer addresses, Service statuses and listeners
// in line with the Services.
func (p *Proxy) reconcile(ctx context.Context) error {
	services, err := p.services.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	// Oldest first, so that when the pool runs out the newest wait.
	sort.Slice(services, func(i, j int) bool {
		a, b := services[i], services[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	var errs []error

	// LoadBalancer addresses: release those of Services that are gone or
	// changed type (after their listeners close, below), assign the rest.
	isLB := map[types.NamespacedName]bool{}
	for _, svc := range services {
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			isLB[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] = true
		}
	}
	var released []netip.Addr
	for key := range p.pool.Assigned() {
		if !isLB[key] {
			a, _ := p.pool.Release(key)
			released = append(released, a)
		}
	}
	live := map[types.NamespacedName]netip.Addr{}
	for _, svc := range services {
		key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
		if !isLB[key] {
			errs = append(errs, p.clearStatus(ctx, svc))
			continue
		}
		addr, err := p.pool.Allocate(key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !p.onHost[addr] {
			if err := p.cfg.Addresses.AddAddress(ctx, addr); err != nil {
				errs = append(errs, fmt.Errorf("LoadBalancer %s: %w", key, err))
				continue
			}
			p.onHost[addr] = true
		}
		live[key] = addr
		errs = append(errs, p.writeStatus(ctx, svc, addr))
	}

	p.mu.Lock()
	var nodes []Node
	for _, n := range p.cfg.Nodes {
		if !p.down[n.Name] {
			nodes = append(nodes, n)
		}
	}
	p.mu.Unlock()
	errs = append(errs, p.syncListeners(ctx, Listeners(services, nodes, live)))

	for _, a := range released {
		if err := p.cfg.Addresses.DeleteAddress(ctx, a); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(p.onHost, a)
	}
	return errors.Join(errs...)
}

// writeStatus records a LoadBalancer Service's address in its status, as a
// cloud controller would.
func (p *Proxy) writeStatus(ctx context.Context, svc *corev1.Service, addr netip.Addr) error {
	ing := svc.Status.LoadBalancer.Ingress
	if len(ing) == 1 && ing[0].IP == addr.String() {
		return nil
	}
	svc = svc.DeepCopy()
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: addr.String()}}
	if _, err := p.cfg.Client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("LoadBalancer %s/%s: write status ingress %v: %w", svc.Namespace, svc.Name, addr, err)
	}
	p.cfg.Log.Info("LoadBalancer address assigned", "service", svc.Namespace+"/"+svc.Name, "ip", addr)
	return nil
}

// clearStatus removes an ingress address from our range from a Service that
// is no longer a LoadBalancer.
func (p *Proxy) clearStatus(ctx context.Context, svc *corev1.Service) error {
	ours := false
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(ing.IP); err == nil && p.cfg.LoadBalancers.Contains(a) {
			ours = true
		}
	}
	if !ours {
		return nil
	}
	svc = svc.DeepCopy()
	svc.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	if _, err := p.cfg.Client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("service %s/%s: clear LoadBalancer status: %w", svc.Namespace, svc.Name, err)
	}
	return nil
}

// syncListeners opens the listeners in want that are missing, retargets
// the ones that exist and closes the rest (with their connections).
func (p *Proxy) syncListeners(ctx context.Context, want map[netip.AddrPort]Target) error {
	nodeOf := map[netip.Addr]string{}
	for _, n := range p.cfg.Nodes {
		for _, a := range n.Addrs {
			nodeOf[a] = n.Name
		}
	}
	p.mu.Lock()
	var stale []*listener
	for ap, l := range p.listeners {
		if t, ok := want[ap]; ok {
			l.setTarget(t)
			continue
		}
		stale = append(stale, l)
		delete(p.listeners, ap)
	}
	var missing []netip.AddrPort
	for ap := range want {
		if _, ok := p.listeners[ap]; !ok {
			missing = append(missing, ap)
		}
	}
	p.mu.Unlock()

	for _, l := range stale {
		l.close()
	}
	var errs []error
	for _, ap := range missing {
		l, err := p.listen(ctx, ap, nodeOf[ap.Addr()], want[ap])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.mu.Lock()
		p.listeners[ap] = l
		p.mu.Unlock()
	}
	return errors.Join(errs...)
}

// cleanup closes every listener and removes the LoadBalancer addresses.
func (p *Proxy) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p.mu.Lock()
	all := p.listeners
	p.listeners = map[netip.AddrPort]*listener{}
	p.mu.Unlock()
	for _, l := range all {
		l.close()
	}
	for a := range p.onHost {
		if err := p.cfg.Addresses.DeleteAddress(ctx, a); err != nil {
			p.cfg.Log.Error("service proxy: cleanup", "err", err)
		}
		delete(p.onHost, a)
	}
}

// endpoints lists the endpoints of target now.
func (p *Proxy) endpoints(t Target) ([]Endpoint, error) {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: t.Service.Name})
	slices, err := p.slices.EndpointSlices(t.Service.Namespace).List(sel)
	if err != nil {
		return nil, err
	}
	return Endpoints(slices, t), nil
}

// listen opens a listener on ap. node is "" for a LoadBalancer address.
// Its dials end with ctx or when it closes.
func (p *Proxy) listen(ctx context.Context, ap netip.AddrPort, node string, t Target) (*listener, error) {
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		return nil, fmt.Errorf("service %s port %q: listen on %v: %w", t.Service, t.Port, ap, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &listener{ln: ln, node: node, tgt: t, ctx: ctx, cancel: cancel, conns: map[net.Conn]*flow{}}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			f := &flow{from: p.nodeOfClient(c.RemoteAddr())}
			if !l.track(c, f) {
				c.Close()
				return
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				p.forward(l, c, f)
			}()
		}
	}()
	return l, nil
}
