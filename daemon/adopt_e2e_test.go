package daemon_test

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/internal/clustertest"
	"github.com/redis-gitops/redis-gitops/internal/giteatest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// TestDaemonAdoptsKilledMidway: the blog's hand-made cluster holds 10,000
// keys; a spec that adopts it is pushed; the daemon is SIGKILLed once the
// takeover has begun (a shard already on a managed pod, old nodes still in
// the cluster); another daemon finishes it. A client writes all along.
func TestDaemonAdoptsKilledMidway(t *testing.T) {
	srv := giteatest.Shared(t)
	ns := sandboxtest.Namespace(t, "adopt")
	repo := srv.CreateRepo(t, "adopt-"+ns)
	old := sandboxtest.NewBlog(t, ns, "")
	seed := old.Client()
	clustertest.Fill(t, seed, 10000)
	seed.Close()
	w := clustertest.StartWriter(old.Client(), 2000)

	// The spec is what `redis-gitops adopt` writes, pushed as it is.
	out, err := exec.Command(sandboxtest.Bin("redis-gitops"), "adopt", "--from", "pod/redis-cluster-0", "--namespace", ns, "--kubeconfig", sandboxtest.Kubeconfig()).Output()
	if err != nil {
		t.Fatalf("redis-gitops adopt: %v", err)
	}
	const name = "redis-cluster-gitops"
	if !strings.Contains(string(out), "name: "+name) || !strings.Contains(string(out), "statefulSet: "+sandboxtest.BlogStatefulSet) {
		t.Fatalf("redis-gitops adopt wrote:\n%s", out)
	}
	srv.PutFile(t, repo, "main", "clusters/"+name+".yaml", string(out), "adopt the blog's cluster")
	first := startDaemon(t, "daemon-first", repo, ns, "--interval", "1s")
	// Killed once the takeover has begun: a managed pod follows an old
	// master or serves a shard of its own.
	oldIP := map[string]bool{}
	for _, p := range old.Pods {
		oldIP[p.Status.PodIP] = true
	}
	sandboxtest.Eventually(t, 3*time.Minute, "the takeover begun", func() error {
		nodes, err := topology.ParseClusterNodes(old.Exec("redis-cluster-0", "redis-cli", "cluster", "nodes"))
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if !oldIP[n.IP] && (len(n.Slots) > 0 || n.Has("slave")) {
				return nil
			}
		}
		return fmt.Errorf("no managed node follows a master or holds slots yet")
	})
	first.stop(syscall.SIGKILL)
	nodes := strings.TrimSpace(old.Exec("redis-cluster-5", "redis-cli", "cluster", "nodes"))
	if strings.Count(nodes, "\n") == 0 {
		t.Fatal("the takeover finished before the kill: the test proves nothing")
	}
	t.Logf("daemon killed half-way through the takeover; the cluster then:\n%s", nodes)

	start := time.Now()
	startDaemon(t, "daemon-second", repo, ns, "--interval", "1s")
	r := waitStatus(t, srv, repo, ns, name, 5*time.Minute, "adopted and Ready after the restart", func(r report.Report) error {
		if r.Adoption == nil || r.Adoption.State != report.AdoptionAdopted {
			return fmt.Errorf("adoption %+v", r.Adoption)
		}
		return ready(r)
	})
	t.Logf("the second daemon finished the takeover in %.1f s", time.Since(start).Seconds())
	if got := len(r.Adoption.Released); got != 6 {
		t.Errorf("report: %d old pods released, want 6: %+v", got, r.Adoption)
	}
	c := dataClient(t, ns, name)
	defer c.Close()
	w.Finish(t, c)
	w.ReadAllOrAcked(t, c, 10000)
	checkCluster(t, ns, name, 3, 1)
	views := map[string]string{}
	for _, p := range clusterPods(t, ns, name) {
		views[p.Name] = sandboxtest.Kubectl(t, nil, "-n", ns, "exec", p.Name, "--", "redis-cli", "cluster", "nodes")
	}
	old.CheckReleased(views)
	if s := strings.Join(r.Errors, "; "); s != "" {
		t.Errorf("report errors: %s", s)
	}
}
