package kubelet

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
)

// statusSyncPeriod is how often the kubelet puts back a pod's readiness
// that someone else changed in the API, as the real kubelet's status
// manager does on its periodic sync (every 10 s).
const statusSyncPeriod = 10 * time.Second

// syncStatuses puts this node's readiness of its pods back in the API
// where the two differ. The node lifecycle controller marks every pod of a
// node not ready once the node's lease has run out, which a live node's can
// on a loaded machine (the sandbox renews a 6 s lease every 1.5 s); the
// node then renews it, but only its kubelet can say its pods are ready
// again. virtual-kubelet writes a pod's status only when the provider's
// changes, which it did not: without this the pods stayed not ready for
// good (seen in CI: Ready False, ContainersReady True, a pod on a node
// nobody touched).
func (p *Provider) syncStatuses(ctx context.Context, lister corev1listers.PodLister) {
	t := time.NewTicker(statusSyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, ps := range p.running() {
			want := ps.snapshot()
			live, err := lister.Pods(want.Namespace).Get(want.Name)
			if err != nil || live.UID != want.UID || condition(live, corev1.PodReady) == condition(want, corev1.PodReady) {
				continue
			}
			want.ResourceVersion = live.ResourceVersion
			_, err = p.client.CoreV1().Pods(want.Namespace).UpdateStatus(ctx, want, metav1.UpdateOptions{})
			if ctx.Err() != nil {
				return
			}
			p.log.Info("pod readiness put back", "pod", want.Namespace+"/"+want.Name,
				"api", condition(live, corev1.PodReady), "kubelet", condition(want, corev1.PodReady), "err", err)
		}
	}
}

// running is the pods the node runs now; none once it is stopped.
func (p *Provider) running() []*podState {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil
	}
	out := make([]*podState, 0, len(p.pods))
	for _, ps := range p.pods {
		out = append(out, ps)
	}
	return out
}

// condition is the status of a pod's condition of type t ("" when absent).
func condition(pod *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}
