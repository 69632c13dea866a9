package reconcile

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
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
	// Hold is set while a scale-in waits for pods to be drained: the
	// StatefulSet kept its live size this pass.
	Hold *Hold
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
	inGit := clusters
	clusters, tlsFor := p.tlsBeforeApply(ctx, clusters)
	holds := p.scaleInHolds(ctx, clusters)
	tlsWarnings, refused := p.checkTLS(ctx, clusters, start)
	for key, why := range refused {
		if tlsFor == nil {
			tlsFor = map[string]tlsApply{}
		}
		tlsFor[key] = tlsApply{Err: why}
	}
	out.Objects = applyObjects(ctx, p.Applier, p.Source, clusters, loadErrs, p.DryRun, p.Prune, holds, tlsFor)
	applied := time.Since(start)
	for i, c := range clusters {
		t0 := time.Now()
		co := out.Objects.Clusters[i]
		oc := ClusterOutcome{Cluster: c.Key(), Spec: c, DryRun: co.DryRun, ObjectsErr: co.Err, Hold: holds[c.Key()]}
		if co.Err == nil {
			oc.Objects = &out.Objects.Clusters[i].Result
			if !p.ObjectsOnly {
				opts := ConvergeOptions{DryRun: oc.DryRun}
				if oc.DryRun {
					// Not applied: the pods would restart for the template the
					// StatefulSet does not have yet.
					opts.TemplateChange = kube.TemplateChange(co.Result.Changes)
				}
				res, err := p.Redis.ConvergeWith(ctx, c, opts)
				oc.Topology, oc.TopologyErr = &res, err
				if oc.Hold != nil && err == nil && !oc.DryRun {
					p.finishScaleIn(ctx, c, &oc)
				}
				if c != inGit[i] && err == nil && !oc.DryRun {
					p.finishTLSOff(ctx, inGit[i], &oc)
				}
			}
		}
		oc.Duration = time.Since(t0) + applied/time.Duration(len(clusters))
		in := report.Input{Cluster: oc.Cluster, Revision: p.Revision, Spec: c, Objects: oc.Objects, ObjectsErr: oc.ObjectsErr,
			Topology: oc.Topology, TopologyErr: oc.TopologyErr, DryRun: oc.DryRun, Suspended: c.Spec.Reconcile.Suspend,
			TLSWarnings: tlsWarnings[c.Key()]}
		if oc.Hold != nil {
			in.ScaleInHold = oc.Hold.String()
		}
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

// scaleInHolds finds the clusters whose StatefulSet must keep its live
// size: a scale-in whose pods to remove still hold data. A pass that
// writes nothing needs none; one that cannot tell holds (see ScaleInHold).
func (p Pass) scaleInHolds(ctx context.Context, clusters []*spec.RedisCluster) map[string]*Hold {
	holds := map[string]*Hold{}
	if p.DryRun || p.Redis == nil {
		return holds
	}
	for _, c := range clusters {
		if c.Spec.ReportOnly() || c.Spec.Reconcile.Suspend {
			continue
		}
		h, err := p.Redis.ScaleInHold(ctx, c)
		if err != nil {
			h = &Hold{Err: err} // its objects are not applied this pass
		}
		if h != nil {
			holds[c.Key()] = h
			if p.Log != nil {
				p.Log.Info("scale-in waits", "cluster", c.Key(), "hold", h.String())
			}
		}
	}
	return holds
}

// checkTLS judges each cluster's certificate (spec.tls) at now, before
// anything is applied: a Secret that cannot be read, or one that would
// break the cluster, refuses the cluster's whole pass (nothing applied,
// no node touched, the cluster serving as it was) with an error naming
// the Secret and the key; warnings go into its report.
func (p Pass) checkTLS(ctx context.Context, clusters []*spec.RedisCluster, now time.Time) (warnings map[string][]string, refused map[string]error) {
	warnings, refused = map[string][]string{}, map[string]error{}
	if p.Redis == nil {
		return warnings, refused
	}
	for _, c := range clusters {
		w, err := p.Redis.CheckTLS(ctx, c, now)
		warnings[c.Key()] = w
		if err != nil {
			refused[c.Key()] = err
			if p.Log != nil {
				p.Log.Warn("tls: refused; nothing of the cluster changes", "cluster", c.Key(), "err", err)
			}
		}
	}
	return warnings, refused
}

// finishScaleIn shrinks a held StatefulSet once the convergence drained
// the pods to remove, then converges again: the nodes of the removed pods
// are forgotten and the replicas they served are placed anew.
func (p Pass) finishScaleIn(ctx context.Context, c *spec.RedisCluster, oc *ClusterOutcome) {
	h, err := p.Redis.ScaleInHold(ctx, c)
	if err != nil || h != nil {
		return // still draining: the next pass goes on
	}
	res := applyObjects(ctx, p.Applier, p.Source, []*spec.RedisCluster{c}, nil, false, false, nil, nil)
	if err := res.Clusters[0].Err; err != nil {
		oc.ObjectsErr = err
		return
	}
	if p.Log != nil {
		p.Log.Info("scale-in: drained; StatefulSet shrinks", "cluster", c.Key(), "replicas", c.Spec.TotalNodes())
	}
	oc.Objects.Changes = append(oc.Objects.Changes, res.Clusters[0].Result.Changes...)
	oc.Hold = nil
	more, err := p.Redis.Converge(ctx, c, false)
	oc.Topology.Rounds = append(oc.Topology.Rounds, more.Rounds...)
	oc.Topology.Executed = append(oc.Topology.Executed, more.Executed...)
	oc.Topology.Final = more.Final
	oc.TopologyErr = err
}

// tlsBeforeApply settles each cluster's TLS before its objects are
// applied: the cluster as the pass treats it (cluster.Effective: a
// cluster whose spec.tls was removed keeps its nodes' TLS until they are
// back on plaintext), and, for a cluster with TLS, the stage its pods'
// configuration carries (render.RenderAt). A cluster whose TLS cannot be
// told gets an error instead, and none of its objects are applied this
// pass: a guess could restart a pod onto a bus the others do not hear.
// Plans (DryRun) render the spec's target and read nothing.
func (p Pass) tlsBeforeApply(ctx context.Context, clusters []*spec.RedisCluster) ([]*spec.RedisCluster, map[string]tlsApply) {
	if p.DryRun || p.Redis == nil {
		return clusters, nil
	}
	out := make([]*spec.RedisCluster, len(clusters))
	apply := map[string]tlsApply{}
	for i, c := range clusters {
		out[i] = c
		if c.Spec.ReportOnly() || c.Spec.Reconcile.Suspend {
			continue
		}
		eff, err := p.Redis.Effective(ctx, c)
		if err != nil {
			apply[c.Key()] = tlsApply{Err: err}
			continue
		}
		out[i] = eff
		if eff.Spec.TLS == nil {
			continue
		}
		stage, err := p.Redis.TLSStageFor(ctx, eff)
		apply[c.Key()] = tlsApply{Stage: stage, Err: err}
		if p.Log != nil && err == nil && stage != render.TargetStage(eff) {
			p.Log.Info("tls switch under way: the pods' configuration keeps the nodes' stage", "cluster", c.Key(), "stage", stage.String(), "target", render.TargetStage(eff).String())
		}
	}
	return out, apply
}

// finishTLSOff applies the spec's objects once a cluster whose spec.tls
// was removed has every node back on plaintext: the pods then restart
// without the certificate, all on the plaintext bus. Until then the pass
// applied the objects with the TLS the pods had (cluster.Effective).
func (p Pass) finishTLSOff(ctx context.Context, c *spec.RedisCluster, oc *ClusterOutcome) {
	if oc.Topology == nil || oc.Topology.TLS == nil || !oc.Topology.TLS.Done {
		return // not back on plaintext yet: the next pass goes on
	}
	res := applyObjects(ctx, p.Applier, p.Source, []*spec.RedisCluster{c}, nil, false, false, nil, nil)
	if err := res.Clusters[0].Err; err != nil {
		oc.ObjectsErr = err
		return
	}
	if p.Log != nil {
		p.Log.Info("tls: every node is back on plaintext; the pods restart without the certificate", "cluster", c.Key())
	}
	oc.Objects.Changes = append(oc.Objects.Changes, res.Clusters[0].Result.Changes...)
	more, err := p.Redis.Converge(ctx, c, false)
	oc.Topology.Rounds = append(oc.Topology.Rounds, more.Rounds...)
	oc.Topology.Executed = append(oc.Topology.Executed, more.Executed...)
	oc.Topology.Final = more.Final
	oc.TopologyErr = err
}
