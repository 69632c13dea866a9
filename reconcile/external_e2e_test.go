package reconcile_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/internal/clustertest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/spec"
)

// TestExternalAccess: with externalAccess NodePort, one apply and
// one pass give every pod a NodePort Service and make every node announce
// its Kubernetes node's address and those node ports: CLUSTER SHARDS on
// every node lists them, the cluster stays whole over them (its bus and
// replication go through the node ports too), and a cluster client outside
// Kubernetes, given one of them, reads and writes every slot by following
// MOVED to the others. A second pass finds nothing to do; a pod
// re-created gets its external address back on the next pass. Then the
// same cluster moves to LoadBalancer (each node at its own load
// balancer's IP, reached from outside) and to Hostname (back at pod
// addresses, each node named), with no restart.
func TestExternalAccess(t *testing.T) {
	h := newHarnessWith(t, "external", func(h *harness) {
		h.c.Spec.ExternalAccess = &spec.ExternalAccess{Type: spec.ExternalNodePort, AddressType: spec.AddressExternalIP}
	})
	h.pass()
	ctx := context.Background()

	// What each pod should announce, from the API: its node's ExternalIP
	// and its Service's node ports.
	wanted := func() map[string]string {
		want := map[string]string{} // pod -> ip:port@bus
		nodeIP := map[string]string{}
		nodes, err := h.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes.Items {
			for _, a := range n.Status.Addresses {
				if a.Type == corev1.NodeExternalIP {
					nodeIP[n.Name] = a.Address
				}
			}
		}
		for name, p := range h.pods() {
			svc, err := h.client.CoreV1().Services(h.ns).Get(ctx, render.ExternalServiceName(name), metav1.GetOptions{})
			if err != nil {
				t.Fatalf("the Service of %s: %v", name, err)
			}
			if svc.Spec.Type != corev1.ServiceTypeNodePort {
				t.Errorf("%s is a %s Service", svc.Name, svc.Spec.Type)
			}
			ports := map[string]int32{}
			for _, sp := range svc.Spec.Ports {
				ports[sp.Name] = sp.NodePort
			}
			if nodeIP[p.Spec.NodeName] == "" {
				t.Fatalf("node %s has no ExternalIP", p.Spec.NodeName)
			}
			want[name] = fmt.Sprintf("%s:%d@%d", nodeIP[p.Spec.NodeName], ports["client"], ports["bus"])
		}
		t.Logf("announced addresses: %v", want)
		return want
	}
	announced := func(want map[string]string) {
		t.Helper()
		// CLUSTER SHARDS, on every node, lists every node at its address.
		sandboxtest.Eventually(t, 30*time.Second, "every node lists every node at its NodePort address", func() error {
			views, err := shardsSeenBy(ctx, h)
			if err != nil {
				return err
			}
			for name, nodes := range views {
				seen := map[string]bool{}
				for _, n := range nodes {
					seen[fmt.Sprintf("%s:%d", n.IP, n.Port)] = true
				}
				for pod, addr := range want {
					if !seen[strings.Split(addr, "@")[0]] {
						return fmt.Errorf("CLUSTER SHARDS on %s does not list %s at %s: %v", name, pod, addr, nodes)
					}
				}
			}
			return nil
		})
		// The bus runs over the node ports too: every node sees the
		// cluster ok and every peer connected at its announced address.
		sandboxtest.Eventually(t, 30*time.Second, "the cluster whole over its node ports", func() error {
			for name := range h.pods() {
				if out := h.exec(name, "redis-cli", "cluster", "info"); !strings.Contains(out, "cluster_state:ok") {
					return fmt.Errorf("%s: %s", name, out)
				}
				out := h.exec(name, "redis-cli", "cluster", "nodes")
				for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
					f := strings.Fields(l)
					if len(f) < 8 || f[7] != "connected" {
						return fmt.Errorf("%s: %s", name, l)
					}
					addr := strings.Split(f[1], ",")[0]
					found := false
					for _, w := range want {
						found = found || w == addr
					}
					if !found {
						return fmt.Errorf("%s knows a node at %s, not a NodePort address", name, addr)
					}
				}
			}
			return nil
		})
		h.check()
	}
	want := wanted()
	announced(want)

	// A client outside Kubernetes: one address to start, MOVED to the rest.
	outside := outsideClient(want)
	defer outside.Close()
	clustertest.Fill(t, outside, 3000)
	clustertest.ReadAll(t, outside, 3000)
	err := outside.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
		host, port, _ := net.SplitHostPort(c.Options().Addr)
		if _, err := strconv.Atoi(port); err != nil || host == "" {
			return fmt.Errorf("shard address %s", c.Options().Addr)
		}
		for _, w := range want {
			if strings.HasPrefix(w, c.Options().Addr+"@") {
				return nil
			}
		}
		return fmt.Errorf("the outside client was sent to %s, not a NodePort address", c.Options().Addr)
	})
	if err != nil {
		t.Error(err)
	}

	again := h.pass()
	if n := len(again.Topology.Executed); n != 0 || len(again.Topology.Settings) != 0 {
		t.Errorf("a second pass acted: %v, settings %+v", again.Topology.Executed, again.Topology.Settings)
	}

	// A pod re-created (new pod IP, maybe another node) starts on its pod
	// address; the next pass gives it its external address back, and the
	// client outside still reads every key.
	sandboxtest.Kubectl(t, nil, "-n", h.ns, "delete", "pod", "cache-1", "--wait=true")
	sandboxtest.Eventually(t, 2*time.Minute, "cache-1 back", func() error {
		p, ok := h.pods()["cache-1"]
		if !ok || p.Status.PodIP == "" {
			return fmt.Errorf("not running yet")
		}
		return nil
	})
	h.pass()
	announced(wanted())
	clustertest.ReadAll(t, outside, 3000)

	// LoadBalancer: the same Services change type, each gets its own
	// address, and the nodes announce it on the standard ports once it is
	// known (a pass before that reports the wait and leaves the node on
	// its node-port address, which still works).
	before := h.pods() // cache-1 was re-created above
	h.c.Spec.ExternalAccess = &spec.ExternalAccess{Type: spec.ExternalLoadBalancer}
	lbWant := map[string]string{}
	sandboxtest.Eventually(t, time.Minute, "every node announces its load balancer's IP", func() error {
		oc := h.pass()
		for _, w := range oc.Report.Warnings {
			if strings.Contains(w, "external address waits") {
				return fmt.Errorf("%s", w)
			}
		}
		for name := range h.pods() {
			svc, err := h.client.CoreV1().Services(h.ns).Get(ctx, render.ExternalServiceName(name), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || len(svc.Status.LoadBalancer.Ingress) == 0 {
				return fmt.Errorf("%s: %s, ingress %v", svc.Name, svc.Spec.Type, svc.Status.LoadBalancer.Ingress)
			}
			lbWant[name] = svc.Status.LoadBalancer.Ingress[0].IP + ":6379@16379"
		}
		return nil
	})
	t.Logf("load balancer addresses: %v", lbWant)
	announced(lbWant)
	viaLB := outsideClient(lbWant)
	defer viaLB.Close()
	clustertest.ReadAll(t, viaLB, 3000)

	// Hostname: the per-pod Services go, every node is back at its pod
	// address and also gives a DNS name, which clients are told to prefer.
	h.c.Spec.ExternalAccess = &spec.ExternalAccess{Type: spec.ExternalHostname, Hostname: "{pod}.{namespace}.redis.example.test"}
	h.pass()
	podWant := map[string]string{}
	for name, p := range h.pods() {
		podWant[name] = p.Status.PodIP + ":6379@16379"
		if _, err := h.client.CoreV1().Services(h.ns).Get(ctx, render.ExternalServiceName(name), metav1.GetOptions{}); err == nil {
			t.Errorf("%s is still there with type Hostname", render.ExternalServiceName(name))
		}
	}
	announced(podWant)
	sandboxtest.Eventually(t, 30*time.Second, "every node lists every node's hostname as its endpoint", func() error {
		views, err := shardsSeenBy(ctx, h)
		if err != nil {
			return err
		}
		for name, nodes := range views {
			for _, n := range nodes {
				if !strings.HasSuffix(n.Hostname, "."+h.ns+".redis.example.test") || n.Endpoint != n.Hostname {
					return fmt.Errorf("CLUSTER SHARDS on %s: node %s has hostname %q, endpoint %q", name, n.IP, n.Hostname, n.Endpoint)
				}
			}
		}
		return nil
	})
	for name, p := range h.pods() {
		if p.UID != before[name].UID {
			t.Errorf("%s was restarted by a change of externalAccess", name)
		}
	}

}

// outsideClient is a cluster client on the host given one announced
// address (ip:port@bus) of want: it finds the others through the cluster.
func outsideClient(want map[string]string) *redis.ClusterClient {
	var seed string
	for _, w := range want {
		seed = strings.Split(w, "@")[0]
		break
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{seed}, MaxRedirects: 16})
}

// shardsSeenBy is, for every pod, the nodes its CLUSTER SHARDS lists.
func shardsSeenBy(ctx context.Context, h *harness) (map[string][]redis.Node, error) {
	out := map[string][]redis.Node{}
	for name, p := range h.pods() {
		c := redis.NewClient(&redis.Options{Addr: p.Status.PodIP + ":6379"})
		shards, err := c.ClusterShards(ctx).Result()
		c.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		for _, s := range shards {
			out[name] = append(out[name], s.Nodes...)
		}
	}
	return out, nil
}
