package e2e

// Services reached from outside the cluster: the sandbox's service proxy
// serves nodePorts on every node's ExternalIP (an address on the pod
// network) and InternalIP, and LoadBalancer Services on an address of their
// own, to the host and to pods alike.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var sandboxNodes = []string{"sandbox-node-a", "sandbox-node-b", "sandbox-node-c"}

// nodeAddress returns a node's address of the given type from its status.
func nodeAddress(t *testing.T, node string, typ corev1.NodeAddressType) string {
	t.Helper()
	n, err := client.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range n.Status.Addresses {
		if a.Type == typ {
			return a.Address
		}
	}
	t.Fatalf("node %s has no %s address: %+v", node, typ, n.Status.Addresses)
	return ""
}

// redisService exposes the redis pod app on 6379 with a Service of type typ
// and returns it once the API has allocated its nodePort.
func redisService(t *testing.T, ns, name, app string, typ corev1.ServiceType) *corev1.Service {
	t.Helper()
	svc, err := client.CoreV1().Services(ns).Create(context.Background(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type:     typ,
			Selector: map[string]string{"app": app},
			Ports:    []corev1.ServicePort{{Name: "redis", Port: 6379, TargetPort: intstr.FromInt32(6379)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Ports[0].NodePort == 0 {
		t.Fatalf("service %s/%s: no nodePort allocated", ns, name)
	}
	return svc
}

// respPing sends PING over a plain TCP connection and expects +PONG.
func respPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return fmt.Errorf("%s: %w", addr, err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: read reply: %w", addr, err)
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("%s: reply %q, want +PONG", addr, line)
	}
	return nil
}

// podRedisCLI runs redis-cli in a pod's redis container and returns its
// trimmed output.
func podRedisCLI(ns, pod string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := runCmd(ctx, binDir+"/kubectl", append([]string{"--kubeconfig", kubeconfig, "-n", ns, "exec", pod, "-c", "redis", "--",
		"timeout", "5", "redis-cli"}, args...)...)
	return strings.TrimSpace(out), err
}

func wantPong(addr string) func() error {
	return func() error { return respPing(addr) }
}

func wantPodPong(ns, pod, host string, port int32) func() error {
	return func() error {
		out, err := podRedisCLI(ns, pod, "-h", host, "-p", strconv.Itoa(int(port)), "ping")
		if err != nil || out != "PONG" {
			return fmt.Errorf("from pod %s to %s:%d: %q %v", pod, host, port, out, err)
		}
		return nil
	}
}

// TestNodePortService: a NodePort Service answers on every node's
// ExternalIP and InternalIP, from the host and from another pod, and keeps
// answering on the same nodePort after its pod comes back with a new IP.
func TestNodePortService(t *testing.T) {
	ns := namespace(t, "nodeport")
	createPod(t, ns, redisPod("server", "sandbox-node-a"))
	createPod(t, ns, redisPod("client", "sandbox-node-b"))
	server := waitPodReady(t, ns, "server", time.Minute)
	waitPodReady(t, ns, "client", time.Minute)
	svc := redisService(t, ns, "server", "server", corev1.ServiceTypeNodePort)
	nodePort := svc.Spec.Ports[0].NodePort

	for _, node := range sandboxNodes {
		ext := nodeAddress(t, node, corev1.NodeExternalIP)
		if a, err := netip.ParseAddr(ext); err != nil || !a.Is4() {
			t.Fatalf("node %s ExternalIP %q: %v", node, ext, err)
		}
		for _, host := range []string{ext, nodeAddress(t, node, corev1.NodeInternalIP)} {
			addr := net.JoinHostPort(host, strconv.Itoa(int(nodePort)))
			eventually(t, 15*time.Second, "PING from the host to "+node+" at "+addr, wantPong(addr))
		}
	}
	// From a pod on another node, through a third node's ExternalIP: the
	// path Redis nodes announcing node addresses take to each other.
	extC := nodeAddress(t, "sandbox-node-c", corev1.NodeExternalIP)
	eventually(t, 15*time.Second, "PING from pod client via sandbox-node-c", wantPodPong(ns, "client", extC, nodePort))
	// A write through one node is read back through another: one backend.
	if out, err := podRedisCLI(ns, "client", "-h", extC, "-p", strconv.Itoa(int(nodePort)), "set", "k", "v1"); err != nil || out != "OK" {
		t.Fatalf("SET via %s: %q %v", extC, out, err)
	}
	extA := nodeAddress(t, "sandbox-node-a", corev1.NodeExternalIP)
	if out, err := podRedisCLI(ns, "client", "-h", extA, "-p", strconv.Itoa(int(nodePort)), "get", "k"); err != nil || out != "v1" {
		t.Fatalf("GET via %s: %q %v, want v1", extA, out, err)
	}

	// The pod goes and comes back elsewhere with a new IP; the same
	// nodePort reaches it once its EndpointSlice follows.
	if err := client.CoreV1().Pods(ns).Delete(context.Background(), "server", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "old server pod gone", func() error {
		if _, err := client.CoreV1().Pods(ns).Get(context.Background(), "server", metav1.GetOptions{}); err == nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
	createPod(t, ns, redisPod("server", "sandbox-node-c"))
	again := waitPodReady(t, ns, "server", time.Minute)
	if again.Status.PodIP == server.Status.PodIP {
		t.Fatalf("recreated pod has the same IP %s; the test needs a new one", again.Status.PodIP)
	}
	addr := net.JoinHostPort(extA, strconv.Itoa(int(nodePort)))
	eventually(t, 15*time.Second, "PING via "+addr+" reaches the new pod", wantPong(addr))
	// The new pod is empty: the key written to the old one is gone.
	if out, err := podRedisCLI(ns, "client", "-h", extA, "-p", strconv.Itoa(int(nodePort)), "exists", "k"); err != nil || out != "0" {
		t.Fatalf("EXISTS k via %s: %q %v, want 0 from the new pod", extA, out, err)
	}
	// Node addresses and pod IPs never collide: pod IPAM keeps them out.
	for _, node := range sandboxNodes {
		if ext := nodeAddress(t, node, corev1.NodeExternalIP); ext == again.Status.PodIP || ext == server.Status.PodIP {
			t.Errorf("node %s ExternalIP %s is a pod IP", node, ext)
		}
	}
}

// TestLoadBalancerService: a LoadBalancer Service gets an address in its
// status, answers there on its port from the host and from pods, on its
// nodePort too, and the address goes when the Service does.
func TestLoadBalancerService(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "loadbalancer")
	createPod(t, ns, redisPod("server", "sandbox-node-b"))
	createPod(t, ns, redisPod("client", "sandbox-node-c"))
	waitPodReady(t, ns, "server", time.Minute)
	waitPodReady(t, ns, "client", time.Minute)
	svc := redisService(t, ns, "server", "server", corev1.ServiceTypeLoadBalancer)

	var lbIP string
	eventually(t, 15*time.Second, "LoadBalancer ingress IP in the Service status", func() error {
		s, err := client.CoreV1().Services(ns).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if ing := s.Status.LoadBalancer.Ingress; len(ing) != 1 || ing[0].IP == "" {
			return fmt.Errorf("ingress %+v", ing)
		}
		lbIP = s.Status.LoadBalancer.Ingress[0].IP
		return nil
	})
	bridge := sandboxBridge(t)
	if !bridgeHas(t, bridge, lbIP) {
		t.Fatalf("LoadBalancer IP %s is not on the sandbox bridge %s", lbIP, bridge)
	}
	lbAddr := net.JoinHostPort(lbIP, "6379")
	eventually(t, 15*time.Second, "PING from the host to "+lbAddr, wantPong(lbAddr))
	eventually(t, 15*time.Second, "PING from a pod to "+lbAddr, wantPodPong(ns, "client", lbIP, 6379))
	nodePortAddr := net.JoinHostPort(nodeAddress(t, "sandbox-node-a", corev1.NodeExternalIP), strconv.Itoa(int(svc.Spec.Ports[0].NodePort)))
	eventually(t, 15*time.Second, "PING via the LoadBalancer Service's nodePort", wantPong(nodePortAddr))

	if err := client.CoreV1().Services(ns).Delete(ctx, svc.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "LoadBalancer IP removed from the bridge", func() error {
		if bridgeHas(t, bridge, lbIP) {
			return fmt.Errorf("%s still on %s", lbIP, bridge)
		}
		return nil
	})
	if err := respPing(lbAddr); err == nil {
		t.Errorf("%s answers after the Service is deleted", lbAddr)
	}
	if err := respPing(nodePortAddr); err == nil {
		t.Errorf("%s answers after the Service is deleted", nodePortAddr)
	}
}

// sandboxBridge reads the bridge's name from `sandbox status --json`.
func sandboxBridge(t *testing.T) string {
	t.Helper()
	var st struct {
		Bridge string `json:"bridge"`
	}
	if err := json.Unmarshal([]byte(sandbox(t, "status", "--json")), &st); err != nil || st.Bridge == "" {
		t.Fatalf("sandbox status --json: bridge %q, %v", st.Bridge, err)
	}
	return st.Bridge
}

// bridgeHas asks iproute2, not the sandbox, whether addr is on the bridge.
func bridgeHas(t *testing.T, bridge, addr string) bool {
	t.Helper()
	out, err := exec.Command("ip", "-j", "-4", "addr", "show", "dev", bridge).Output()
	if err != nil {
		t.Fatalf("ip addr show dev %s: %v", bridge, err)
	}
	var links []struct {
		AddrInfo []struct {
			Local string `json:"local"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Local == addr {
				return true
			}
		}
	}
	return false
}
