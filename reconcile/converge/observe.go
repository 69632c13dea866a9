package converge

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// Target names one cluster's pods and how to read their failure domains.
type Target struct {
	Namespace string
	// Name is the StatefulSet's name; pods are <name>-<ordinal>.
	Name string
	// Selector finds the cluster's pods.
	Selector    string
	TopologyKey string // node label of the failure domain
	ZoneKey     string // optional wider domain
	Port        int
	// Adopt, when set, is the running cluster the spec takes over: its
	// nodes are observed too, into Observed.Foreign.
	Adopt *AdoptTarget
}

// Observer reads pods and nodes from Kubernetes and CLUSTER NODES, CLUSTER
// INFO, INFO replication, INFO memory and DBSIZE from every pod's Redis.
type Observer struct {
	Client kubernetes.Interface
	Dial   Dialer
	// ForeignDial dials the nodes of a cluster being adopted (tests);
	// default go-redis with Target.Adopt.Password, checked first.
	ForeignDial Dialer
}

// Pods lists the cluster's pods with their failure domains.
func (ob *Observer) Pods(ctx context.Context, t Target) ([]topology.Pod, error) {
	list, err := ob.Client.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: t.Selector})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s/%s: %w", t.Namespace, t.Name, err)
	}
	nodes := map[string]*corev1.Node{}
	var pods []topology.Pod
	for _, p := range list.Items {
		ord, ok := ordinal(p.Name, t.Name)
		if !ok || p.DeletionTimestamp != nil {
			continue
		}
		tp := topology.Pod{Name: p.Name, Ordinal: ord, Node: p.Spec.NodeName}
		if p.Status.Phase == corev1.PodRunning {
			tp.IP = p.Status.PodIP
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				tp.Ready = true
			}
		}
		if tp.Node != "" {
			n, seen := nodes[tp.Node]
			if !seen {
				n, err = ob.Client.CoreV1().Nodes().Get(ctx, tp.Node, metav1.GetOptions{})
				switch {
				case apierrors.IsNotFound(err):
					n = nil // a deleted node has no labels; the pod still counts
				case err != nil:
					// Read as "deleted", a passing API error would put the
					// pod in a domain of its own and plan replica moves.
					return nil, fmt.Errorf("node %s of pod %s/%s: %w", tp.Node, t.Namespace, p.Name, err)
				}
				nodes[tp.Node] = n
			}
			if n != nil {
				tp.Domain = n.Labels[t.TopologyKey]
				if t.ZoneKey != "" {
					tp.Zone = n.Labels[t.ZoneKey]
				}
			}
			if tp.Domain == "" {
				tp.Domain = tp.Node
			}
		}
		pods = append(pods, tp)
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Ordinal < pods[j].Ordinal })
	return pods, nil
}

func ordinal(pod, sts string) (int, bool) {
	rest, ok := strings.CutPrefix(pod, sts+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

// askersInFlight bounds the nodes Observe asks at once.
const askersInFlight = 16

// Observe asks every running pod's Redis, askersInFlight at a time.
func (ob *Observer) Observe(ctx context.Context, t Target) (*topology.Observed, error) {
	pods, err := ob.Pods(ctx, t)
	if err != nil {
		return nil, err
	}
	replies := make([]topology.Reply, len(pods))
	asked := make([]bool, len(pods))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(askersInFlight)
	for i, p := range pods {
		if p.IP == "" {
			continue
		}
		asked[i] = true
		g.Go(func() error {
			replies[i] = ob.ask(gctx, net.JoinHostPort(p.IP, strconv.Itoa(t.Port)))
			return nil
		})
	}
	_ = g.Wait()
	byPod := map[string]topology.Reply{}
	for i, p := range pods {
		if asked[i] {
			byPod[p.Name] = replies[i]
		}
	}
	o, err := topology.Observe(pods, byPod)
	if err != nil || t.Adopt == nil {
		return o, err
	}
	return o, ob.observeForeign(ctx, t, o)
}

func (ob *Observer) ask(ctx context.Context, addr string) topology.Reply {
	return ob.askWith(ctx, ob.Dial, addr)
}

func (ob *Observer) askWith(ctx context.Context, dial Dialer, addr string) topology.Reply {
	a := dial(addr)
	defer a.Close()
	var r topology.Reply
	// One round trip: on a loaded machine each one waits for the node's
	// turn on a CPU, and a pass asks every node.
	replies, err := a.Pipe(ctx, []any{"CLUSTER", "NODES"}, []any{"CLUSTER", "INFO"},
		[]any{"INFO", "replication"}, []any{"INFO", "memory"}, []any{"DBSIZE"})
	if r.Err = migrate.FirstErr(replies, err); r.Err != nil {
		return r
	}
	texts := make([]string, 4)
	for i := range texts {
		s, ok := replies[i].Val.(string)
		if !ok {
			r.Err = fmt.Errorf("%s: unexpected reply %T", []string{"CLUSTER NODES", "CLUSTER INFO", "INFO replication", "INFO memory"}[i], replies[i].Val)
			return r
		}
		texts[i] = s
	}
	r.ClusterNodes, r.ClusterInfo, r.Replication, r.Memory = texts[0], texts[1], texts[2], texts[3]
	r.Keys, _ = replies[4].Val.(int64)
	return r
}
