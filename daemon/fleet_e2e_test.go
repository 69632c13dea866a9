package daemon_test

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/internal/giteatest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
)

// TestFleet: two 3×1 clusters in one repo, one daemon with two workers.
// A push that changes one cluster writes nothing to the other; a setting
// pushed for one cluster reaches its nodes while the other rolls to a new
// image, long before that roll ends, and both reports land in Git; with
// both clusters rolling (every worker busy) a webhook is answered at once;
// SIGTERM then lets both passes finish their step and pushes both reports,
// leaving no pod out of the cluster and no slot open.
func TestFleet(t *testing.T) {
	srv := giteatest.Shared(t)
	ns := sandboxtest.Namespace(t, "fleet")
	repo := srv.CreateRepo(t, "fleet-"+ns)
	rolling, tuned := ns+"/rolling", ns+"/tuned"
	srv.PutFile(t, repo, "main", "clusters/rolling.yaml", clusterSpec(ns, "rolling", 3, 1, "", ""), "add rolling")
	srv.PutFile(t, repo, "main", "clusters/tuned.yaml", clusterSpec(ns, "tuned", 3, 1, "", ""), "add tuned")
	d := startDaemon(t, "fleet", repo, ns, "--concurrent", "2")
	hookURL := "http://" + d.addr + "/hooks/gitea"
	srv.AddWebhook(t, repo, hookURL, webhookSecret)
	start := time.Now()
	waitStatus(t, srv, repo, ns, "rolling", 4*time.Minute, "rolling Ready", ready)
	waitStatus(t, srv, repo, ns, "tuned", 2*time.Minute, "tuned Ready", ready)
	t.Logf("both clusters Ready %.1fs after the daemon started", time.Since(start).Seconds())

	lru := "    config:\n      maxmemory-policy: allkeys-lru\n"
	t.Run("a push that changes one cluster writes nothing to the other", func(t *testing.T) {
		before := clusterWrites(d, rolling)
		passes := passesOf(d, rolling)
		tunedBefore := clusterWrites(d, tuned)
		spec := clusterSpec(ns, "tuned", 3, 1, lru, "")
		rev := srv.PutFile(t, repo, "main", "clusters/tuned.yaml", spec, "tuned: allkeys-lru")
		waitStatus(t, srv, repo, ns, "tuned", time.Minute, "tuned's report of "+short(rev), appliedAt(t, srv, repo, rev, "clusters/tuned.yaml", spec))
		if got := clusterWrites(d, rolling); got != before {
			t.Errorf("writes for %s after a push that changed only tuned: %v, before %v", rolling, got, before)
		}
		if got := passesOf(d, rolling); got != passes {
			t.Errorf("%s had %d passes after a push that changed only tuned", rolling, got-passes)
		}
		if got := clusterWrites(d, tuned); got == tunedBefore {
			t.Errorf("no write counted for %s, whose ConfigMap changed: the count proves nothing", tuned)
		}
	})

	t.Run("a setting pushed for one cluster reaches its nodes while the other rolls", func(t *testing.T) {
		rollSpec := clusterSpec(ns, "rolling", 3, 1, "    image: redis:7.0.15\n", "")
		rollRev := srv.PutFile(t, repo, "main", "clusters/rolling.yaml", rollSpec, "rolling: redis:7.0.15")
		rolled := appliedAt(t, srv, repo, rollRev, "clusters/rolling.yaml", rollSpec)
		sandboxtest.Eventually(t, 2*time.Minute, "the roll under way", func() error {
			if n := podsOnImage(t, ns, "rolling", "redis:7.0.15"); n == 0 {
				return fmt.Errorf("no pod restarted yet")
			}
			return nil
		})
		pushed := time.Now()
		setSpec := clusterSpec(ns, "tuned", 3, 1, lru+"      maxmemory: 100mb\n", "")
		setRev := srv.PutFile(t, repo, "main", "clusters/tuned.yaml", setSpec, "tuned: maxmemory 100mb")
		sandboxtest.Eventually(t, time.Minute, "maxmemory on every node of tuned", func() error {
			return configOnAll(t, ns, "tuned", "maxmemory", "104857600")
		})
		reached := time.Since(pushed)
		restarted := podsOnImage(t, ns, "rolling", "redis:7.0.15")
		waitStatus(t, srv, repo, ns, "rolling", 5*time.Minute, "rolling Ready at "+short(rollRev), func(r report.Report) error {
			if err := rolled(r); err != nil {
				return err
			}
			return ready(r)
		})
		rollEnded := time.Since(pushed)
		t.Logf("maxmemory on every node of tuned %.1fs after its push (%d of 6 pods of rolling restarted then); the roll ended %.1fs after it",
			reached.Seconds(), restarted, rollEnded.Seconds())
		if restarted == 6 {
			t.Errorf("the roll had restarted every pod when the setting arrived: it did not run alongside")
		}
		// Relative, not a fixed time: on a loaded machine both stretch, and
		// what proves isolation is that the setting did not wait for the roll.
		if reached > rollEnded/2 {
			t.Errorf("the setting took %s to reach tuned's nodes; the roll ended after %s", reached, rollEnded)
		}
		waitStatus(t, srv, repo, ns, "tuned", time.Minute, "tuned Ready at "+short(setRev), func(r report.Report) error {
			if err := appliedAt(t, srv, repo, setRev, "clusters/tuned.yaml", setSpec)(r); err != nil {
				return err
			}
			return ready(r)
		})
		if r, _ := statusOf(t, srv, repo, ns, "rolling"); rolled(r) != nil || ready(r) != nil {
			t.Errorf("rolling's report in Git: %s %s, want Ready at %s", r.ObservedRevision, r.Verdict(), rollRev)
		}
	})

	t.Run("SIGTERM during two passes: both steps finish, both reports pushed", func(t *testing.T) {
		files := map[string]string{}
		for _, name := range []string{"rolling", "tuned"} {
			extra := "    image: redis:7.0.14\n"
			if name == "tuned" {
				extra += lru + "      maxmemory: 100mb\n"
			}
			files["clusters/"+name+".yaml"] = clusterSpec(ns, name, 3, 1, extra, "")
		}
		rev := srv.PutFiles(t, repo, "main", files, "both: redis:7.0.14")
		sandboxtest.Eventually(t, 2*time.Minute, "both rolls under way, every worker busy", func() error {
			if busy := d.metric("redis_gitops_workers_busy", ""); busy != 2 {
				return fmt.Errorf("%v workers busy", busy)
			}
			for _, name := range []string{"rolling", "tuned"} {
				if podsOnImage(t, ns, name, "redis:7.0.14") == 0 {
					return fmt.Errorf("%s: no pod restarted yet", name)
				}
			}
			return nil
		})
		// Every worker is busy: webhooks and health still answer at once.
		body := []byte(`{"ref":"refs/heads/main","after":"` + rev + `"}`)
		req, _ := http.NewRequest(http.MethodPost, hookURL, bytes.NewReader(body))
		req.Header.Set("X-Gitea-Event", "push")
		req.Header.Set("X-Gitea-Signature", sign([]byte(webhookSecret), body))
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		answered := time.Since(t0)
		if resp.StatusCode/100 != 2 {
			t.Errorf("webhook: %s", resp.Status)
		}
		t0 = time.Now()
		if _, err := d.get("/healthz"); err != nil {
			t.Error(err)
		}
		health := time.Since(t0)
		busy := d.metric("redis_gitops_workers_busy", "")
		t.Logf("with %v of 2 workers busy: webhook answered in %s, /healthz in %s", busy, answered, health)
		if busy != 2 {
			t.Errorf("%v workers busy after the webhook, want 2 (the test did not hold every worker)", busy)
		}
		if answered > time.Second || health > time.Second {
			t.Errorf("webhook answered in %s, /healthz in %s, while every worker was busy; want under 1s", answered, health)
		}

		t0 = time.Now()
		d.stop(syscall.SIGTERM)
		t.Logf("SIGTERM to exit: %.1fs", time.Since(t0).Seconds())
		if code := d.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("exit code after SIGTERM: %d, want 0", code)
		}
		logs := d.logs()
		if !strings.Contains(logs, `"msg":"stopped"`) {
			t.Error("no clean stop in the log")
		}
		for _, name := range []string{"rolling", "tuned"} {
			// The report of the stopped pass was pushed before the exit:
			// nothing runs any more to push it later.
			r, ok := statusOf(t, srv, repo, ns, name)
			if !ok || appliedAt(t, srv, repo, rev, "clusters/"+name+".yaml", files["clusters/"+name+".yaml"])(r) != nil {
				t.Errorf("%s: report in Git at %s (%s), want the stopped pass's at %s", name, r.ObservedRevision, r.Verdict(), rev)
			}
			// The step under way finished: every pod is back in the
			// cluster, which is whole, with no slot half moved.
			if err := clusterStateOK(t, ns, name, 6); err != nil {
				t.Errorf("%s after SIGTERM: %v", name, err)
			}
			if open := openSlots(t, ns, name); open != "" {
				t.Errorf("%s: slots left open: %s", name, open)
			}
			if !regexp.MustCompile(`"msg":"reconciled","cluster":"` + regexp.QuoteMeta(ns+"/"+name) + `".*"revision":"` + short(r.ObservedRevision)).MatchString(logs) {
				t.Errorf("%s: no pass of %s in the log", name, short(r.ObservedRevision))
			}
		}
	})
}

// clusterWrites is the daemon's count of Kubernetes and Redis writes made
// by a cluster's passes.
func clusterWrites(d *daemonProc, cluster string) [2]float64 {
	return [2]float64{
		d.metric("redis_gitops_cluster_writes_total", `cluster="`+cluster+`",target="kubernetes"`),
		d.metric("redis_gitops_cluster_writes_total", `cluster="`+cluster+`",target="redis"`),
	}
}

// passesOf counts the passes of a cluster the daemon logged.
func passesOf(d *daemonProc, cluster string) int {
	return strings.Count(d.logs(), `"msg":"reconciled","cluster":"`+cluster+`"`)
}

// appliedAt accepts a report of the commit rev, which made file content,
// or of a later head with the same file: the daemon's reports name the
// head at which it saw the spec change, and its own status commit may have
// landed on top of rev before it fetched.
func appliedAt(t testing.TB, srv *giteatest.Server, repo giteatest.Repo, rev, file, content string) func(report.Report) error {
	return func(r report.Report) error {
		if r.ObservedRevision == rev {
			return nil
		}
		if got, ok := srv.GetFile(t, repo, r.ObservedRevision, file); !ok || got != content {
			return fmt.Errorf("report at %s, which has not %s as of %s", short(r.ObservedRevision), file, short(rev))
		}
		return nil
	}
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// podsOnImage counts the cluster's pods that run image.
func podsOnImage(t testing.TB, ns, name, image string) int {
	n := 0
	for _, p := range clusterPods(t, ns, name) {
		if p.Spec.Containers[0].Image == image {
			n++
		}
	}
	return n
}

// configOnAll says which pods of the cluster do not report value for key
// (CONFIG GET); nil when all do.
func configOnAll(t testing.TB, ns, name, key, value string) error {
	var wrong []string
	for _, p := range clusterPods(t, ns, name) {
		out := sandboxtest.Kubectl(t, nil, "-n", ns, "exec", p.Name, "--", "redis-cli", "config", "get", key)
		if f := strings.Fields(out); len(f) != 2 || f[1] != value {
			wrong = append(wrong, p.Name+": "+strings.Join(f, " "))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("%s not %s on %s", key, value, strings.Join(wrong, ", "))
	}
	return nil
}

// openSlots lists the slots some node of the cluster has MIGRATING or
// IMPORTING ([slot->-id] or [slot-<-id] in CLUSTER NODES).
func openSlots(t testing.TB, ns, name string) string {
	var open []string
	for _, p := range clusterPods(t, ns, name) {
		out := sandboxtest.Kubectl(t, nil, "-n", ns, "exec", p.Name, "--", "redis-cli", "cluster", "nodes")
		open = append(open, regexp.MustCompile(`\[\d+-[<>]-[0-9a-f]+\]`).FindAllString(out, -1)...)
	}
	return strings.Join(open, " ")
}
