package e2e

// Failure injection. These tests run after the walkthrough (files run in
// name order) because killing a node disturbs every pod on it.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// redisPod is a single redis-server pinned to a node.
func redisPod(name, node string) *corev1.Pod {
	zero := int64(1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeSelector:                  map[string]string{corev1.LabelHostname: node},
			TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{
				Name:  "redis",
				Image: "redis:7.0",
				Args:  []string{"--port", "6379", "--save", "", "--appendonly", "no", "--protected-mode", "no"},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"redis-cli", "ping"}}},
					PeriodSeconds: 1,
				},
			}},
		},
	}
}

func createPod(t *testing.T, ns string, pod *corev1.Pod) {
	t.Helper()
	if _, err := client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitPodReady waits for a pod to be Ready and returns it.
func waitPodReady(t *testing.T, ns, name string, timeout time.Duration) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	eventually(t, timeout, ns+"/"+name+" Ready", func() error {
		p, err := client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !podReady(p) || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Running == nil {
			return fmt.Errorf("phase %s, statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
		}
		pod = p
		return nil
	})
	return pod
}

// containerPid reads the process behind a container from its container ID.
func containerPid(t *testing.T, p *corev1.Pod) int {
	t.Helper()
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "sandbox://")
	pid, err := strconv.Atoi(id)
	if err != nil {
		t.Fatalf("container ID %q: %v", p.Status.ContainerStatuses[0].ContainerID, err)
	}
	return pid
}

func processAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && len(data) > 0
}

func nodeReady(name string) (bool, error) {
	n, err := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue, nil
		}
	}
	return false, nil
}

func TestContainerKillRestarts(t *testing.T) {
	ns := namespace(t, "container-kill")
	createPod(t, ns, redisPod("crash", "sandbox-node-a"))
	before := waitPodReady(t, ns, "crash", time.Minute)
	pid := containerPid(t, before)
	sandbox(t, "pod", "kill", ns+"/crash")
	eventually(t, 10*time.Second, "killed process gone", func() error {
		if processAlive(pid) {
			return fmt.Errorf("pid %d still runs", pid)
		}
		return nil
	})
	var after *corev1.Pod
	eventually(t, time.Minute, "container restarted and Ready", func() error {
		p := waitPodReady(t, ns, "crash", time.Minute)
		if cs := p.Status.ContainerStatuses[0]; cs.RestartCount == 0 {
			return fmt.Errorf("restartCount still 0")
		}
		after = p
		return nil
	})
	cs := after.Status.ContainerStatuses[0]
	if cs.RestartCount != 1 {
		t.Errorf("restartCount: got %d, want 1", cs.RestartCount)
	}
	if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 137 {
		t.Errorf("lastState: got %+v, want terminated with exit code 137", cs.LastTerminationState)
	}
	if p := containerPid(t, after); p == pid || !processAlive(p) {
		t.Errorf("restarted container: pid %d (alive %v), want a new live process", p, processAlive(p))
	}
}

func TestPartitionAndHeal(t *testing.T) {
	ns := namespace(t, "partition")
	createPod(t, ns, redisPod("left", "sandbox-node-a"))
	createPod(t, ns, redisPod("right", "sandbox-node-b"))
	waitPodReady(t, ns, "left", time.Minute)
	right := waitPodReady(t, ns, "right", time.Minute)
	ping := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return runCmd(ctx, binDir+"/kubectl", "--kubeconfig", kubeconfig, "-n", ns, "exec", "left", "--",
			"timeout", "3", "redis-cli", "-h", right.Status.PodIP, "ping")
	}
	if out, err := ping(); err != nil || strings.TrimSpace(out) != "PONG" {
		t.Fatalf("before partition: %q %v", out, err)
	}
	// Through a nodePort the service proxy carries the traffic; it must
	// honour the partition too, for pods, while the host still gets in.
	nodePort := redisService(t, ns, "left", "left", corev1.ServiceTypeNodePort).Spec.Ports[0].NodePort
	extB := nodeAddress(t, "sandbox-node-b", corev1.NodeExternalIP)
	viaNodePort := net.JoinHostPort(extB, strconv.Itoa(int(nodePort)))
	eventually(t, 15*time.Second, "right reaches left via "+viaNodePort, wantPodPong(ns, "right", extB, nodePort))
	sandbox(t, "node", "partition", "sandbox-node-a")
	if out, err := ping(); err == nil && strings.Contains(out, "PONG") {
		t.Fatalf("during partition, left reached right: %q", out)
	}
	if err := wantPodPong(ns, "right", extB, nodePort)(); err == nil {
		t.Errorf("during partition, right reached left via %s", viaNodePort)
	}
	if err := respPing(viaNodePort); err != nil {
		t.Errorf("during partition, the host via %s: %v, want PONG", viaNodePort, err)
	}
	// The partitioned node itself stays up: it is the network that is cut.
	if ok, err := nodeReady("sandbox-node-a"); err != nil || !ok {
		t.Errorf("partitioned node Ready: got %v (%v), want true", ok, err)
	}
	sandbox(t, "node", "heal", "sandbox-node-a")
	eventually(t, 10*time.Second, "left reaches right after heal", func() error {
		out, err := ping()
		if err != nil || strings.TrimSpace(out) != "PONG" {
			return fmt.Errorf("%q %v", out, err)
		}
		return nil
	})
	eventually(t, 10*time.Second, "right reaches left via "+viaNodePort+" after heal", wantPodPong(ns, "right", extB, nodePort))
}

func TestNodeKillAndStart(t *testing.T) {
	const node = "sandbox-node-c"
	ns := namespace(t, "node-kill")
	createPod(t, ns, redisPod("victim", node))
	before := waitPodReady(t, ns, "victim", time.Minute)
	pid := containerPid(t, before)
	if !processAlive(pid) {
		t.Fatalf("victim's process %d not found before the kill", pid)
	}
	// The node's addresses serve nodePorts while it runs, refuse while it
	// is off, and serve again once it is back.
	nodePort := strconv.Itoa(int(redisService(t, ns, "victim", "victim", corev1.ServiceTypeNodePort).Spec.Ports[0].NodePort))
	ext := net.JoinHostPort(nodeAddress(t, node, corev1.NodeExternalIP), nodePort)
	internal := net.JoinHostPort(nodeAddress(t, node, corev1.NodeInternalIP), nodePort)
	other := net.JoinHostPort(nodeAddress(t, "sandbox-node-a", corev1.NodeExternalIP), nodePort)
	eventually(t, 15*time.Second, "PING via "+ext, wantPong(ext))

	sandbox(t, "node", "kill", node)
	if processAlive(pid) {
		t.Errorf("after node kill, victim's process %d still runs", pid)
	}
	for _, addr := range []string{ext, internal} {
		if err := respPing(addr); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("killed node's %s: %v, want connection refused", addr, err)
		}
	}
	if c, err := net.DialTimeout("tcp", other, 2*time.Second); err != nil {
		t.Errorf("a running node's %s: %v, want it listening", other, err)
	} else {
		c.Close()
	}
	eventually(t, 90*time.Second, node+" NotReady", func() error {
		if ok, err := nodeReady(node); err != nil || ok {
			return fmt.Errorf("ready=%v err=%v", ok, err)
		}
		return nil
	})

	sandbox(t, "node", "start", node)
	eventually(t, 30*time.Second, node+" Ready again", func() error {
		if ok, err := nodeReady(node); err != nil || !ok {
			return fmt.Errorf("ready=%v err=%v", ok, err)
		}
		return nil
	})
	after := waitPodReady(t, ns, "victim", 90*time.Second)
	if p := containerPid(t, after); p == pid || !processAlive(p) {
		t.Errorf("victim after node start: pid %d (alive %v), want a new live process", p, processAlive(p))
	}
	eventually(t, 15*time.Second, "PING via "+ext+" after node start", wantPong(ext))
}

// TestReadinessPutBack: the node lifecycle controller marks the pods of a
// node whose lease ran out not ready (Ready False, ContainersReady left
// True), which on a loaded machine happens to a live node. The kubelet puts
// its pods' readiness back on its next status sync, as the real kubelet's
// status manager does.
func TestReadinessPutBack(t *testing.T) {
	ns := namespace(t, "ready-back")
	createPod(t, ns, redisPod("steady", "sandbox-node-a"))
	p := waitPodReady(t, ns, "steady", time.Minute)
	for i, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			p.Status.Conditions[i].Status = corev1.ConditionFalse
			p.Status.Conditions[i].Reason = "NodeNotReady"
		}
	}
	marked, err := client.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if podReady(marked) {
		t.Fatal("the pod is still ready after the update that marks it not ready")
	}
	start := time.Now()
	waitPodReady(t, ns, "steady", 30*time.Second)
	t.Logf("readiness put back %.1f s after the pod was marked not ready", time.Since(start).Seconds())
}
