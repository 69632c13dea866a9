package reconcile

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Pass is one reconcile of a set of clusters: the Kubernetes objects, then
// each cluster's Redis topology, then one report per cluster. The CLI's
// `reconcile --once` and every daemon trigger run it.
type Pass struct {
	Applier *kube.Applier
	Redis   *Redis
	// Revision is the Git commit the specs come from, for the reports.
	Revision string
	// DryRun writes nothing anywhere (plans).
	DryRun bool
	// Prune deletes the objects of clusters Git no longer declares; only
	// for a pass over the whole repo.
	Prune bool
	// Source labels the objects with the Git source they come from, and
	// limits pruning to that source's clusters ("" for the CLI).
	Source string
	// ObjectsOnly leaves the Redis topology alone.
	ObjectsOnly bool
	Log         *slog.Logger
}

// ClusterOutcome is one cluster's part of a pass.
type ClusterOutcome struct {
	Cluster string
	Spec    *spec.RedisCluster
	// DryRun: nothing was written (drift: report, suspend, or a plan).
	DryRun      bool
	Objects     *kube.Result
	ObjectsErr  error
	Topology    *converge.Result
	TopologyErr error
	Duration    time.Duration
	Report      report.Report
}

// Err is the first error that stopped the cluster's pass.
func (c ClusterOutcome) Err() error {
	if c.ObjectsErr != nil {
		return c.ObjectsErr
	}
	return c.TopologyErr
}

// PassResult is what a pass did.
type PassResult struct {
	Objects ObjectsResult
	// Clusters are the clusters that loaded, in spec order.
	Clusters []ClusterOutcome
	// Reports: one per loaded cluster, one per cluster whose spec failed
	// to load (with its errors), one per cluster pruned from Git.
	Reports []report.Report
}

// Run reconciles clusters. loadErrs are the repo's spec errors: their
// clusters get a report with the errors, and they stop pruning.
func (p Pass) Run(ctx context.Context, clusters []*spec.RedisCluster, loadErrs spec.ErrorList) PassResult {
	var out PassResult
	start := time.Now()
	out.Objects = ApplyObjectsFrom(ctx, p.Applier, p.Source, clusters, loadErrs, p.DryRun, p.Prune)
	applied := time.Since(start)
	for i, c := range clusters {
		t0 := time.Now()
		co := out.Objects.Clusters[i]
		oc := ClusterOutcome{Cluster: c.Key(), Spec: c, DryRun: co.DryRun, ObjectsErr: co.Err}
		if co.Err == nil {
			oc.Objects = &out.Objects.Clusters[i].Result
			if !p.ObjectsOnly {
				res, err := p.Redis.Converge(ctx, c, oc.DryRun)
				oc.Topology, oc.TopologyErr = &res, err
			}
		}
		oc.Duration = time.Since(t0) + applied/time.Duration(len(clusters))
		in := report.Input{Cluster: oc.Cluster, Revision: p.Revision, Spec: c, Objects: oc.Objects, ObjectsErr: oc.ObjectsErr,
			Topology: oc.Topology, TopologyErr: oc.TopologyErr, DryRun: oc.DryRun, Suspended: c.Spec.Reconcile.Suspend}
		if p.ObjectsOnly {
			in.Topology = nil
		}
		oc.Report = report.Build(in)
		out.Clusters = append(out.Clusters, oc)
		out.Reports = append(out.Reports, oc.Report)
	}
	// A cluster whose spec does not load still gets its report, with the errors.
	bad := map[string]spec.ErrorList{}
	var keys []string
	for _, e := range loadErrs {
		if e.Cluster == "" {
			continue
		}
		if _, ok := bad[e.Cluster]; !ok {
			keys = append(keys, e.Cluster)
		}
		bad[e.Cluster] = append(bad[e.Cluster], e)
	}
	for _, key := range keys {
		out.Reports = append(out.Reports, report.Build(report.Input{Cluster: key, Revision: p.Revision, SpecErrors: bad[key]}))
	}
	for _, pr := range out.Objects.Pruned {
		out.Reports = append(out.Reports, report.Build(report.Input{Cluster: pr.Cluster, Revision: p.Revision, Removed: true, Pruned: pr.Changes, PruneErr: pr.Err}))
	}
	return out
}
