package reconcile

import (
	"context"
	"sort"

	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/spec"
)

// The daemon reconciles one cluster per pass (Pass.Run with one cluster,
// Prune false) and prunes apart, one removed cluster at a time, so that a
// cluster's pass and its pruning never run at once. These are the same
// steps as Run's pruning (applyObjects), split.

// Removed lists the clusters of source that Kubernetes holds and that
// clusters, the whole repo's set, no longer declares, sorted. The caller
// must not prune when the repo had spec errors: a cluster in a file that
// failed to parse is not a removed one (applyObjects skips pruning then).
func Removed(ctx context.Context, a *kube.Applier, source string, clusters []*spec.RedisCluster) ([]kube.ClusterRef, error) {
	inGit := map[kube.ClusterRef]bool{}
	for _, c := range clusters {
		inGit[kube.ClusterRef{Namespace: c.Metadata.Namespace, Name: c.Metadata.Name}] = true
	}
	managed, err := a.ManagedClusters(ctx, render.SourceSelector(source), render.LabelCluster)
	if err != nil {
		return nil, err
	}
	var out []kube.ClusterRef
	for _, m := range managed {
		if !inGit[m] {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out, nil
}

// PruneRemoved deletes the objects of one cluster that Git no longer
// declares (its PersistentVolumeClaims kept; nothing with DryRun) and
// returns its report, as Run's pruning does.
func (p Pass) PruneRemoved(ctx context.Context, ref kube.ClusterRef) report.Report {
	changes, err := p.Applier.PruneCluster(ctx, ref.Namespace, render.ClusterSourceSelector(ref.Name, p.Source), p.DryRun)
	return report.Build(report.Input{Cluster: ref.Namespace + "/" + ref.Name, Revision: p.Revision, Removed: true, Pruned: changes, PruneErr: err})
}

// SpecErrorReport is the report of a cluster whose spec does not load, as
// Run builds it.
func SpecErrorReport(cluster, revision string, errs spec.ErrorList) report.Report {
	return report.Build(report.Input{Cluster: cluster, Revision: revision, SpecErrors: errs})
}
