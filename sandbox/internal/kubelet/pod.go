package kubelet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/podnet"
)

// podState is one pod on this node: its network, volumes and containers.
// A single worker goroutine (run) owns the lifecycle; other methods only
// read state or ask the worker to stop.
type podState struct {
	p   *Provider
	key types.NamespacedName

	mu         sync.Mutex
	pod        *corev1.Pod
	ip         string
	netns      string
	dir        string
	phase      corev1.PodPhase
	reason     string // pod-level reason/message (e.g. volume setup)
	message    string
	started    *metav1.Time
	initDone   bool
	initStatus []*container
	containers []*container

	stopOnce sync.Once
	stopCh   chan struct{} // closed when the pod must stop
	grace    time.Duration
	killed   bool // node death: no hooks, no grace, no reports
	deleted  bool // deleted in the API: remove the object once stopped
	done     chan struct{}
}

func newPodState(p *Provider, pod *corev1.Pod) *podState {
	ps := &podState{
		p:      p,
		key:    key(pod),
		pod:    pod,
		netns:  p.net.NetnsPrefix + string(pod.UID)[:8],
		dir:    filepath.Join(p.dir, string(pod.UID)),
		phase:  corev1.PodPending,
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
	}
	for i := range pod.Spec.InitContainers {
		ps.initStatus = append(ps.initStatus, newContainer(ps, pod.Spec.InitContainers[i], true))
	}
	for i := range pod.Spec.Containers {
		ps.containers = append(ps.containers, newContainer(ps, pod.Spec.Containers[i], false))
	}
	return ps
}

func (ps *podState) uid() types.UID {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.pod.UID
}

func (ps *podState) update(pod *corev1.Pod) {
	ps.mu.Lock()
	ps.pod = pod
	ps.mu.Unlock()
}

// gracePeriod is how long containers get between SIGTERM and SIGKILL.
func gracePeriod(pod *corev1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

// terminate asks the pod to stop gracefully.
func (ps *podState) terminate(grace time.Duration) {
	ps.stopOnce.Do(func() {
		ps.mu.Lock()
		ps.grace = grace
		ps.mu.Unlock()
		close(ps.stopCh)
	})
}

// kill stops the pod as a power loss would.
func (ps *podState) kill() {
	ps.mu.Lock()
	ps.killed = true
	ps.mu.Unlock()
	ps.terminate(0)
}

func (ps *podState) stopping() bool {
	select {
	case <-ps.stopCh:
		return true
	default:
		return false
	}
}

// run is the pod's worker: network, volumes, init containers, containers;
// then, once asked to stop, the teardown.
func (ps *podState) run(ctx context.Context) {
	defer close(ps.done)
	defer ps.p.forget(ps)
	log := ps.p.log.With("pod", ps.key.String())

	var refreshing sync.WaitGroup
	ip, err := ps.setupNetwork(ctx)
	if err != nil {
		log.Error("pod network", "err", err)
		ps.fail("NetworkSetupFailed", err.Error())
	} else if volumes, ok := ps.setupVolumes(ctx, ip); ok {
		refreshing.Add(1)
		go func() {
			defer refreshing.Done()
			ps.refreshContent(ctx, volumes)
		}()
		if ps.runInitContainers(ctx, volumes) {
			ps.runContainers(ctx, volumes)
		}
	}
	<-ps.stopCh
	refreshing.Wait()

	// Teardown: every container goroutine has returned by now.
	if ip.IsValid() {
		if err := podnet.DeletePod(ctx, ps.netns); err != nil {
			log.Warn("delete pod network", "err", err)
		}
		ps.p.net.IPAM.Release(ps.netns)
	}
	_ = os.RemoveAll(ps.dir)
	ps.mu.Lock()
	killed, deleted, uid := ps.killed, ps.deleted, ps.pod.UID
	if ps.phase == corev1.PodPending || ps.phase == corev1.PodRunning {
		ps.phase = terminalPhase(ps.containers)
	}
	ps.mu.Unlock()
	if killed {
		return
	}
	ps.p.publish(ps.snapshot())
	if deleted {
		// As the kubelet does once a deleted pod's containers are gone: the
		// final delete with grace 0, so the StatefulSet can re-create it
		// without waiting out the grace period.
		zero := int64(0)
		err := ps.p.client.CoreV1().Pods(ps.key.Namespace).Delete(ctx, ps.key.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			log.Warn("final delete", "err", err)
		}
	}
}

func (ps *podState) setupNetwork(ctx context.Context) (netip.Addr, error) {
	addr, err := ps.p.net.IPAM.Allocate(ps.netns)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("allocate pod ip: %w", err)
	}
	prefix := netip.PrefixFrom(addr, ps.p.net.PodCIDR.Bits())
	if err := podnet.CreatePod(ctx, ps.p.net.Bridge, ps.netns, prefix); err != nil {
		ps.p.net.IPAM.Release(ps.netns)
		return netip.Addr{}, err
	}
	ps.mu.Lock()
	ps.ip = addr.String()
	ps.mu.Unlock()
	if ps.p.isPartitioned() {
		if err := ps.applyPartition(ctx, true); err != nil {
			return addr, err
		}
	}
	return addr, nil
}

func (ps *podState) applyPartition(ctx context.Context, on bool) error {
	ps.mu.Lock()
	ip := ps.ip
	ps.mu.Unlock()
	if ip == "" {
		return nil
	}
	if on {
		return podnet.Partition(ctx, ps.netns, ps.p.net.PodCIDR, ps.p.net.Bridge.Gateway.Addr())
	}
	return podnet.Heal(ctx, ps.netns, ps.p.net.PodCIDR)
}

// setupVolumes retries until every volume is ready (a claim may bind a moment
// after the pod is scheduled), reporting ContainerCreating meanwhile.
func (ps *podState) setupVolumes(ctx context.Context, ip netip.Addr) (map[string]string, bool) {
	rt := podRuntime{PodIP: ip.String(), HostIP: ps.p.hostIP}
	for {
		ps.mu.Lock()
		pod := ps.pod.DeepCopy()
		ps.mu.Unlock()
		volumes, err := prepareVolumes(ctx, ps.p.client, pod, rt, ps.dir)
		if err == nil {
			return volumes, true
		}
		var notReady *errVolumeNotReady
		reason := "FailedMount"
		if errors.As(err, &notReady) {
			reason = "ContainerCreating"
		}
		ps.setWaiting(reason, err.Error())
		select {
		case <-ps.stopCh:
			return nil, false
		case <-time.After(time.Second):
		}
	}
}

func (ps *podState) setWaiting(reason, msg string) {
	ps.mu.Lock()
	changed := ps.reason != reason || ps.message != msg
	ps.reason, ps.message = reason, msg
	ps.mu.Unlock()
	if changed {
		ps.p.publish(ps.snapshot())
	}
}

func (ps *podState) fail(reason, msg string) {
	ps.mu.Lock()
	ps.phase, ps.reason, ps.message = corev1.PodFailed, reason, msg
	ps.mu.Unlock()
	ps.p.publish(ps.snapshot())
}

// runInitContainers runs init containers one after another to completion.
func (ps *podState) runInitContainers(ctx context.Context, volumes map[string]string) bool {
	ps.mu.Lock()
	ps.reason, ps.message = "", ""
	now := metav1.Now()
	ps.started = &now
	ps.mu.Unlock()
	for _, c := range ps.initStatus {
		if !c.run(ctx, volumes) {
			if !ps.stopping() {
				ps.fail("InitContainerFailed", fmt.Sprintf("init container %s failed", c.spec.Name))
			}
			return false
		}
	}
	ps.mu.Lock()
	ps.initDone = true
	ps.mu.Unlock()
	return true
}

// runContainers runs the app containers until each is done for good or the
// pod must stop.
func (ps *podState) runContainers(ctx context.Context, volumes map[string]string) {
	ps.mu.Lock()
	ps.phase = corev1.PodRunning
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range ps.containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(ctx, volumes)
		}()
	}
	wg.Wait()
	ps.mu.Lock()
	ps.phase = terminalPhase(ps.containers)
	ps.mu.Unlock()
	ps.p.publish(ps.snapshot())
}

// terminalPhase is Succeeded when every container exited 0, else Failed.
func terminalPhase(cs []*container) corev1.PodPhase {
	for _, c := range cs {
		if c.exitCode() != 0 {
			return corev1.PodFailed
		}
	}
	return corev1.PodSucceeded
}

func (ps *podState) signalContainer(name string, sig syscall.Signal) error {
	for _, c := range append(ps.initStatus, ps.containers...) {
		if c.spec.Name == name || name == "" {
			return c.signal(sig)
		}
	}
	return fmt.Errorf("pod %s has no container %q", ps.key, name)
}

func (ps *podState) findContainer(name string) (*container, error) {
	for _, c := range ps.containers {
		if c.spec.Name == name || (name == "" && len(ps.containers) == 1) {
			return c, nil
		}
	}
	for _, c := range ps.initStatus {
		if c.spec.Name == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("pod %s has no container %q", ps.key, name)
}

// snapshot is the pod with the status a kubelet would report.
func (ps *podState) snapshot() *corev1.Pod {
	ps.mu.Lock()
	pod := ps.pod.DeepCopy()
	st := corev1.PodStatus{
		Phase:     ps.phase,
		Reason:    ps.reason,
		Message:   ps.message,
		HostIP:    ps.p.hostIP,
		HostIPs:   []corev1.HostIP{{IP: ps.p.hostIP}},
		StartTime: ps.started,
		QOSClass:  pod.Status.QOSClass,
	}
	if ps.ip != "" {
		st.PodIP = ps.ip
		st.PodIPs = []corev1.PodIP{{IP: ps.ip}}
	}
	if st.Phase != corev1.PodFailed {
		// Until the pod fails, reasons belong to its containers' waiting states.
		st.Reason, st.Message = "", ""
	}
	// Running means every container has been started at least once.
	if st.Phase == corev1.PodRunning {
		for _, c := range ps.containers {
			if !c.hasRun() {
				st.Phase = corev1.PodPending
			}
		}
	}
	initDone := ps.initDone
	phase := ps.phase
	podReason, podMessage := ps.reason, ps.message
	ps.mu.Unlock()

	allReady := len(ps.containers) > 0
	for _, c := range ps.initStatus {
		st.InitContainerStatuses = append(st.InitContainerStatuses, c.status(podReason, podMessage))
	}
	for _, c := range ps.containers {
		cs := c.status(podReason, podMessage)
		if !cs.Ready {
			allReady = false
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	if phase != corev1.PodRunning {
		allReady = false
	}
	now := metav1.Now()
	cond := func(t corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, LastTransitionTime: now, Reason: reason}
		if ok {
			c.Status, c.Reason = corev1.ConditionTrue, ""
		}
		// Keep the transition time stable while the status does not change.
		for _, old := range pod.Status.Conditions {
			if old.Type == t && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		return c
	}
	st.Conditions = []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, st.PodIP != "", ""),
		cond(corev1.PodInitialized, initDone, "ContainersNotInitialized"),
		cond(corev1.ContainersReady, allReady, "ContainersNotReady"),
		cond(corev1.PodReady, allReady, "ContainersNotReady"),
		cond(corev1.PodScheduled, true, ""),
	}
	pod.Status = st
	return pod
}
