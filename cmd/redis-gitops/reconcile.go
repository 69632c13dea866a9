package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"text/tabwriter"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/spec"
)

func init() {
	commands["reconcile"] = command{
		summary: "apply and converge the clusters in PATH... once (Kubernetes objects, then Redis topology)",
		run:     runReconcile,
	}
}

// runReconcile is `redis-gitops reconcile --once [--kubeconfig F]
// [--dry-run] [--prune] [--path DIR | PATH...]`: one pass of the daemon over
// the clusters in PATH: server-side apply, then converge each cluster's Redis
// topology. Exit 0: every cluster converged; 1: an invalid spec or a cluster
// that did not converge (the others are still reconciled); 2: cannot run.
func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	flags.SetOutput(stderr)
	kubeconfig := flags.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config or in-cluster)")
	dryRun := flags.Bool("dry-run", false, "plan only: server-side dry runs, no writes")
	prune := flags.Bool("prune", false, "delete the objects of clusters that PATH no longer declares (PATH must hold every cluster)")
	path := flags.String("path", "", "directory of cluster specs (or give PATH... arguments)")
	flags.Bool("once", true, "one pass, then exit (the daemon runs continuously)")
	objectsOnly := flags.Bool("objects-only", false, "apply Kubernetes objects only; leave the Redis topology alone")
	statusDir := flags.String("status-dir", "", "write status/<namespace>/<name>.yaml and .md reports under this directory (only when they change)")
	revision := flags.String("revision", "", "the Git revision the specs come from, recorded in the reports")
	if err := flags.Parse(args); err != nil || (flags.NArg() == 0 && *path == "") {
		fmt.Fprintln(stderr, "usage: redis-gitops reconcile --once [--kubeconfig F] [--dry-run] [--prune] [--objects-only] --path DIR | PATH...")
		return &exitError{code: 2}
	}
	paths := flags.Args()
	if *path != "" {
		paths = append(paths, *path)
	}
	clusters, loadErrs := spec.Load(paths...)
	for _, e := range loadErrs {
		fmt.Fprintln(stderr, e)
	}
	if errors.As(loadErrs, new(*fs.PathError)) {
		return &exitError{code: 2}
	}
	applier, err := newApplier(*kubeconfig)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	pass := reconcile.Pass{Applier: applier, Redis: &reconcile.Redis{Client: applier.Client, Log: log},
		Revision: *revision, DryRun: *dryRun, Prune: *prune, ObjectsOnly: *objectsOnly, Log: log}
	res := pass.Run(ctx, clusters, loadErrs)
	failed := printObjects(stdout, res.Objects)
	if res.Objects.PruneSkipped != "" && *prune {
		fmt.Fprintln(stderr, "prune skipped:", res.Objects.PruneSkipped)
	}
	for _, c := range res.Clusters {
		if c.Topology == nil {
			continue
		}
		printTopology(stdout, c.Cluster, *c.Topology, c.DryRun)
		if c.TopologyErr != nil {
			failed++
			fmt.Fprintf(stderr, "%s: %v\n", c.Cluster, c.TopologyErr)
		}
	}
	if *statusDir != "" {
		for _, rep := range res.Reports {
			wrote, err := writeReport(*statusDir, rep)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("status report %s: %w", rep.Cluster, err)}
			}
			if wrote {
				fmt.Fprintf(stdout, "%s: status report written: %s\n", rep.Cluster, rep.Verdict())
			}
		}
	}
	if failed > 0 || len(loadErrs) > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// printTopology prints what converging did (or would do) and what drift it
// found on the way.
func printTopology(w io.Writer, cluster string, res converge.Result, dryRun bool) {
	verb := "did"
	actions := res.Executed
	if dryRun {
		verb, actions = "would do", res.Plan().Actions
	}
	fmt.Fprintf(w, "%s: topology: %d action(s) %s\n", cluster, len(actions), verb)
	for _, a := range actions {
		fmt.Fprintf(w, "  %s\n", a.String())
	}
	// What was found before acting; later rounds see the effects.
	if len(res.Rounds) > 0 {
		for _, d := range res.Rounds[0].Drift {
			fmt.Fprintf(w, "  drift %s %s: %s\n", d.Kind, d.Subject, d.Detail)
		}
	}
}

func newApplier(kubeconfig string) (*kube.Applier, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &kube.Applier{Client: client, Dynamic: dyn, Log: slog.Default()}, nil
}

// printObjects prints one line per object change and returns the number of
// clusters that failed.
func printObjects(w io.Writer, res reconcile.ObjectsResult) int {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tOBJECT\tACTION\tDETAIL")
	failed := 0
	for _, c := range res.Clusters {
		if c.Err != nil {
			failed++
			fmt.Fprintf(tw, "%s\t-\terror\t%v\n", c.Cluster, c.Err)
			continue
		}
		for _, ch := range c.Result.Changes {
			action := string(ch.Action)
			if !ch.Applied && ch.Action != kube.Unchanged {
				action += " (planned)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Cluster, ch.Object, action, changeDetail(ch))
		}
		for _, d := range c.Result.Drift {
			fmt.Fprintf(tw, "%s\t%s\tdrift\t%s set by %v\n", c.Cluster, d.Object, d.Path, d.Managers)
		}
		for _, warn := range c.Result.Warnings {
			fmt.Fprintf(tw, "%s\t-\twarning\t%s\n", c.Cluster, warn)
		}
	}
	for _, ch := range res.Removed {
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\n", ch.Object.Namespace, "-", ch.Object, ch.Action, ch.Reason)
	}
	tw.Flush()
	return failed
}

func changeDetail(ch kube.Change) string {
	if ch.Reason != "" {
		return ch.Reason
	}
	s := ""
	for i, f := range ch.Fields {
		if i == 3 {
			return s + fmt.Sprintf(", and %d more", len(ch.Fields)-3)
		}
		if i > 0 {
			s += ", "
		}
		s += f.Path
	}
	return s
}
