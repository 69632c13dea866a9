package kube

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// prune deletes the objects that selector finds in namespace but that are
// not rendered any more. Objects are found by the project's labels, never by
// name or guess; PersistentVolumeClaims are not among the kinds pruned, so
// data is never deleted here.
func (a *Applier) prune(ctx context.Context, namespace, selector string, rendered map[ObjectRef]bool, dryRun bool) ([]Change, error) {
	var changes []Change
	for _, k := range kinds {
		list, err := a.Dynamic.Resource(k.gvr).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return changes, fmt.Errorf("list %s for prune: %w", k.kind, err)
		}
		for _, item := range list.Items {
			ref := ObjectRef{Kind: k.kind, Namespace: namespace, Name: item.GetName()}
			if rendered[ref] || item.GetDeletionTimestamp() != nil {
				continue
			}
			change := Change{Object: ref, Action: Pruned, Applied: !dryRun, Reason: "no longer rendered from Git"}
			if !dryRun {
				uid := item.GetUID()
				err := a.retry(ctx, func() error {
					return a.Dynamic.Resource(k.gvr).Namespace(namespace).Delete(ctx, ref.Name,
						metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
				})
				if err != nil && !apierrors.IsNotFound(err) {
					return changes, fmt.Errorf("prune %s: %w", ref, err)
				}
			}
			changes = append(changes, change)
		}
	}
	return changes, nil
}

// ClusterRef names a cluster the project manages.
type ClusterRef struct {
	Namespace, Name string
}

// ManagedClusters lists the clusters that have objects in Kubernetes made by
// the project, found by the managed-by label and read from clusterLabel.
func (a *Applier) ManagedClusters(ctx context.Context, managedSelector, clusterLabel string) ([]ClusterRef, error) {
	seen := map[ClusterRef]bool{}
	for _, k := range kinds {
		list, err := a.Dynamic.Resource(k.gvr).Namespace("").List(ctx, metav1.ListOptions{LabelSelector: managedSelector})
		if err != nil {
			return nil, fmt.Errorf("list managed %s: %w", k.kind, err)
		}
		for _, item := range list.Items {
			if name := item.GetLabels()[clusterLabel]; name != "" {
				seen[ClusterRef{Namespace: item.GetNamespace(), Name: name}] = true
			}
		}
	}
	out := make([]ClusterRef, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name })
	return out, nil
}

// PruneCluster deletes every object selector finds in namespace: the cluster
// was removed from Git. Its PVCs are kept.
func (a *Applier) PruneCluster(ctx context.Context, namespace, selector string, dryRun bool) ([]Change, error) {
	return a.prune(ctx, namespace, selector, map[ObjectRef]bool{}, dryRun)
}
