package reconcile

import (
	"context"
	"fmt"

	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/tlsplan"
	"github.com/redis-gitops/redis-gitops/spec"
)

// ClusterObjects is the Kubernetes half of one cluster's reconcile.
type ClusterObjects struct {
	Cluster string // namespace/name
	// DryRun is true when nothing was written: drift: report, suspend, or a
	// plan.
	DryRun bool
	Result kube.Result
	Err    error
}

// ObjectsResult is the Kubernetes half of a whole repo's reconcile.
type ObjectsResult struct {
	Clusters []ClusterObjects
	// Removed are the objects of clusters no longer in Git.
	Removed []kube.Change
	// Pruned are those clusters, each with what was deleted (or would be).
	Pruned []PrunedCluster
	// PruneSkipped says why clusters removed from Git were not pruned.
	PruneSkipped string
}

// PrunedCluster is a cluster that Git no longer declares and whose objects
// were pruned (PersistentVolumeClaims are always kept).
type PrunedCluster struct {
	Cluster string // namespace/name
	Changes []kube.Change
	Err     error
}

// ApplyObjects renders and applies every valid cluster. One cluster's
// failure does not stop the others. Clusters that have objects in Kubernetes
// but are no longer in Git are pruned (their PVCs kept), except when the
// repo had invalid specs: a cluster in a file that failed to parse must not
// be mistaken for a removed one. prune is for callers that hold the whole
// set of clusters (the daemon's repo path); a partial set must not prune.
func ApplyObjects(ctx context.Context, a *kube.Applier, clusters []*spec.RedisCluster, loadErrs spec.ErrorList, dryRun, prune bool) ObjectsResult {
	return ApplyObjectsFrom(ctx, a, "", clusters, loadErrs, dryRun, prune)
}

// ApplyObjectsFrom is ApplyObjects for the objects of one Git source: they
// are labelled render.LabelSource=source, and pruning considers only
// clusters with that label (source "" is the CLI's: objects without one).
func ApplyObjectsFrom(ctx context.Context, a *kube.Applier, source string, clusters []*spec.RedisCluster, loadErrs spec.ErrorList, dryRun, prune bool) ObjectsResult {
	return applyObjects(ctx, a, source, clusters, loadErrs, dryRun, prune, nil, nil)
}

// tlsApply is what a cluster's TLS asks of its objects this pass: the
// stage its pods' configuration carries, or why it cannot be told (its
// objects are then not applied).
type tlsApply struct {
	Stage tlsplan.Stage
	Err   error
}

// applyObjects is ApplyObjectsFrom with scale-in holds by cluster key (a
// held cluster's StatefulSet keeps its live size) and what each cluster's
// TLS asks: the stage of the clusters in the middle of a switch, or a
// refusal (a bad TLS Secret, a stage that cannot be told), for which
// nothing of the cluster is applied.
func applyObjects(ctx context.Context, a *kube.Applier, source string, clusters []*spec.RedisCluster, loadErrs spec.ErrorList, dryRun, prune bool, holds map[string]*Hold, tls map[string]tlsApply) ObjectsResult {
	var out ObjectsResult
	inGit := map[kube.ClusterRef]bool{}
	for _, c := range clusters {
		inGit[kube.ClusterRef{Namespace: c.Metadata.Namespace, Name: c.Metadata.Name}] = true
		co := ClusterObjects{Cluster: c.Key(), DryRun: dryRun || c.Spec.ReportOnly() || c.Spec.Reconcile.Suspend}
		stage := render.TargetStage(c)
		ta, staged := tls[c.Key()]
		if staged && ta.Err == nil {
			stage = ta.Stage
		}
		objs, err := render.RenderAt(c, stage)
		if h := holds[c.Key()]; h != nil && h.Err != nil {
			co.Err = fmt.Errorf("%s: %w", c.Key(), h.Err)
		} else if staged && ta.Err != nil {
			co.Err = fmt.Errorf("%s: %w", c.Key(), ta.Err)
		} else if err != nil {
			co.Err = fmt.Errorf("render %s: %w", c.Key(), err)
		} else {
			if h := holds[c.Key()]; h != nil && objs.StatefulSet != nil {
				objs.StatefulSet.Spec.WithReplicas(h.Replicas)
			}
			all := objs.All()
			if source != "" {
				labelSource(all, source)
			}
			co.Result, co.Err = a.Apply(ctx, all, kube.Options{DryRun: co.DryRun, Selector: render.ManagedSelector(c.Metadata.Name)})
		}
		out.Clusters = append(out.Clusters, co)
	}
	if !prune {
		return out
	}
	if len(loadErrs) > 0 {
		out.PruneSkipped = fmt.Sprintf("%d spec error(s) in the repo: clusters missing from Git are kept until every spec loads", len(loadErrs))
		return out
	}
	managed, err := a.ManagedClusters(ctx, render.SourceSelector(source), render.LabelCluster)
	if err != nil {
		out.PruneSkipped = err.Error()
		return out
	}
	for _, m := range managed {
		if inGit[m] {
			continue
		}
		changes, err := a.PruneCluster(ctx, m.Namespace, render.ClusterSourceSelector(m.Name, source), dryRun)
		out.Removed = append(out.Removed, changes...)
		out.Pruned = append(out.Pruned, PrunedCluster{Cluster: m.Namespace + "/" + m.Name, Changes: changes, Err: err})
		if err != nil {
			out.Clusters = append(out.Clusters, ClusterObjects{Cluster: m.Namespace + "/" + m.Name, DryRun: dryRun, Err: err})
		}
	}
	return out
}

// labelSource adds the source label to every rendered object.
func labelSource(objs []any, source string) {
	l := map[string]string{render.LabelSource: source}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1ac.ConfigMapApplyConfiguration:
			o.WithLabels(l)
		case *corev1ac.ServiceApplyConfiguration:
			o.WithLabels(l)
		case *appsv1ac.StatefulSetApplyConfiguration:
			o.WithLabels(l)
		case *policyv1ac.PodDisruptionBudgetApplyConfiguration:
			o.WithLabels(l)
		default:
			panic(fmt.Sprintf("labelSource: unexpected object %T", o))
		}
	}
}
