package daemon_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/internal/giteatest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
)

// statusOf reads the cluster's status report from the repo's main branch.
func statusOf(t testing.TB, srv *giteatest.Server, repo giteatest.Repo, ns, name string) (report.Report, bool) {
	t.Helper()
	text, ok := srv.GetFile(t, repo, "main", "status/"+ns+"/"+name+".yaml")
	if !ok {
		return report.Report{}, false
	}
	r, err := report.Parse([]byte(text))
	if err != nil {
		t.Fatalf("status report does not parse: %v\n%s", err, text)
	}
	return r, true
}

// waitStatus waits until the committed report satisfies ok.
func waitStatus(t testing.TB, srv *giteatest.Server, repo giteatest.Repo, ns, name string, timeout time.Duration, what string, ok func(report.Report) error) report.Report {
	t.Helper()
	var got report.Report
	sandboxtest.Eventually(t, timeout, what, func() error {
		r, found := statusOf(t, srv, repo, ns, name)
		if !found {
			return fmt.Errorf("no status/%s/%s.yaml on main yet", ns, name)
		}
		got = r
		return ok(r)
	})
	return got
}

func ready(r report.Report) error {
	if c := r.Condition(report.Ready); c.Status != report.True {
		return fmt.Errorf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
	}
	return nil
}

func commitsBy(commits []giteatest.Commit, email string) int {
	n := 0
	for _, c := range commits {
		if c.AuthorEmail == email {
			n++
		}
	}
	return n
}

// TestGitOpsLoop is the product's main path, on the sandbox and a real Gitea:
// a push makes the cluster exist and converge and a status commit appear;
// a forged webhook changes nothing; an edit is applied on the next push; a
// scheduled scan with nothing to change writes nothing anywhere; hand-made
// drift is undone (drift: correct) or only reported (drift: report); and
// another writer pushing during the daemon's pushes loses nothing.
func TestGitOpsLoop(t *testing.T) {
	srv := giteatest.Shared(t)
	ns := sandboxtest.Namespace(t, "gitops")
	repo := srv.CreateRepo(t, "loop-"+ns)
	d := startDaemon(t, "daemon-a", repo, ns)
	hookURL := "http://" + d.addr + "/hooks/gitea"

	const schedule = "  reconcile:\n    schedule: \"@every 10s\"\n"
	spec := clusterSpec(ns, "cache", 3, 1, "", schedule)

	t.Run("a webhook with a bad signature is refused and triggers nothing", func(t *testing.T) {
		srv.PutFile(t, repo, "main", "clusters/cache.yaml", spec, "add cache")
		body := []byte(`{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}`)
		for _, sig := range []string{"", "deadbeef", sign([]byte("wrong secret"), body)} {
			req, _ := http.NewRequest(http.MethodPost, hookURL, bytes.NewReader(body))
			req.Header.Set("X-Gitea-Event", "push")
			if sig != "" {
				req.Header.Set("X-Gitea-Signature", sig)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("signature %q: %s, want 401", sig, resp.Status)
			}
		}
		time.Sleep(3 * time.Second)
		if _, err := sandboxtest.Client(t).AppsV1().StatefulSets(ns).Get(context.Background(), "cache", metav1.GetOptions{}); err == nil {
			t.Fatal("a forged webhook made the daemon apply the spec")
		}
		if got := d.metric("redis_gitops_webhook_requests_total", `code="401",provider="gitea"`); got != 3 {
			t.Errorf("webhook 401 count = %v, want 3", got)
		}
	})

	var pushed time.Time
	t.Run("a push makes the cluster exist, converge, and report in Git", func(t *testing.T) {
		srv.AddWebhook(t, repo, hookURL, webhookSecret)
		pushed = time.Now()
		srv.PutFile(t, repo, "main", "README.md", "clusters live in clusters/\n", "readme")
		sandboxtest.Eventually(t, 3*time.Minute, "cluster_state:ok on every pod", func() error { return clusterStateOK(t, ns, "cache", 6) })
		t.Logf("push to cluster_state:ok: %.1fs", time.Since(pushed).Seconds())
		r := waitStatus(t, srv, repo, ns, "cache", 2*time.Minute, "a Ready report committed", ready)
		checkCluster(t, ns, "cache", 3, 1)
		if len(r.Topology.Masters) != 3 {
			t.Errorf("report lists %d masters, want 3", len(r.Topology.Masters))
		}
		md, ok := srv.GetFile(t, repo, "main", "status/"+ns+"/cache.md")
		if !ok || !strings.HasPrefix(md, "✅ ready") {
			t.Errorf("status .md does not start with the verdict:\n%s", md)
		}
		if n := commitsBy(srv.Commits(t, repo, "main"), "bot@redis-gitops.test"); n == 0 {
			t.Error("no commit by the daemon's author")
		}
	})

	t.Run("with nothing changed, scheduled scans write nothing anywhere", func(t *testing.T) {
		before := d.writes()
		commits := len(srv.Commits(t, repo, "main"))
		scans := d.metric("redis_gitops_reconciles_total", `cluster="`+ns+`/cache",result="ready"`)
		sandboxtest.Eventually(t, time.Minute, "two more scheduled scans", func() error {
			if got := d.metric("redis_gitops_reconciles_total", `cluster="`+ns+`/cache",result="ready"`); got < scans+2 {
				return fmt.Errorf("%v scans, want %v", got, scans+2)
			}
			return nil
		})
		if after := d.writes(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("writes during scans with nothing to change: before %v, after %v", before, after)
		}
		if got := len(srv.Commits(t, repo, "main")); got != commits {
			t.Errorf("%d new commits during scans with nothing to change", got-commits)
		}
	})

	t.Run("a redis.conf edit is applied on the next push, while someone else pushes", func(t *testing.T) {
		// Another writer commits to the branch over and over while the
		// daemon pushes its reports; none of its commits may be lost.
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var theirs []string
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(400 * time.Millisecond):
				}
				p := fmt.Sprintf("notes/%03d.txt", i)
				srv.PutFile(t, repo, "main", p, fmt.Sprintf("note %d\n", i), "note "+p)
				theirs = append(theirs, p)
			}
		}()
		stopWriter := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer stopWriter()
		edited := clusterSpec(ns, "cache", 3, 1, "    config:\n      maxmemory-policy: allkeys-lru\n", schedule)
		rev := srv.PutFile(t, repo, "main", "clusters/cache.yaml", edited, "allkeys-lru")
		sandboxtest.Eventually(t, time.Minute, "the ConfigMap says allkeys-lru", func() error {
			cm, err := sandboxtest.Client(t).CoreV1().ConfigMaps(ns).Get(context.Background(), render.ConfigMapName("cache"), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !strings.Contains(fmt.Sprint(cm.Data), "maxmemory-policy allkeys-lru") {
				return fmt.Errorf("configmap: %v", cm.Data)
			}
			return nil
		})
		// The report's revision is the head at which the daemon saw the
		// specs change: this commit, or (when the other writer's commits
		// landed before the daemon fetched) a later one with the same spec.
		waitStatus(t, srv, repo, ns, "cache", time.Minute, "a report of the new revision", func(r report.Report) error {
			if r.ObservedRevision == rev {
				return nil
			}
			if got, ok := srv.GetFile(t, repo, r.ObservedRevision, "clusters/cache.yaml"); !ok || got != edited {
				return fmt.Errorf("observed revision %s has not the edit of %s", r.ObservedRevision, rev)
			}
			return nil
		})
		time.Sleep(4 * time.Second) // a few more daemon pushes during the storm
		stopWriter()
		for _, p := range theirs {
			if _, ok := srv.GetFile(t, repo, "main", p); !ok {
				t.Errorf("%s, committed by someone else, is gone from main", p)
			}
		}
		if _, ok := statusOf(t, srv, repo, ns, "cache"); !ok {
			t.Error("the status report is gone from main")
		}
		t.Logf("%d foreign commits during the daemon's pushes, none lost", len(theirs))
	})

	t.Run("a StatefulSet field edited by hand is drift, undone with drift: correct", func(t *testing.T) {
		// Earlier steps made degraded commits too: only a new one counts.
		earlier := map[string]bool{}
		for _, c := range srv.Commits(t, repo, "main") {
			earlier[c.SHA] = true
		}
		sandboxtest.Kubectl(t, nil, "-n", ns, "patch", "statefulset", "cache", "--type", "merge", "-p", `{"spec":{"template":{"spec":{"terminationGracePeriodSeconds":7}}}}`)
		sandboxtest.Eventually(t, time.Minute, "the edit undone", func() error {
			sts, err := sandboxtest.Client(t).AppsV1().StatefulSets(ns).Get(context.Background(), "cache", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if g := sts.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil && *g == 7 {
				return fmt.Errorf("terminationGracePeriodSeconds still 7")
			}
			return nil
		})
		sandboxtest.Eventually(t, 30*time.Second, "a commit reporting the drift", func() error {
			for _, c := range srv.Commits(t, repo, "main") {
				if !earlier[c.SHA] && c.AuthorEmail == "bot@redis-gitops.test" && strings.Contains(c.Message, "degraded") {
					return nil
				}
			}
			return fmt.Errorf("no degraded status commit since the edit")
		})
	})

	t.Run("a replica moved by hand comes back with drift: correct", func(t *testing.T) {
		before := d.writes()
		moveReplicaOntoItsMastersNode(t, ns, "cache")
		// The report on main was Ready before the move: waiting for Ready
		// alone could end at once. The daemon must have written to Redis
		// since (its CLUSTER REPLICATE), and the cluster must show it.
		sandboxtest.Eventually(t, time.Minute, "placement restored", func() error {
			if d.writes()["redis"] == before["redis"] {
				return errors.New("no Redis write by the daemon since the move")
			}
			if err := placementError(t, ns, "cache", 3, 1); err != nil {
				return err
			}
			r, _ := statusOf(t, srv, repo, ns, "cache")
			return ready(r)
		})
		checkCluster(t, ns, "cache", 3, 1)
	})

	t.Run("with drift: report the same edit is only reported", func(t *testing.T) {
		reportOnly := strings.Replace(clusterSpec(ns, "cache", 3, 1, "", schedule), "    schedule:", "    drift: report\n    schedule:", 1)
		srv.PutFile(t, repo, "main", "clusters/cache.yaml", reportOnly, "drift: report")
		waitStatus(t, srv, repo, ns, "cache", time.Minute, "mode report", func(r report.Report) error {
			if r.Mode != report.ModeReport {
				return fmt.Errorf("mode %s", r.Mode)
			}
			return nil
		})
		before := d.writes()
		sandboxtest.Kubectl(t, nil, "-n", ns, "patch", "statefulset", "cache", "--type", "merge", "-p", `{"spec":{"template":{"spec":{"terminationGracePeriodSeconds":9}}}}`)
		r := waitStatus(t, srv, repo, ns, "cache", time.Minute, "the drift in the report", func(r report.Report) error {
			for _, d := range r.Drift {
				if strings.Contains(d.Path, "terminationGracePeriodSeconds") {
					return nil
				}
			}
			return fmt.Errorf("drift %v", r.Drift)
		})
		t.Logf("reported: %+v", r.Drift)
		time.Sleep(12 * time.Second) // at least one more scheduled scan
		sts, err := sandboxtest.Client(t).AppsV1().StatefulSets(ns).Get(context.Background(), "cache", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if g := sts.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 9 {
			t.Errorf("drift: report changed the StatefulSet: terminationGracePeriodSeconds = %v", g)
		}
		after := d.writes()
		if after["kubernetes"] != before["kubernetes"] || after["redis"] != before["redis"] {
			t.Errorf("drift: report wrote to Kubernetes or Redis: before %v, after %v", before, after)
		}
	})
}

func sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// TestLeaderElection: two daemons on one repo, one Lease: only the leader
// acts; killed, the follower takes over and acts.
func TestLeaderElection(t *testing.T) {
	srv := giteatest.Shared(t)
	ns := sandboxtest.Namespace(t, "leader")
	repo := srv.CreateRepo(t, "leader-"+ns)
	srv.PutFile(t, repo, "main", "clusters/small.yaml", clusterSpec(ns, "small", 3, 0, "", ""), "add small")
	a := startDaemon(t, "daemon-a", repo, ns, "--interval", "2s")
	b := startDaemon(t, "daemon-b", repo, ns, "--interval", "2s")
	leader, follower := a, b
	sandboxtest.Eventually(t, 30*time.Second, "one leader", func() error {
		la, lb := a.metric("redis_gitops_leader", ""), b.metric("redis_gitops_leader", "")
		switch {
		case la+lb != 1:
			return fmt.Errorf("leaders: a=%v b=%v", la, lb)
		case lb == 1:
			leader, follower = b, a
		}
		return nil
	})
	waitStatus(t, srv, repo, ns, "small", 2*time.Minute, "the leader's report", ready)
	lease, err := sandboxtest.Client(t).CoordinationV1().Leases(ns).Get(context.Background(), "redis-gitops", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h == nil || *h != leader.identity {
		t.Errorf("Lease holder %v, want %s", h, leader.identity)
	}
	if w := follower.writes(); w["kubernetes"]+w["redis"]+w["git"] != 0 {
		t.Errorf("the follower wrote: %v", w)
	}
	if strings.Contains(follower.logs(), `"msg":"reconciled"`) {
		t.Error("the follower reconciled")
	}

	leader.stop(syscall.SIGKILL)
	killed := time.Now()
	sandboxtest.Eventually(t, 30*time.Second, "the follower leads", func() error {
		if follower.metric("redis_gitops_leader", "") != 1 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	t.Logf("takeover %.1fs after the leader was killed", time.Since(killed).Seconds())
	srv.PutFile(t, repo, "main", "clusters/small.yaml", clusterSpec(ns, "small", 3, 0, "    config:\n      maxmemory-policy: allkeys-lfu\n", ""), "lfu")
	sandboxtest.Eventually(t, time.Minute, "the new leader applies the next push", func() error {
		cm, err := sandboxtest.Client(t).CoreV1().ConfigMaps(ns).Get(context.Background(), render.ConfigMapName("small"), metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !strings.Contains(fmt.Sprint(cm.Data), "allkeys-lfu") {
			return fmt.Errorf("not applied")
		}
		return nil
	})

	// SIGTERM: the daemon finishes, releases the Lease (a successor need
	// not wait for it to expire) and exits 0.
	follower.stop(syscall.SIGTERM)
	if code := follower.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGTERM: %d, want 0", code)
	}
	lease, err = sandboxtest.Client(t).CoordinationV1().Leases(ns).Get(context.Background(), "redis-gitops", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("Lease still held by %q after SIGTERM", *h)
	}
	if !strings.Contains(follower.logs(), `"msg":"stopped"`) {
		t.Error("no clean stop in the log")
	}
}
