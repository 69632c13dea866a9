package cluster

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Hold is a StatefulSet kept above the spec's size during a scale-in:
// the pods a shrink would remove still hold data only they have.
type Hold struct {
	Replicas int32    // the live size, kept
	Pods     []string // what still holds data, for the report
	// Err: the live size could not be read; nothing is applied, since a
	// StatefulSet applied at the spec's size might shrink over data.
	Err error
}

// ScaleInHold tells whether the cluster's StatefulSet must keep its live
// size for now (invariant 1: no scale-in before the node is verified
// empty). The pods at or above the new size must each be a replica, or a
// master with no slot, no key and no open slot; a pod that does not
// answer is not known to be empty, so it holds too.
func (r *Redis) ScaleInHold(ctx context.Context, c *spec.RedisCluster) (*Hold, error) {
	want := int32(c.Spec.TotalNodes())
	sts, err := r.Client.AppsV1().StatefulSets(c.Metadata.Namespace).Get(ctx, c.Metadata.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read StatefulSet %s: %w", c.Key(), err)
	}
	live := want
	if sts.Spec.Replicas != nil {
		live = *sts.Spec.Replicas
	}
	if live <= want {
		return nil, nil
	}
	dial, err := r.ObserveDialer(ctx, c)
	if err != nil {
		return &Hold{Replicas: live, Pods: []string{"(cannot be observed: " + err.Error() + ")"}}, nil
	}
	o, err := (&converge.Observer{Client: r.Client, Dial: dial}).Observe(ctx, TargetFor(c))
	if err != nil {
		return &Hold{Replicas: live, Pods: []string{"(cannot be observed: " + err.Error() + ")"}}, nil
	}
	if beyond := topology.BeyondScale(o, int(want)); len(beyond) > 0 {
		return &Hold{Replicas: live, Pods: beyond}, nil
	}
	return nil, nil
}

func (h *Hold) String() string {
	if h.Err != nil {
		return "scale-in check failed, objects not applied: " + h.Err.Error()
	}
	return fmt.Sprintf("StatefulSet kept at %d pods until these are drained: %s", h.Replicas, strings.Join(h.Pods, ", "))
}
