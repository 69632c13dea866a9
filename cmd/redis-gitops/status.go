package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/cluster"
	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

func init() {
	commands["status"] = command{
		summary: "show a live cluster: masters, replicas, placement and drift",
		run:     runStatus,
	}
}

// runStatus is `redis-gitops status [--kubeconfig F] NAMESPACE/NAME`. The
// desired topology comes from the StatefulSet's annotations, so no Git
// checkout is needed. Exit 0: no drift; 1: drift; 2: cannot run.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("status", flag.ContinueOnError)
	flags.SetOutput(stderr)
	kubeconfig := flags.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config or in-cluster)")
	if err := flags.Parse(args); err != nil || flags.NArg() != 1 || !strings.Contains(flags.Arg(0), "/") {
		fmt.Fprintln(stderr, "usage: redis-gitops status [--kubeconfig F] NAMESPACE/NAME")
		return &exitError{code: 2}
	}
	ns, name, _ := strings.Cut(flags.Arg(0), "/")
	a, err := newApplier(*kubeconfig)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	sts, err := a.Client.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("cluster %s/%s: %w", ns, name, err)}
	}
	ann := sts.Annotations
	masters, err1 := strconv.Atoi(ann[render.AnnotationMasters])
	replicas, err2 := strconv.Atoi(ann[render.AnnotationReplicas])
	if err1 != nil || err2 != nil {
		return &exitError{code: 2, err: fmt.Errorf("StatefulSet %s/%s lacks redis-gitops' topology annotations: was it made by redis-gitops?", ns, name)}
	}
	password := ""
	for _, c := range sts.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == "REDISCLI_AUTH" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				s, err := a.Client.CoreV1().Secrets(ns).Get(ctx, e.ValueFrom.SecretKeyRef.Name, metav1.GetOptions{})
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("auth secret: %w", err)}
				}
				password = string(s.Data[e.ValueFrom.SecretKeyRef.Key])
			}
		}
	}
	// With spec.tls, over TLS as the daemon does: the Secret and clientAuth
	// are in the StatefulSet's annotations.
	port, tlsc := render.ClientPort, (*converge.TLS)(nil)
	if secret := ann[render.AnnotationTLSSecret]; secret != "" {
		c := &spec.RedisCluster{Metadata: spec.Metadata{Name: name, Namespace: ns},
			Spec: spec.ClusterSpec{TLS: &spec.TLS{SecretRef: spec.TLSSecretRef{Name: secret}, ClientAuth: ann[render.AnnotationTLSClientAuth]}}}
		if tlsc, err = (&cluster.Redis{Client: a.Client}).TLS(ctx, c); err != nil {
			return &exitError{code: 2, err: err}
		}
		port = render.TLSPort
	}
	t := converge.Target{Namespace: ns, Name: name, Selector: render.ManagedSelector(name),
		TopologyKey: ann[render.AnnotationTopologyKey], ZoneKey: ann[render.AnnotationZoneKey], Port: port}
	ob := &converge.Observer{Client: a.Client, Dial: converge.RedisDialer(password, tlsc)}
	o, err := ob.Observe(ctx, t)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	plan := topology.PlanTopology(topology.Desired{Masters: masters, ReplicasPerMaster: replicas, ZoneAware: t.ZoneKey != "",
		ClientPort: port, BusPort: render.BusPort}, o)
	printStatus(stdout, ns+"/"+name, o, plan)
	if len(plan.Drift) > 0 || len(plan.Actions) > 0 {
		return &exitError{code: 1}
	}
	return nil
}

func printStatus(w io.Writer, cluster string, o *topology.Observed, plan topology.Plan) {
	fmt.Fprintf(w, "%s: %d pods, %d answering\n\n", cluster, len(o.Pods), len(o.Nodes))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tPOD\tK8S NODE\tZONE\tNODE ID\tSLOTS\tKEYS\tMASTER\tLINK")
	ids := o.NodeIDs()
	sort.SliceStable(ids, func(i, j int) bool { return o.Nodes[ids[i]].IsMaster() && !o.Nodes[ids[j]].IsMaster() })
	for _, id := range ids {
		n := o.Nodes[id]
		role, master, link, slots := "replica", "", "", ""
		if n.IsMaster() {
			role = "master"
			var parts []string
			for _, r := range n.Self.Slots {
				parts = append(parts, r.String())
			}
			slots = strings.Join(parts, ",")
		} else {
			master = n.Self.MasterID
			if m, ok := o.Nodes[master]; ok {
				master = m.Pod.Name
			}
			link = "down"
			if n.MasterLinkUp {
				link = "up"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", role, n.Pod.Name, n.Pod.Node, n.Pod.Zone, id[:8], slots, n.Keys, master, link)
	}
	for pod, why := range o.Unreachable {
		fmt.Fprintf(tw, "?\t%s\t\t\t\t\t\t\t%s\n", pod, why)
	}
	tw.Flush()
	if len(plan.Drift) == 0 && len(plan.Actions) == 0 {
		fmt.Fprintln(w, "\nno drift: the cluster matches its spec")
		return
	}
	fmt.Fprintln(w, "\ndrift:")
	for _, d := range plan.Drift {
		fmt.Fprintf(w, "  %s %s: %s\n", d.Kind, d.Subject, d.Detail)
	}
	if len(plan.Actions) > 0 {
		fmt.Fprintln(w, "\na reconcile would:")
		for _, a := range plan.Actions {
			fmt.Fprintf(w, "  %s\n", a.String())
		}
	}
}
