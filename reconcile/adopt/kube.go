package adopt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/redis-gitops/redis-gitops/spec"
)

// kube is Read's Kubernetes side: the pod of the first node, the
// StatefulSet owning it, its pods' names and the password Secret. A nil
// client reads none of them.
type kube struct {
	client    kubernetes.Interface
	namespace string
}

// locate returns the address of the node from names and fills live's Pod
// and StatefulSet when it finds them: a pod reference is reached at its
// pod IP; an address is looked up among the namespace's pods by IP.
func (k *kube) locate(ctx context.Context, from string, port int, live *Live) (string, error) {
	if name, ok := strings.CutPrefix(from, "pod/"); ok {
		if k.client == nil {
			return "", fmt.Errorf("--from %s: a pod reference needs Kubernetes", from)
		}
		pod, err := k.client.CoreV1().Pods(k.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("pod %s/%s: %w", k.namespace, name, err)
		}
		if pod.Status.PodIP == "" {
			return "", fmt.Errorf("pod %s/%s has no IP (phase %s): it is not running", k.namespace, name, pod.Status.Phase)
		}
		live.Pod = pod
		return net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(port)), k.owner(ctx, live)
	}
	h, p, err := net.SplitHostPort(from)
	if _, perr := strconv.Atoi(p); err != nil || perr != nil || h == "" {
		return "", fmt.Errorf("--from %q: want HOST:PORT or pod/NAME", from)
	}
	if k.client == nil {
		return from, nil
	}
	pods, err := k.client.CoreV1().Pods(k.namespace).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("status.podIP", h).String()})
	if err != nil {
		return "", fmt.Errorf("pods of %s with IP %s: %w", k.namespace, h, err)
	}
	for i := range pods.Items {
		if pod := &pods.Items[i]; pod.Status.PodIP == h && pod.DeletionTimestamp == nil {
			live.Pod = pod
			return from, k.owner(ctx, live)
		}
	}
	return from, nil
}

// owner fills live.StatefulSet with the StatefulSet that controls live.Pod.
func (k *kube) owner(ctx context.Context, live *Live) error {
	ref := metav1.GetControllerOf(live.Pod)
	if ref == nil || ref.Kind != "StatefulSet" {
		return nil
	}
	sts, err := k.client.AppsV1().StatefulSets(k.namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("StatefulSet %s/%s owning pod %s: %w", k.namespace, ref.Name, live.Pod.Name, err)
	}
	live.StatefulSet = sts
	return nil
}

// podNames maps the pod IPs of the StatefulSet's pods to their names, so
// that messages name nodes by pod.
func (k *kube) podNames(ctx context.Context, sts *appsv1.StatefulSet) (map[string]string, error) {
	out := map[string]string{}
	if k.client == nil || sts == nil || sts.Spec.Selector == nil {
		return out, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("StatefulSet %s/%s: selector: %w", k.namespace, sts.Name, err)
	}
	pods, err := k.client.CoreV1().Pods(k.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("pods of StatefulSet %s/%s: %w", k.namespace, sts.Name, err)
	}
	for _, p := range pods.Items {
		if p.Status.PodIP != "" {
			out[p.Status.PodIP] = p.Name
		}
	}
	return out, nil
}

// secret reads the password at ref. The value is returned, never printed.
func (k *kube) secret(ctx context.Context, ref spec.SecretRef) (string, error) {
	if k.client == nil {
		return "", errors.New("a password Secret needs Kubernetes")
	}
	s, err := k.client.CoreV1().Secrets(k.namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("password Secret %s/%s: %w", k.namespace, ref.Name, err)
	}
	v, ok := s.Data[ref.Key]
	if !ok {
		return "", fmt.Errorf("password Secret %s/%s has no key %q", k.namespace, ref.Name, ref.Key)
	}
	return string(v), nil
}
