package cluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/announce"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// liveAnnouncements reads what announcements needs from the API: the
// cluster's per-pod Services and its pods' nodes.
func (r *Redis) liveAnnouncements(ctx context.Context, c *spec.RedisCluster, pods []topology.Pod) (map[string]map[string]string, []string, error) {
	services := map[string]*corev1.Service{}
	nodes := map[string]*corev1.Node{}
	if e := c.Spec.ExternalAccess; e != nil && (e.Type == spec.ExternalNodePort || e.Type == spec.ExternalLoadBalancer) {
		list, err := r.Client.CoreV1().Services(c.Metadata.Namespace).List(ctx, metav1.ListOptions{LabelSelector: render.ManagedSelector(c.Metadata.Name)})
		if err != nil {
			return nil, nil, fmt.Errorf("list the external Services of %s: %w", c.Key(), err)
		}
		for i := range list.Items {
			services[list.Items[i].Name] = &list.Items[i]
		}
		if e.Type == spec.ExternalNodePort {
			for _, p := range pods {
				if p.Node == "" || nodes[p.Node] != nil {
					continue
				}
				n, err := r.Client.CoreV1().Nodes().Get(ctx, p.Node, metav1.GetOptions{})
				if err != nil {
					continue // announcements says which pod waits for it
				}
				nodes[p.Node] = n
			}
		}
	}
	a, waiting := announce.For(c, pods, services, nodes)
	return a, waiting, nil
}
