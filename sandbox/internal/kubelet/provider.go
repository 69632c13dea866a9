// Package kubelet is the sandbox's process kubelet: a virtual-kubelet
// provider that runs every pod bound to its node as local processes, each pod
// in its own network namespace on the sandbox bridge and each container in a
// private mount namespace.
package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/podnet"
)

// Network is the pod network shared by every node of a sandbox.
type Network struct {
	Bridge podnet.Bridge
	// PodCIDR is the whole pod network; IPAM hands out its addresses.
	PodCIDR netip.Prefix
	IPAM    *podnet.IPAM
	// NetnsPrefix starts the name of every pod network namespace, so that
	// `sandbox down` can find leftovers.
	NetnsPrefix string
}

// Provider runs pods as processes. It implements virtual-kubelet's
// PodLifecycleHandler and PodNotifier, plus logs and exec.
type Provider struct {
	nodeName string
	hostIP   string
	dir      string // this node's pod dirs: dir/<pod-uid>
	client   kubernetes.Interface
	net      *Network
	images   ImageTable
	// apiServer is where pods reach the API server (KUBERNETES_SERVICE_*).
	apiServer netip.AddrPort
	log       *slog.Logger

	mu          sync.Mutex
	pods        map[types.NamespacedName]*podState
	notify      func(*corev1.Pod)
	partitioned bool
	stopped     bool
}

func newProvider(cfg Config) *Provider {
	return &Provider{
		nodeName:  cfg.NodeName,
		hostIP:    cfg.Address,
		dir:       filepath.Join(cfg.Dir, cfg.NodeName),
		client:    cfg.Client,
		net:       cfg.Network,
		images:    cfg.Images,
		apiServer: cfg.APIServer,
		log:       cfg.Log.With("node", cfg.NodeName),
		pods:      map[types.NamespacedName]*podState{},
	}
}

func key(pod *corev1.Pod) types.NamespacedName {
	return types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
}

// NotifyPods registers the callback through which pod status reaches the API.
func (p *Provider) NotifyPods(_ context.Context, cb func(*corev1.Pod)) {
	p.mu.Lock()
	p.notify = cb
	p.mu.Unlock()
}

// CreatePod starts a pod's worker. Setting up the network and volumes and
// starting containers happen asynchronously; status flows through NotifyPods.
func (p *Provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return fmt.Errorf("node %s is stopped", p.nodeName)
	}
	k := key(pod)
	if old, ok := p.pods[k]; ok {
		if old.pod.UID == pod.UID {
			return nil
		}
		return errdefs.AsInvalidInput(fmt.Errorf("pod %s: an older incarnation (uid %s) is still terminating", k, old.pod.UID))
	}
	ps := newPodState(p, pod.DeepCopy())
	p.pods[k] = ps
	go ps.run(context.WithoutCancel(ctx))
	return nil
}

// UpdatePod takes the new object; the sandbox, like the kubelet, only acts on
// the fields that may change on a running pod (deletion is DeletePod).
func (p *Provider) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	ps, ok := p.pods[key(pod)]
	p.mu.Unlock()
	if !ok || ps.uid() != pod.UID {
		return errdefs.NotFoundf("pod %s/%s", pod.Namespace, pod.Name)
	}
	ps.update(pod.DeepCopy())
	return nil
}

// DeletePod stops a pod gracefully: preStop hooks, SIGTERM, then SIGKILL
// after the grace period. Its terminal status is notified when all its
// containers have stopped.
func (p *Provider) DeletePod(_ context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	ps, ok := p.pods[key(pod)]
	p.mu.Unlock()
	if !ok || ps.uid() != pod.UID {
		return errdefs.NotFoundf("pod %s/%s", pod.Namespace, pod.Name)
	}
	ps.mu.Lock()
	ps.deleted = true
	ps.mu.Unlock()
	ps.terminate(gracePeriod(pod))
	return nil
}

// GetPod returns the pod with the status the sandbox observes.
func (p *Provider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	p.mu.Lock()
	ps, ok := p.pods[types.NamespacedName{Namespace: namespace, Name: name}]
	p.mu.Unlock()
	if !ok {
		return nil, errdefs.NotFoundf("pod %s/%s", namespace, name)
	}
	return ps.snapshot(), nil
}

// GetPodStatus returns the observed status of a pod.
func (p *Provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns every pod this node runs.
func (p *Provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	states := make([]*podState, 0, len(p.pods))
	for _, ps := range p.pods {
		states = append(states, ps)
	}
	p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(states))
	for _, ps := range states {
		out = append(out, ps.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name })
	return out, nil
}

// publish sends a pod's status to the API through virtual-kubelet, unless
// the node has been killed (a dead kubelet reports nothing).
func (p *Provider) publish(pod *corev1.Pod) {
	p.mu.Lock()
	cb, stopped := p.notify, p.stopped
	p.mu.Unlock()
	if cb != nil && !stopped {
		cb(pod)
	}
}

// forget drops a pod that has fully stopped.
func (p *Provider) forget(ps *podState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur, ok := p.pods[ps.key]; ok && cur == ps {
		delete(p.pods, ps.key)
	}
}

// kill is the node losing power: every container gets SIGKILL at once, no
// hook runs and nothing is reported. Pod networks are removed, as a reboot
// would lose them.
func (p *Provider) kill() {
	p.mu.Lock()
	p.stopped = true
	states := make([]*podState, 0, len(p.pods))
	for _, ps := range p.pods {
		states = append(states, ps)
	}
	p.pods = map[types.NamespacedName]*podState{}
	p.mu.Unlock()
	for _, ps := range states {
		ps.kill()
	}
	for _, ps := range states {
		<-ps.done
	}
	_ = os.RemoveAll(p.dir)
}

// stop ends every pod gracefully (sandbox down) and waits for them.
func (p *Provider) stop() {
	p.mu.Lock()
	states := make([]*podState, 0, len(p.pods))
	for _, ps := range p.pods {
		states = append(states, ps)
	}
	p.mu.Unlock()
	for _, ps := range states {
		ps.terminate(gracePeriod(ps.pod))
	}
	for _, ps := range states {
		<-ps.done
	}
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	_ = os.RemoveAll(p.dir)
}

// setPartitioned cuts or restores the network between this node's pods and
// every other pod; pods started later inherit the state.
func (p *Provider) setPartitioned(ctx context.Context, on bool) error {
	p.mu.Lock()
	p.partitioned = on
	states := make([]*podState, 0, len(p.pods))
	for _, ps := range p.pods {
		states = append(states, ps)
	}
	p.mu.Unlock()
	for _, ps := range states {
		if err := ps.applyPartition(ctx, on); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provider) isPartitioned() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.partitioned
}

// KillContainer sends SIGKILL to one container's process, as an OOM kill or
// a crash would; the restart policy decides what happens next.
func (p *Provider) KillContainer(namespace, name, container string) error {
	p.mu.Lock()
	ps, ok := p.pods[types.NamespacedName{Namespace: namespace, Name: name}]
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("pod %s/%s does not run on node %s", namespace, name, p.nodeName)
	}
	return ps.signalContainer(container, syscall.SIGKILL)
}
