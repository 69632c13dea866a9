package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/internal/giteatest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

func TestMain(m *testing.M) {
	os.Exit(giteatest.Main(func() int { return sandboxtest.Main(m) }))
}

const webhookSecret = "s3cret-for-tests"

// daemonProc is a `redis-gitops daemon` process, as a user runs it.
type daemonProc struct {
	t        testing.TB
	name     string
	cmd      *exec.Cmd
	addr     string
	mu       sync.Mutex
	log      bytes.Buffer
	exited   chan struct{}
	identity string
}

// startDaemon runs bin/redis-gitops daemon against repo, with a short
// Lease so that takeover tests stay short. extra flags go last (they win).
func startDaemon(t testing.TB, name string, repo giteatest.Repo, leaseNS string, extra ...string) *daemonProc {
	t.Helper()
	dir := t.TempDir()
	write := func(file, content string) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d := &daemonProc{t: t, name: name, addr: addr, exited: make(chan struct{}), identity: name}
	args := []string{"daemon",
		"--repo", repo.CloneURL, "--branch", "main",
		"--state-dir", filepath.Join(dir, "state"),
		"--listen", addr,
		"--webhook-secret-file", write("webhook-secret", webhookSecret+"\n"),
		"--git-username-file", write("git-user", repo.Username),
		"--git-password-file", write("git-password", repo.Password),
		"--kubeconfig", sandboxtest.Kubeconfig(),
		"--lease-namespace", leaseNS, "--lease-name", "redis-gitops", "--identity", name,
		// Production-like Lease timings (a third of the defaults): a loaded
		// machine's API server can take seconds to answer, and a leader that
		// cannot renew stops, as it must; 4 s made the tests lose it.
		"--lease-duration", "15s", "--renew-deadline", "10s", "--retry-period", "2s",
		"--interval", "0", "--log-format", "json",
		"--author-name", "redis-gitops", "--author-email", "bot@redis-gitops.test",
	}
	args = append(args, extra...)
	d.cmd = exec.Command(sandboxtest.Bin("redis-gitops"), args...)
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	d.cmd.Stdout, d.cmd.Stderr = pw, pw
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			d.mu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
		}
	}()
	go func() { _ = d.cmd.Wait(); pw.Close(); close(d.exited) }()
	t.Cleanup(func() {
		d.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("%s log:\n%s", d.name, d.logs())
		}
	})
	sandboxtest.Eventually(t, 30*time.Second, name+" answers /healthz", func() error {
		_, err := d.get("/healthz")
		return err
	})
	return d
}

func (d *daemonProc) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

func (d *daemonProc) stop(sig syscall.Signal) {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(sig)
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

func (d *daemonProc) get(path string) (string, error) {
	resp, err := http.Get("http://" + d.addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("%s: %s", path, resp.Status)
	}
	return string(b), err
}

// metric reads one sample from /metrics; 0 when absent.
func (d *daemonProc) metric(name string, labels string) float64 {
	d.t.Helper()
	body, err := d.get("/metrics")
	if err != nil {
		d.t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\{` + regexp.QuoteMeta(labels) + `\} (\S+)$`)
	if labels == "" {
		re = regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`)
	}
	m := re.FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		d.t.Fatal(err)
	}
	return v
}

// writes is the daemon's count of write calls to each target.
func (d *daemonProc) writes() map[string]float64 {
	out := map[string]float64{}
	for _, target := range []string{"kubernetes", "redis", "git"} {
		out[target] = d.metric("redis_gitops_writes_total", `target="`+target+`"`)
	}
	return out
}

// clusterSpec is a RedisCluster YAML in ns; redisExtra goes under
// spec.redis, specExtra under spec.
func clusterSpec(ns, name string, masters, replicas int, redisExtra, specExtra string) string {
	return fmt.Sprintf(`apiVersion: redis-gitops.dev/v1alpha1
kind: RedisCluster
metadata:
  name: %s
  namespace: %s
spec:
  masters: %d
  replicasPerMaster: %d
  redis:
    nodeTimeout: 3s
%s%s`, name, ns, masters, replicas, redisExtra, specExtra)
}

// checkCluster asserts what a user would check with redis-cli: all slots
// covered and agreed, masters and replicas as declared, no replica on its
// master's Kubernetes node.
func checkCluster(t testing.TB, ns, name string, masters, replicas int) {
	t.Helper()
	pods := clusterPods(t, ns, name)
	if len(pods) == 0 {
		t.Fatal("no pods")
	}
	first := pods[0]
	out := sandboxtest.Kubectl(t, nil, "-n", ns, "exec", first.Name, "--", "redis-cli", "--cluster", "check", first.Status.PodIP+":6379")
	for _, want := range []string{"[OK] All nodes agree about slots configuration.", "[OK] All 16384 slots covered."} {
		if !strings.Contains(out, want) {
			t.Fatalf("cluster check lacks %q:\n%s", want, out)
		}
	}
	if err := placementError(t, ns, name, masters, replicas); err != nil {
		t.Error(err)
	}
}

// placementError says what differs from the declared roles and placement
// (masters and replicas counted, no replica on its master's Kubernetes
// node) in CLUSTER NODES as the first pod sees it; nil when nothing does.
func placementError(t testing.TB, ns, name string, masters, replicas int) error {
	t.Helper()
	pods := clusterPods(t, ns, name)
	if len(pods) == 0 {
		return errors.New("no pods")
	}
	nodeOf := map[string]string{}
	for _, p := range pods {
		nodeOf[p.Status.PodIP] = p.Spec.NodeName
	}
	text := sandboxtest.Kubectl(t, nil, "-n", ns, "exec", pods[0].Name, "--", "redis-cli", "cluster", "nodes")
	nodes, err := topology.ParseClusterNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]topology.ClusterNode{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	var problems []string
	m, r := 0, 0
	for _, n := range nodes {
		switch {
		case n.Has("master"):
			m++
		case n.Has("slave"):
			r++
			if nodeOf[n.IP] == nodeOf[byID[n.MasterID].IP] {
				problems = append(problems, fmt.Sprintf("replica %s and its master share Kubernetes node %s", n.IP, nodeOf[n.IP]))
			}
		}
	}
	if m != masters || r != masters*replicas {
		problems = append(problems, fmt.Sprintf("roles: %d masters, %d replicas; want %d and %d\n%s", m, r, masters, masters*replicas, text))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func clusterPods(t testing.TB, ns, name string) []corev1.Pod {
	t.Helper()
	list, err := sandboxtest.Client(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: render.ManagedSelector(name)})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// clusterStateOK tells whether every pod of the cluster says cluster_state:ok.
func clusterStateOK(t testing.TB, ns, name string, want int) error {
	pods := clusterPods(t, ns, name)
	if len(pods) < want {
		return fmt.Errorf("%d of %d pods", len(pods), want)
	}
	for _, p := range pods {
		if p.Status.PodIP == "" {
			return fmt.Errorf("%s has no IP", p.Name)
		}
		cmd := exec.Command(sandboxtest.Bin("kubectl"), "--kubeconfig", sandboxtest.Kubeconfig(), "-n", ns, "exec", p.Name, "--", "redis-cli", "cluster", "info")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", p.Name, err, out)
		}
		if !strings.Contains(string(out), "cluster_state:ok") {
			return fmt.Errorf("%s: not cluster_state:ok", p.Name)
		}
	}
	return nil
}

// moveReplicaOntoItsMastersNode makes one replica follow, by hand
// (CLUSTER REPLICATE), the master that runs on its own Kubernetes node: the
// placement drift a person can cause.
func moveReplicaOntoItsMastersNode(t testing.TB, ns, name string) {
	t.Helper()
	pods := clusterPods(t, ns, name)
	nodeOf, podOf := map[string]string{}, map[string]string{}
	for _, p := range pods {
		nodeOf[p.Status.PodIP], podOf[p.Status.PodIP] = p.Spec.NodeName, p.Name
	}
	nodes, err := topology.ParseClusterNodes(sandboxtest.Kubectl(t, nil, "-n", ns, "exec", pods[0].Name, "--", "redis-cli", "cluster", "nodes"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range nodes {
		if !r.Has("slave") {
			continue
		}
		for _, m := range nodes {
			if m.Has("master") && len(m.Slots) > 0 && m.ID != r.MasterID && nodeOf[m.IP] == nodeOf[r.IP] {
				out := sandboxtest.Kubectl(t, nil, "-n", ns, "exec", podOf[r.IP], "--", "redis-cli", "cluster", "replicate", m.ID)
				if !strings.Contains(out, "OK") {
					t.Fatalf("cluster replicate: %s", out)
				}
				t.Logf("moved %s to follow %s, both on %s", podOf[r.IP], podOf[m.IP], nodeOf[r.IP])
				return
			}
		}
	}
	t.Fatal("no replica to move onto its master's node")
}
