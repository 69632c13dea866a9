package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/daemon"
	"github.com/redis-gitops/redis-gitops/internal/giteatest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
)

// TestPullRequestPlans: a pull request that raises masters gets a plan
// comment naming the slots to move and the pods to add, from the webhook
// alone; a second push edits that same comment; an invalid spec gets a
// failure status and the error lines; after merge, the applied commit gets
// a success status linking the report.
func TestPullRequestPlans(t *testing.T) {
	srv, repo, ns := planningDaemon(t, "prs", func(ns string) string { return clusterSpec(ns, "cache", 3, 0, "", "") })
	waitStatus(t, srv, repo, ns, "cache", 3*time.Minute, "3x0 ready", ready)

	key := ns + "/cache"
	marker := daemon.PlanMarker(key)
	planComment := func(pr int) (giteatest.IssueComment, int) {
		var found giteatest.IssueComment
		n := 0
		for _, c := range srv.PullComments(t, repo, pr) {
			if strings.Contains(c.Body, marker) {
				found, n = c, n+1
			}
		}
		return found, n
	}

	srv.CreateBranch(t, repo, "scale-out", "main")
	srv.PutFile(t, repo, "scale-out", "clusters/cache.yaml", clusterSpec(ns, "cache", 4, 0, "", ""), "masters: 4")
	pr := srv.CreatePullRequest(t, repo, "scale-out", "main", "Scale cache out to 4 masters")
	var first giteatest.IssueComment
	sandboxtest.Eventually(t, 2*time.Minute, "the plan comment", func() error {
		c, n := planComment(pr)
		if n != 1 {
			return fmt.Errorf("%d plan comments", n)
		}
		first = c
		return nil
	})
	for _, want := range []string{"3×0 → 4×0", "pods to add: cache-3", "Slots to move", "4096 slots"} {
		if !strings.Contains(first.Body, want) {
			t.Errorf("plan comment lacks %q:\n%s", want, first.Body)
		}
	}
	head := srv.BranchHead(t, repo, "scale-out")
	sandboxtest.Eventually(t, time.Minute, "the plan status", func() error {
		return hasStatus(srv.CommitStatuses(t, repo, head), "redis-gitops/plan/"+key, "success", "3×0 → 4×0")
	})

	// A second push edits the same comment.
	srv.PutFile(t, repo, "scale-out", "clusters/cache.yaml", clusterSpec(ns, "cache", 5, 0, "", ""), "masters: 5")
	sandboxtest.Eventually(t, 2*time.Minute, "the plan comment edited in place", func() error {
		c, n := planComment(pr)
		if n != 1 || c.ID != first.ID {
			return fmt.Errorf("%d plan comments (first id %d, now %d)", n, first.ID, c.ID)
		}
		if !strings.Contains(c.Body, "3×0 → 5×0") {
			return fmt.Errorf("not the new plan yet")
		}
		return nil
	})

	// An invalid spec: a failure status and the error line, nothing applied.
	srv.PutFile(t, repo, "scale-out", "clusters/cache.yaml", clusterSpec(ns, "cache", -5, 0, "", ""), "oops")
	bad := srv.BranchHead(t, repo, "scale-out")
	sandboxtest.Eventually(t, 2*time.Minute, "the invalid-spec failure", func() error {
		if err := hasStatus(srv.CommitStatuses(t, repo, bad), "redis-gitops/specs", "failure", "spec.masters"); err != nil {
			return err
		}
		for _, c := range srv.PullComments(t, repo, pr) {
			if strings.Contains(c.Body, "clusters/cache.yaml:") && strings.Contains(c.Body, "spec.masters") {
				return nil
			}
		}
		return fmt.Errorf("no comment with the error line")
	})
	if got := len(clusterPods(t, ns, "cache")); got != 3 {
		t.Errorf("a pull request changed the cluster: %d pods", got)
	}

	// Fixed and merged: the applied commit gets a success status.
	srv.PutFile(t, repo, "scale-out", "clusters/cache.yaml", clusterSpec(ns, "cache", 4, 0, "", ""), "masters: 4 again")
	merged := srv.MergePullRequest(t, repo, pr)
	waitStatus(t, srv, repo, ns, "cache", 5*time.Minute, "4x0 ready after the merge", func(r report.Report) error {
		if err := ready(r); err != nil {
			return err
		}
		if len(r.Topology.Masters) != 4 {
			return fmt.Errorf("%d masters", len(r.Topology.Masters))
		}
		return nil
	})
	sandboxtest.Eventually(t, time.Minute, "the applied commit's success status", func() error {
		sts := srv.CommitStatuses(t, repo, merged)
		if err := hasStatus(sts, "redis-gitops/apply/"+key, "success", "ready"); err != nil {
			return err
		}
		for _, s := range sts {
			if s.Context == "redis-gitops/apply/"+key && !strings.HasSuffix(s.TargetURL, "/status/"+key+".md") {
				return fmt.Errorf("status links %q, not the report", s.TargetURL)
			}
		}
		return nil
	})
	checkCluster(t, ns, "cache", 4, 0)
}

// planningDaemon starts a daemon that plans pull requests on a Gitea repo
// of its own, seeded with clusters/cache.yaml, its webhooks in place;
// extra flags go last.
func planningDaemon(t *testing.T, prefix string, seed func(ns string) string, extra ...string) (*giteatest.Server, giteatest.Repo, string) {
	t.Helper()
	srv, repo, ns, _ := planningDaemonProc(t, prefix, seed, extra...)
	return srv, repo, ns
}

// planningDaemonProc is planningDaemon that also returns the daemon.
func planningDaemonProc(t *testing.T, prefix string, seed func(ns string) string, extra ...string) (*giteatest.Server, giteatest.Repo, string, *daemonProc) {
	t.Helper()
	srv := giteatest.Shared(t)
	ns := sandboxtest.Namespace(t, prefix)
	repo := srv.CreateRepo(t, prefix+"-"+ns)
	srv.PutFile(t, repo, "main", "clusters/cache.yaml", seed(ns), "add cache")
	tokenFile := filepath.Join(t.TempDir(), "forge-token")
	if err := os.WriteFile(tokenFile, []byte(srv.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "daemon-"+prefix, repo, ns, append([]string{"--interval", "2s",
		"--forge", "gitea", "--forge-url", srv.URL, "--forge-repo", repo.FullName(), "--forge-token-file", tokenFile}, extra...)...)
	srv.AddWebhookEvents(t, repo, "http://"+d.addr+"/hooks/gitea", webhookSecret, "push", "pull_request", "pull_request_sync")
	return srv, repo, ns, d
}

func hasStatus(statuses []giteatest.CommitStatus, context, state, descContains string) error {
	for _, s := range statuses {
		if s.Context == context {
			if s.State != state || !strings.Contains(s.Description, descContains) {
				return fmt.Errorf("%s is %s %q, want %s containing %q", context, s.State, s.Description, state, descContains)
			}
			return nil
		}
	}
	return fmt.Errorf("no status %s among %d", context, len(statuses))
}
