// Command demo is what `make demo` and `make demo-down` run: a sandbox with
// three nodes, a local Gitea with a repository seeded from examples/, and
// the daemon watching it through a webhook; then it follows the cluster
// forming, with progress lines, until it serves a key, and the status
// report is committed back to Git.
//
//	demo up   [--dir .sandbox] [--bin bin] [--examples examples]
//	demo down [--dir .sandbox] [--bin bin]
//
// It is a development tool, not the product: it starts bin/sandbox,
// bin/gitea and bin/redis-gitops as processes. Everything listens on
// loopback or inside the sandbox's own network.
package main

import (
	"context"
	"crypto/rand"
	stdbase64 "encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"code.gitea.io/sdk/gitea"
	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/redis-gitops/redis-gitops/internal/giteatest"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

const (
	repoName    = "redis-clusters"
	clusterNS   = "default"
	clusterName = "cache"
)

// info is what the background half tells the foreground half.
type info struct {
	GiteaURL, Username, Password, Token string
	Repo, DaemonURL, WebhookSecret      string
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: demo up|down [--dir .sandbox] [--bin bin]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("demo "+os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", ".sandbox", "the sandbox directory")
	bin := fs.String("bin", "bin", "where sandbox, gitea and redis-gitops are")
	examples := fs.String("examples", "examples", "the repository's examples/ (the demo repo is seeded from minimal/)")
	fs.Parse(os.Args[2:])
	d := demo{dir: abs(*dir), bin: abs(*bin), examples: abs(*examples)}
	d.state = filepath.Join(d.dir, "demo")
	var err error
	switch os.Args[1] {
	case "up":
		if err = d.up(); err != nil && !errors.Is(err, errRunning) {
			fmt.Fprintln(os.Stderr, "demo:", err)
			fmt.Fprintln(os.Stderr, "demo: cleaning up")
			d.down()
			os.Exit(1)
		}
	case "down":
		err = d.down()
	case "serve":
		err = d.serve()
	default:
		err = fmt.Errorf("unknown command %q: up or down", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// errRunning: a demo (or a sandbox) already runs there; up leaves it be.
var errRunning = errors.New("a demo already runs")

type demo struct{ dir, bin, examples, state string }

func step(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

func (d demo) running() bool {
	b, err := os.ReadFile(filepath.Join(d.state, "serve.pid"))
	if err != nil {
		return false
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

func (d demo) up() error {
	if d.running() {
		return fmt.Errorf("%w in %s: use it (KUBECONFIG=%s/kubeconfig), or run 'make demo-down' first", errRunning, d.dir, d.dir)
	}
	if err := exec.Command(filepath.Join(d.bin, "sandbox"), "status", "--dir", d.dir).Run(); err == nil {
		return fmt.Errorf("%w: a sandbox runs in %s; run 'make demo-down' first", errRunning, d.dir)
	}
	began := time.Now()
	step("starting the sandbox: a real Kubernetes control plane and 3 nodes")
	up := exec.Command(filepath.Join(d.bin, "sandbox"), "up", "--dir", d.dir, "--nodes", "3")
	up.Stdout, up.Stderr = os.Stdout, os.Stderr
	if err := up.Run(); err != nil {
		return fmt.Errorf("sandbox up: %w", err)
	}
	step("starting Gitea with a repository seeded from examples/minimal, and the daemon watching it")
	if err := os.MkdirAll(d.state, 0o700); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(d.state, "serve.log"))
	if err != nil {
		return err
	}
	serve := exec.Command(self, "serve", "--dir", d.dir, "--bin", d.bin, "--examples", d.examples)
	serve.Stdout, serve.Stderr = logf, logf
	serve.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := serve.Start(); err != nil {
		return err
	}
	logf.Close()
	if err := os.WriteFile(filepath.Join(d.state, "serve.pid"), []byte(strconv.Itoa(serve.Process.Pid)), 0o600); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	var in info
	deadline := time.Now().Add(3 * time.Minute)
	for {
		b, err := os.ReadFile(filepath.Join(d.state, "info.json"))
		if err == nil && json.Unmarshal(b, &in) == nil {
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(d.state, "serve.log"))
			return fmt.Errorf("the Gitea and daemon half stopped (%v):\n%s", err, log)
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Gitea and the daemon not up after 3 minutes; see %s/serve.log", d.state)
		}
	}
	go func() { <-exited }() // it runs on after this process exits
	fmt.Printf("    Gitea:  %s/%s/%s (user %s, password %s)\n", in.GiteaURL, in.Username, repoName, in.Username, in.Password)
	fmt.Printf("    daemon: %s (log: %s/daemon.log)\n", in.DaemonURL, d.state)

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if err := d.follow(ctx, in); err != nil {
		return err
	}
	// make demo does not build kubectl, to be up sooner; make build does.
	kubectl, kubectlNote := filepath.Join(d.bin, "kubectl"), ""
	if _, err := os.Stat(kubectl); err != nil {
		kubectl, kubectlNote = "kubectl", "\n    (your own kubectl, or 'make kubectl' builds bin/kubectl)"
	}
	clone := strings.Replace(in.GiteaURL, "http://", "http://"+in.Username+":"+in.Password+"@", 1) + "/" + in.Username + "/" + repoName + ".git"
	fmt.Printf(`
Done in %s. Try next:
  - scale out: git clone %s /tmp/redis-clusters
    edit masters: 3 -> 4 in clusters/cache.yaml, commit and push; watch status/default/cache.md
  - open a pull request that changes a cluster: the daemon comments its plan on it
  - lose a machine: %s/sandbox node kill sandbox-node-a --dir %s
    (the replicas take over; the daemon restores placement once the node is back: node start)
  - look: KUBECONFIG=%s/kubeconfig %s get pods -o wide%s
Stop: make demo-down (leaves nothing behind).
`, time.Since(began).Round(time.Second), clone, d.bin, d.dir, d.dir, kubectl, kubectlNote)
	return nil
}

// follow prints the cluster coming up: pods per node, the cluster
// forming, placement, a key written and read back, the status commit.
func (d demo) follow(ctx context.Context, in info) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(d.dir, "kubeconfig"))
	if err != nil {
		return err
	}
	k8s, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	step("waiting for the daemon to apply the spec and the pods to run")
	last := ""
	var pods []corev1.Pod
	for {
		list, err := k8s.CoreV1().Pods(clusterNS).List(ctx, metav1.ListOptions{LabelSelector: render.ManagedSelector(clusterName)})
		if err == nil {
			pods = list.Items
			running := 0
			byNode := map[string][]string{}
			for _, p := range pods {
				if p.Status.Phase == corev1.PodRunning {
					running++
				}
				byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], p.Name)
			}
			line := fmt.Sprintf("pods running: %d/6%s", running, nodeList(byNode))
			if line != last {
				fmt.Println("    " + line)
				last = line
			}
			if running == 6 {
				break
			}
		}
		if err := sleep(ctx, time.Second); err != nil {
			return fmt.Errorf("pods not running: %w", err)
		}
	}
	step("waiting for the Redis Cluster to form (the daemon meets the nodes, assigns slots, places replicas)")
	var addrs []string
	ipOf := map[string]string{}
	for _, p := range pods {
		addrs = append(addrs, net.JoinHostPort(p.Status.PodIP, strconv.Itoa(render.ClientPort)))
		ipOf[p.Status.PodIP] = p.Name
	}
	node := redis.NewClient(&redis.Options{Addr: addrs[0]})
	defer node.Close()
	last = ""
	for {
		inf, err := node.ClusterInfo(ctx).Result()
		line := "cluster_state: (no answer yet)"
		if err == nil {
			line = field(inf, "cluster_state") + ", slots assigned " + field(inf, "cluster_slots_assigned") + "/16384, nodes known " + field(inf, "cluster_known_nodes")
		}
		if line != last {
			fmt.Println("    " + line)
			last = line
		}
		if err == nil && field(inf, "cluster_state") == "ok" && field(inf, "cluster_known_nodes") == "6" && formed(ctx, addrs, field(inf, "cluster_size")) {
			break
		}
		if err := sleep(ctx, time.Second); err != nil {
			return fmt.Errorf("the cluster did not form: %w", err)
		}
	}
	text, err := node.ClusterNodes(ctx).Result()
	if err != nil {
		return err
	}
	nodes, err := topology.ParseClusterNodes(text)
	if err != nil {
		return err
	}
	step("placement: no master shares a Kubernetes node with its replica")
	k8sNode := map[string]string{}
	for _, p := range pods {
		k8sNode[p.Name] = p.Spec.NodeName
	}
	byID := map[string]topology.ClusterNode{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	var lines []string
	for _, n := range nodes {
		pod := ipOf[n.IP]
		role := "master, slots " + slotText(n.Slots)
		if n.Has("slave") {
			role = "replica of " + ipOf[byID[n.MasterID].IP] + " (on " + k8sNode[ipOf[byID[n.MasterID].IP]] + ")"
		}
		lines = append(lines, fmt.Sprintf("    %-15s %-8s %s", k8sNode[pod], pod, role))
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	step("cluster info on %s: cluster_state:ok; a key written and read back through a cluster client", ipOf[strings.Split(addrs[0], ":")[0]])
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	if err := c.Set(ctx, "hello", "world", 0).Err(); err != nil {
		return fmt.Errorf("set hello: %w", err)
	}
	v, err := c.Get(ctx, "hello").Result()
	if err != nil || v != "world" {
		return fmt.Errorf("get hello: %q, %v", v, err)
	}
	fmt.Println("    SET hello world -> OK; GET hello -> \"world\"")

	step("waiting for the daemon's status report in Git")
	gc, err := gitea.NewClient(in.GiteaURL, gitea.SetToken(in.Token))
	if err != nil {
		return err
	}
	for {
		commits, _, err := gc.ListRepoCommits(in.Username, repoName, gitea.ListCommitOptions{SHA: "main", Path: "status/" + clusterNS + "/" + clusterName + ".md"})
		if err == nil {
			for _, cm := range commits {
				if cm.RepoCommit != nil && strings.Contains(cm.RepoCommit.Message, "ready") {
					fmt.Printf("    %s %s\n", cm.SHA[:12], strings.SplitN(cm.RepoCommit.Message, "\n", 2)[0])
					fmt.Printf("    %s/%s/%s/src/branch/main/status/%s/%s.md\n", in.GiteaURL, in.Username, repoName, clusterNS, clusterName)
					return nil
				}
			}
		}
		if err := sleep(ctx, time.Second); err != nil {
			return fmt.Errorf("no Ready status commit: %w", err)
		}
	}
}

func nodeList(byNode map[string][]string) string {
	var names []string
	for n := range byNode {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		sort.Strings(byNode[n])
		fmt.Fprintf(&b, "; %s: %s", n, strings.Join(byNode[n], " "))
	}
	return b.String()
}

func slotText(rs []topology.SlotRange) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ",")
}

// formed says whether the whole cluster serves: every node says
// cluster_state:ok (one node's ok says nothing of a master still in
// Redis's rejoin delay), and every node not among the size masters that
// serve slots is a replica with its link up.
func formed(ctx context.Context, addrs []string, size string) bool {
	masters, err := strconv.Atoi(size)
	if err != nil || masters == 0 {
		return false
	}
	linked := 0
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		inf, err := c.ClusterInfo(ctx).Result()
		repl, rerr := c.Info(ctx, "replication").Result()
		c.Close()
		if err != nil || rerr != nil || field(inf, "cluster_state") != "ok" {
			return false
		}
		if field(repl, "role") == "slave" && field(repl, "master_link_status") == "up" {
			linked++
		}
	}
	return linked == len(addrs)-masters
}

func field(info, key string) string {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), key+":"); ok {
			return v
		}
	}
	return ""
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// serve is the background half: Gitea and the daemon, until SIGTERM.
func (d demo) serve() error {
	os.Setenv("GITEA_BIN", filepath.Join(d.bin, "gitea"))
	srv, err := giteatest.Run(filepath.Join(d.state, "gitea"))
	if err != nil {
		return fmt.Errorf("gitea: %w", err)
	}
	defer srv.Stop()
	gc, err := gitea.NewClient(srv.URL, gitea.SetToken(srv.Token))
	if err != nil {
		return err
	}
	if _, _, err := gc.CreateRepo(gitea.CreateRepoOption{Name: repoName, AutoInit: true, DefaultBranch: "main",
		Description: "Redis Clusters declared in Git, reconciled by redis-gitops"}); err != nil {
		return fmt.Errorf("create repo: %w", err)
	}
	port, err := giteatest.FreePort()
	if err != nil {
		return err
	}
	in := info{GiteaURL: srv.URL, Username: srv.Username, Password: srv.Password, Token: srv.Token,
		Repo: srv.URL + "/" + srv.Username + "/" + repoName + ".git", DaemonURL: fmt.Sprintf("http://127.0.0.1:%d", port),
		WebhookSecret: randomHex()}
	for name, content := range map[string]string{"token": srv.Token, "webhook-secret": in.WebhookSecret} {
		if err := os.WriteFile(filepath.Join(d.state, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	for _, ev := range [][]string{{"push"}, {"pull_request"}} {
		_, _, err := gc.CreateRepoHook(srv.Username, repoName, gitea.CreateHookOption{Type: gitea.HookTypeGitea, Active: true, Events: ev,
			Config: map[string]string{"url": in.DaemonURL + "/hooks/gitea", "content_type": "json", "secret": in.WebhookSecret}})
		if err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
	}
	daemonLog, err := os.Create(filepath.Join(d.state, "daemon.log"))
	if err != nil {
		return err
	}
	defer daemonLog.Close()
	daemon := exec.Command(filepath.Join(d.bin, "redis-gitops"), "daemon",
		"--repo", in.Repo, "--kubeconfig", filepath.Join(d.dir, "kubeconfig"), "--listen", strings.TrimPrefix(in.DaemonURL, "http://"),
		"--state-dir", filepath.Join(d.state, "daemon"), "--leader-elect=false", "--interval", "1m", "--log-format", "text",
		"--git-username-file", filepath.Join(d.state, "username"), "--git-password-file", filepath.Join(d.state, "token"),
		"--webhook-secret-file", filepath.Join(d.state, "webhook-secret"),
		"--forge", "gitea", "--forge-url", srv.URL, "--forge-repo", srv.Username+"/"+repoName, "--forge-token-file", filepath.Join(d.state, "token"),
		"--author-name", "redis-gitops", "--author-email", "redis-gitops@demo.local")
	if err := os.WriteFile(filepath.Join(d.state, "username"), []byte(srv.Username), 0o600); err != nil {
		return err
	}
	daemon.Stdout, daemon.Stderr = daemonLog, daemonLog
	daemon.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := daemon.Start(); err != nil {
		return err
	}
	daemonDone := make(chan error, 1)
	go func() { daemonDone <- daemon.Wait() }()
	if err := waitHTTP(in.DaemonURL+"/healthz", time.Minute); err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	// The spec goes in once the daemon listens: its push webhook starts the
	// first reconcile (the daemon's first sync would find it too).
	spec, err := os.ReadFile(filepath.Join(d.examples, "minimal", "cluster.yaml"))
	if err != nil {
		return err
	}
	if _, _, err := gc.CreateFile(srv.Username, repoName, "clusters/cache.yaml", gitea.CreateFileOptions{
		FileOptions: gitea.FileOptions{Message: "cache: 3 masters x 1 replica", BranchName: "main"},
		Content:     base64(spec)}); err != nil {
		return fmt.Errorf("seed the repo: %w", err)
	}
	b, _ := json.Marshal(in)
	if err := os.WriteFile(filepath.Join(d.state, "info.json"), b, 0o600); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case err := <-daemonDone:
		return fmt.Errorf("the daemon exited: %v", err)
	}
	daemon.Process.Signal(syscall.SIGTERM)
	select {
	case <-daemonDone:
	case <-time.After(30 * time.Second):
		daemon.Process.Kill()
		<-daemonDone
	}
	return nil
}

func (d demo) down() error {
	b, err := os.ReadFile(filepath.Join(d.state, "serve.pid"))
	if err == nil {
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 && syscall.Kill(pid, syscall.SIGTERM) == nil {
			step("stopping the daemon and Gitea")
			deadline := time.Now().Add(45 * time.Second)
			for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
				time.Sleep(200 * time.Millisecond)
			}
			if syscall.Kill(pid, 0) == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	step("stopping the sandbox")
	down := exec.Command(filepath.Join(d.bin, "sandbox"), "down", "--dir", d.dir)
	down.Stdout, down.Stderr = os.Stdout, os.Stderr
	err = down.Run()
	if rerr := os.RemoveAll(d.state); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

func waitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not answering after %s: %w", url, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func randomHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func base64(b []byte) string { return stdbase64.StdEncoding.EncodeToString(b) }
