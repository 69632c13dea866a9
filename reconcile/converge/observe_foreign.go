package converge

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// AdoptTarget is the running cluster a spec takes over (spec.adopt).
type AdoptTarget struct {
	// StatefulSet runs the old nodes, in Target.Namespace.
	StatefulSet string
	// Port is the old nodes' client port.
	Port int
	// Password is the one the old nodes must take (spec.auth's, "" for
	// none); held in memory only, never logged.
	Password string `json:"-"`
}

// observeForeign adds to o the nodes of the cluster being adopted: the
// pods of the old StatefulSet, and every other node some view names that
// is neither a managed pod nor one of those (asked at the address the
// view gives). Each must take the spec's password, exactly: a node that
// takes another (or none where the spec has one) could not replicate to
// or from the managed pods, so it is unreachable for the takeover.
func (ob *Observer) observeForeign(ctx context.Context, t Target, o *topology.Observed) error {
	a := t.Adopt
	var pods []topology.Pod
	sts, err := ob.Client.AppsV1().StatefulSets(t.Namespace).Get(ctx, a.StatefulSet, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// Deleted (after the takeover, or by a person): its nodes, if any
		// are still in the cluster, are found from the views below.
	case err != nil:
		return fmt.Errorf("adopt: StatefulSet %s/%s: %w", t.Namespace, a.StatefulSet, err)
	default:
		sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
		if err != nil {
			return fmt.Errorf("adopt: StatefulSet %s/%s: selector: %w", t.Namespace, a.StatefulSet, err)
		}
		pods, err = ob.Pods(ctx, Target{Namespace: t.Namespace, Name: a.StatefulSet, Selector: sel.String(), TopologyKey: t.TopologyKey, ZoneKey: t.ZoneKey})
		if err != nil {
			return fmt.Errorf("adopt: %w", err)
		}
	}
	replies := ob.askForeign(ctx, pods, a)
	if err := o.AddForeign(pods, replies); err != nil {
		return err
	}
	// Nodes of the old cluster its StatefulSet does not run (added by
	// hand, or another StatefulSet's): asked where the views place them.
	managedIP := map[string]bool{}
	for _, p := range o.Pods {
		managedIP[p.IP] = true
	}
	seen := map[string]bool{}
	var extra []topology.Pod
	for _, ns := range []map[string]*topology.Node{o.Nodes, o.Foreign} {
		for _, n := range ns {
			for _, v := range n.View {
				_, ours := o.Nodes[v.ID]
				_, old := o.Foreign[v.ID]
				name := net.JoinHostPort(v.IP, strconv.Itoa(v.Port))
				if ours || old || v.Has("handshake") || v.IP == "" || managedIP[v.IP] || seen[name] {
					continue
				}
				seen[name] = true
				extra = append(extra, topology.Pod{Name: name, IP: v.IP, Ordinal: v.Port})
			}
		}
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].Name < extra[j].Name })
	return o.AddForeign(extra, ob.askAt(ctx, extra, a.Password, func(p topology.Pod) string { return p.Name }))
}

func (ob *Observer) askForeign(ctx context.Context, pods []topology.Pod, a *AdoptTarget) map[string]topology.Reply {
	var running []topology.Pod
	for _, p := range pods {
		if p.IP != "" {
			running = append(running, p)
		}
	}
	return ob.askAt(ctx, running, a.Password, func(p topology.Pod) string {
		return net.JoinHostPort(p.IP, strconv.Itoa(a.Port))
	})
}

// askAt asks each pod at addr(pod), askersInFlight at a time, after
// checking that it takes exactly password.
func (ob *Observer) askAt(ctx context.Context, pods []topology.Pod, password string, addr func(topology.Pod) string) map[string]topology.Reply {
	replies := make([]topology.Reply, len(pods))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(askersInFlight)
	for i, p := range pods {
		g.Go(func() error {
			if err := ob.checkPassword(gctx, addr(p), password); err != nil {
				replies[i] = topology.Reply{Err: err}
				return nil
			}
			replies[i] = ob.askWith(gctx, ob.foreignDial(password), addr(p))
			return nil
		})
	}
	_ = g.Wait()
	out := make(map[string]topology.Reply, len(pods))
	for i, p := range pods {
		out[p.Name] = replies[i]
	}
	return out
}

func (ob *Observer) foreignDial(password string) Dialer {
	if ob.ForeignDial != nil {
		return ob.ForeignDial
	}
	return RedisDialer(password, nil)
}

// checkPassword: the node at addr takes password as its replicas will
// send it (AUTH <password>, or nothing when there is none).
func (ob *Observer) checkPassword(ctx context.Context, addr, password string) error {
	if ob.ForeignDial != nil {
		return nil // a test's dialer decides
	}
	c := RedisDialer("", nil)(addr)
	defer c.Close()
	if password == "" {
		if _, err := c.Do(ctx, "PING"); err != nil {
			return fmt.Errorf("without a password (the spec has no auth): %w", err)
		}
		return nil
	}
	if _, err := c.Do(ctx, "AUTH", password); err != nil {
		return fmt.Errorf("does not take the password of spec.auth's Secret (its replicas would fail to sync): %w", err)
	}
	return nil
}
