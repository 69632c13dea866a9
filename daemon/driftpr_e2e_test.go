package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/daemon"
	"github.com/redis-gitops/redis-gitops/daemon/driftpr"
	"github.com/redis-gitops/redis-gitops/internal/giteatest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
)

// TestDriftPullRequests: under drift: report with drift pull requests on,
// maxmemory set by hand on every node becomes, within two scans, one pull
// request whose diff changes that one line of the spec (its comments
// kept) and whose description names the nodes and both values; a daemon
// restarted then finds it again, and a StatefulSet field edited by hand is
// listed in that same pull request, not edited; merging it
// ends the drift (Ready, no drift) and the pull request shows merged.
// Drift again, then the cluster switched to drift: correct: the daemon
// sets it back and closes the new pull request saying why. A replica moved
// by hand is corrected and proposes nothing.
func TestDriftPullRequests(t *testing.T) {
	// The cluster is made under drift: correct (drift: report writes
	// nothing, so it would never exist), then switched to report.
	specOf := func(ns, mode, maxmemory string) string {
		return clusterSpec(ns, "cache", 3, 1,
			"    config:\n      # Sized for the pods' memory limit.\n      maxmemory: "+maxmemory+"   # keep in step with limits\n",
			"  reconcile:\n    drift: "+mode+"\n    driftPullRequests: true\n    schedule: \"@every 10s\"\n")
	}
	srv, repo, ns, d := planningDaemonProc(t, "driftpr", func(ns string) string { return specOf(ns, "correct", "100mb") }, "--drift-pull-requests", "opt-in")
	waitStatus(t, srv, repo, ns, "cache", 4*time.Minute, "3x1 ready", ready)
	srv.PutFile(t, repo, "main", "clusters/cache.yaml", specOf(ns, "report", "100mb"), "drift: report")
	waitStatus(t, srv, repo, ns, "cache", time.Minute, "mode report, ready", func(r report.Report) error {
		if r.Mode != report.ModeReport {
			return fmt.Errorf("mode %s", r.Mode)
		}
		return ready(r)
	})
	key := ns + "/cache"
	branch := driftpr.Branch(key)

	var first giteatest.PullRequest
	t.Run("maxmemory set by hand on every node becomes a pull request", func(t *testing.T) {
		setOnEveryNode(t, ns, "maxmemory", "200mb")
		set := time.Now()
		sandboxtest.Eventually(t, 2*time.Minute, "the drift pull request", func() error {
			prs := srv.PullRequests(t, repo, branch)
			if len(prs) != 1 {
				return fmt.Errorf("%d pull requests from %s", len(prs), branch)
			}
			first = prs[0]
			return nil
		})
		// Within two scans: the daemon's log has the passes that saw drift
		// before it opened the pull request. A pass under way while the six
		// nodes were being set may see some of them only, and a third scan
		// is then needed; no more.
		scans := scansBeforeOpening(t, d, key)
		t.Logf("pull request #%d %.1fs after the change, on the %d%s scan that saw the drift", first.Number, time.Since(set).Seconds(), scans, ordinal(scans))
		if scans < 2 || scans > 3 {
			t.Errorf("the pull request opened on scan %d that saw the drift, want the second (the third after a scan that saw it half-set)", scans)
		}
		if first.State != "open" || first.Base.Ref != "main" {
			t.Errorf("pull request is %s into %s", first.State, first.Base.Ref)
		}
		checkOneLineDiff(t, srv.PullDiff(t, repo, first.Number),
			"-      maxmemory: 100mb   # keep in step with limits", "+      maxmemory: 200mb   # keep in step with limits")
		for _, want := range []string{"cache-0", "cache-1", "cache-2", "cache-3", "cache-4", "cache-5", "`100mb`", "`209715200`", "drift: report"} {
			if !strings.Contains(first.Body, want) {
				t.Errorf("description lacks %q:\n%s", want, first.Body)
			}
		}
		// Its plan is the ordinary pull-request plan.
		sandboxtest.Eventually(t, time.Minute, "the plan comment on it", func() error {
			for _, c := range srv.PullComments(t, repo, first.Number) {
				if !strings.Contains(c.Body, daemon.PlanMarker(key)) {
					continue
				}
				// A catch-up: the ConfigMap follows Git, Redis needs nothing.
				if !strings.Contains(c.Body, "`+ maxmemory 200mb`") || strings.Contains(c.Body, "CONFIG SET") {
					t.Errorf("the plan is not a pure catch-up:\n%s", c.Body)
				}
				return nil
			}
			return fmt.Errorf("no plan comment")
		})
	})
	if t.Failed() {
		return
	}

	// A new daemon, with nothing in memory, finds the pull request again
	// by its branch and marker, and updates it below.
	d.stop(syscall.SIGTERM)
	tokenFile := filepath.Join(t.TempDir(), "forge-token")
	if err := os.WriteFile(tokenFile, []byte(srv.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, "daemon-driftpr-2", repo, ns, "--interval", "2s", "--forge", "gitea", "--forge-url", srv.URL,
		"--forge-repo", repo.FullName(), "--forge-token-file", tokenFile, "--drift-pull-requests", "opt-in")

	t.Run("a StatefulSet field the spec cannot say is listed, not edited, by a restarted daemon", func(t *testing.T) {

		stss := sandboxtest.Client(t).AppsV1().StatefulSets(ns)
		sts, err := stss.Get(context.Background(), "cache", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		was := *sts.Spec.Template.Spec.TerminationGracePeriodSeconds
		sandboxtest.Kubectl(t, nil, "-n", ns, "patch", "statefulset", "cache", "--type", "merge", "-p", `{"spec":{"template":{"spec":{"terminationGracePeriodSeconds":9}}}}`)
		sandboxtest.Eventually(t, 2*time.Minute, "the description listing terminationGracePeriodSeconds", func() error {
			prs := srv.PullRequests(t, repo, branch)
			if len(prs) != 1 {
				t.Fatalf("%d pull requests from %s, want the one from before the restart: %+v", len(prs), branch, prs)
			}
			if !regexp.MustCompile("terminationGracePeriodSeconds` \\| `9` \\| `" + fmt.Sprint(was) + "` \\|[^\n]*the spec has no field for it").MatchString(prs[0].Body) {
				return fmt.Errorf("not listed yet")
			}
			return nil
		})
		checkOneLineDiff(t, srv.PullDiff(t, repo, first.Number),
			"-      maxmemory: 100mb   # keep in step with limits", "+      maxmemory: 200mb   # keep in step with limits")
		// Put it back by hand, so that merging ends all the drift.
		sandboxtest.Kubectl(t, nil, "-n", ns, "patch", "statefulset", "cache", "--type", "merge", "-p",
			fmt.Sprintf(`{"spec":{"template":{"spec":{"terminationGracePeriodSeconds":%d}}}}`, was))
	})

	t.Run("merging it ends the drift", func(t *testing.T) {
		merged := srv.MergePullRequest(t, repo, first.Number)
		if got, _ := srv.GetFile(t, repo, "main", "clusters/cache.yaml"); got != specOf(ns, "report", "200mb") {
			t.Errorf("spec on main after the merge:\n%s", got)
		}
		// drift: report writes nothing (invariant 6), not even the merged
		// revision's ConfigMap: the report has no drift, and plans only the
		// writes of that revision to the daemon's own objects, nothing in
		// Redis, which runs 200mb already.
		r := waitStatus(t, srv, repo, ns, "cache", 2*time.Minute, "no drift at the merge", func(r report.Report) error {
			if got, _ := srv.GetFile(t, repo, r.ObservedRevision, "clusters/cache.yaml"); !strings.Contains(got, "maxmemory: 200mb") {
				return fmt.Errorf("report of %s, before the merge %s", r.ObservedRevision, merged)
			}
			if len(r.Drift) > 0 {
				return fmt.Errorf("drift %+v", r.Drift)
			}
			return nil
		})
		for _, a := range r.Actions {
			if !strings.HasPrefix(a, "planned: configure ConfigMap "+ns+"/") && !strings.HasPrefix(a, "planned: configure StatefulSet "+ns+"/cache") {
				t.Errorf("after the merge the report plans %q", a)
			}
		}
		prs := srv.PullRequests(t, repo, branch)
		if len(prs) != 1 || prs[0].State != "closed" || !prs[0].Merged {
			t.Errorf("pull requests %+v, want #%d closed as merged", prs, first.Number)
		}
		// Once the cluster may be written to, it is Ready with no drift.
		srv.PutFile(t, repo, "main", "clusters/cache.yaml", specOf(ns, "correct", "200mb"), "drift: correct")
		waitStatus(t, srv, repo, ns, "cache", 2*time.Minute, "Ready with no drift", func(r report.Report) error {
			if r.Mode != report.ModeApply || len(r.Drift) > 0 {
				return fmt.Errorf("mode %s, drift %+v", r.Mode, r.Drift)
			}
			return ready(r)
		})
		if prs := srv.PullRequests(t, repo, branch); len(prs) != 1 {
			t.Errorf("%d pull requests, want the merged one only", len(prs))
		}
	})

	t.Run("drift corrected while its pull request is open closes it with the reason", func(t *testing.T) {
		srv.PutFile(t, repo, "main", "clusters/cache.yaml", specOf(ns, "report", "200mb"), "drift: report")
		waitStatus(t, srv, repo, ns, "cache", time.Minute, "mode report", func(r report.Report) error {
			if r.Mode != report.ModeReport {
				return fmt.Errorf("mode %s", r.Mode)
			}
			return nil
		})
		setOnEveryNode(t, ns, "maxmemory", "300mb")
		var second giteatest.PullRequest
		sandboxtest.Eventually(t, 2*time.Minute, "a second drift pull request", func() error {
			for _, pr := range srv.PullRequests(t, repo, branch) {
				if pr.Number != first.Number && pr.State == "open" {
					second = pr
					return nil
				}
			}
			return fmt.Errorf("none open")
		})
		checkOneLineDiff(t, srv.PullDiff(t, repo, second.Number),
			"-      maxmemory: 200mb   # keep in step with limits", "+      maxmemory: 300mb   # keep in step with limits")
		srv.PutFile(t, repo, "main", "clusters/cache.yaml", specOf(ns, "correct", "200mb"), "drift: correct")
		sandboxtest.Eventually(t, 2*time.Minute, "the pull request closed with the reason", func() error {
			for _, pr := range srv.PullRequests(t, repo, branch) {
				if pr.Number == second.Number && pr.State != "closed" {
					return fmt.Errorf("#%d is %s", pr.Number, pr.State)
				}
			}
			for _, c := range srv.PullComments(t, repo, second.Number) {
				if strings.Contains(c.Body, "The drift is gone") && strings.Contains(c.Body, "drift: correct") {
					return nil
				}
			}
			return fmt.Errorf("no comment saying why")
		})
		if prs := srv.PullRequests(t, repo, branch); len(prs) != 2 || prs[0].Merged && prs[1].Merged {
			t.Errorf("pull requests %+v, want the merged one and this one closed unmerged", prs)
		}
	})

	t.Run("a replica moved by hand is corrected and proposes nothing", func(t *testing.T) {
		moveReplicaOntoItsMastersNode(t, ns, "cache")
		sandboxtest.Eventually(t, 2*time.Minute, "placement restored", func() error {
			return placementError(t, ns, "cache", 3, 1)
		})
		time.Sleep(25 * time.Second) // two more scheduled scans at least
		if prs := srv.PullRequests(t, repo, branch); len(prs) != 2 {
			t.Errorf("%d pull requests after the replica moved, want the 2 from before: %+v", len(prs), prs)
		}
	})
}

// setOnEveryNode sets a Redis setting by hand on every pod of the cache
// cluster, as a person would during an incident.
func setOnEveryNode(t *testing.T, ns, key, value string) {
	t.Helper()
	for _, p := range clusterPods(t, ns, "cache") {
		c := redis.NewClient(&redis.Options{Addr: p.Status.PodIP + ":6379", DisableIdentity: true})
		err := c.ConfigSet(t.Context(), key, value).Err()
		c.Close()
		if err != nil {
			t.Fatalf("CONFIG SET %s on %s: %v", key, p.Name, err)
		}
	}
}

// checkOneLineDiff: the diff changes one file, clusters/cache.yaml, and in
// it exactly the line minus into plus.
func checkOneLineDiff(t *testing.T, diff, minus, plus string) {
	t.Helper()
	var changed []string
	files := 0
	for _, line := range strings.Split(diff, "\n") {
		switch {
		case strings.HasPrefix(line, "diff --git "):
			files++
			if !strings.HasSuffix(line, " b/clusters/cache.yaml") {
				t.Errorf("the diff touches %s", line)
			}
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
		case strings.HasPrefix(line, "+"), strings.HasPrefix(line, "-"):
			changed = append(changed, line)
		}
	}
	if files != 1 || len(changed) != 2 || changed[0] != minus || changed[1] != plus {
		t.Errorf("diff of %d files changes %q, want only %q -> %q:\n%s", files, changed, minus, plus, diff)
	}
}

// scansBeforeOpening counts the passes of cluster that reported drift, in
// the daemon's log, up to its first "drift pull request opened" (which the
// daemon logs once the forge answered: it may come a moment after the pull
// request shows).
func scansBeforeOpening(t *testing.T, d *daemonProc, cluster string) int {
	t.Helper()
	n := 0
	sandboxtest.Eventually(t, 30*time.Second, "the daemon's log of the opening", func() error {
		n = 0
		for _, line := range strings.Split(d.logs(), "\n") {
			var l struct {
				Msg     string `json:"msg"`
				Cluster string `json:"cluster"`
				Drift   int    `json:"drift"`
			}
			if json.Unmarshal([]byte(line), &l) != nil || l.Cluster != cluster {
				continue
			}
			switch {
			case l.Msg == "reconciled" && l.Drift > 0:
				n++
			case l.Msg == "drift pull request opened":
				return nil
			}
		}
		return fmt.Errorf("no \"drift pull request opened\" in the daemon's log")
	})
	return n
}

func ordinal(n int) string {
	switch n {
	case 1:
		return "st"
	case 2:
		return "nd"
	case 3:
		return "rd"
	}
	return "th"
}
