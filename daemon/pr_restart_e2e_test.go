package daemon_test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/daemon"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
)

// TestPullRequestPlansRestartsAndSettings: on a live 3×1 cluster, a pull
// request that bumps the image gets a plan naming every pod restart in
// order (the replicas, then each master after a planned failover to its
// replica); one that changes maxmemory says it is set at runtime on the 6
// nodes with no restart; one that changes a directive Redis cannot change
// at runtime says which pods restart. Nothing is applied before a merge.
func TestPullRequestPlansRestartsAndSettings(t *testing.T) {
	const mem = "    config:\n      maxmemory: 100mb\n"
	srv, repo, ns := planningDaemon(t, "prplan", func(ns string) string { return clusterSpec(ns, "cache", 3, 1, mem, "") })
	r := waitStatus(t, srv, repo, ns, "cache", 4*time.Minute, "3x1 ready", ready)

	// The roll the plan must name: replicas first (by name), then each
	// master (by name) after a failover to its replica.
	var replicas, want []string
	replicaOf := map[string]string{}
	var masters []string
	for _, m := range r.Topology.Masters {
		masters = append(masters, m.Pod)
		if len(m.Replicas) != 1 {
			t.Fatalf("master %s has %d replicas", m.Pod, len(m.Replicas))
		}
		replicaOf[m.Pod] = m.Replicas[0].Pod
		replicas = append(replicas, m.Replicas[0].Pod)
	}
	sort.Strings(replicas)
	sort.Strings(masters)
	for _, p := range replicas {
		want = append(want, "restart-pod "+p)
	}
	for _, m := range masters {
		want = append(want, "failover "+replicaOf[m], "restart-pod "+m)
	}

	key := ns + "/cache"
	comment := func(pr int) string {
		var body string
		sandboxtest.Eventually(t, 2*time.Minute, fmt.Sprintf("the plan comment on #%d", pr), func() error {
			for _, c := range srv.PullComments(t, repo, pr) {
				if strings.Contains(c.Body, daemon.PlanMarker(key)) {
					body = c.Body
					return nil
				}
			}
			return fmt.Errorf("no plan comment yet")
		})
		return body
	}
	open := func(branch, specText, title string) int {
		srv.CreateBranch(t, repo, branch, "main")
		srv.PutFile(t, repo, branch, "clusters/cache.yaml", specText, title)
		return srv.CreatePullRequest(t, repo, branch, "main", title)
	}
	image := open("image", clusterSpec(ns, "cache", 3, 1, "    image: redis:7.0.15\n"+mem, ""), "redis 7.0.15")
	maxmem := open("maxmemory", clusterSpec(ns, "cache", 3, 1, "    config:\n      maxmemory: 200mb\n", ""), "maxmemory 200mb")
	dbs := open("databases", clusterSpec(ns, "cache", 3, 1, mem+"      databases: \"4\"\n", ""), "databases 4")

	steps := regexp.MustCompile(`(?m)^\d+\. (restart-pod|failover) (\S+?):`)
	t.Run("an image bump restarts every pod in order, with three planned failovers", func(t *testing.T) {
		body := comment(image)
		var got []string
		for _, m := range steps.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1]+" "+m[2])
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("restarts:\n got %v\nwant %v\n%s", got, want, body)
		}
		for _, w := range []string{"6 pods restart, 3 planned failovers", "No slot is unavailable", "spec.containers[name=redis].image"} {
			if !strings.Contains(body, w) {
				t.Errorf("plan lacks %q:\n%s", w, body)
			}
		}
	})
	t.Run("maxmemory is set at runtime on the 6 nodes, no restart", func(t *testing.T) {
		body := comment(maxmem)
		if !regexp.MustCompile("\\| `maxmemory` \\| `(100mb|104857600)` \\| `200mb` \\| 6 \\| at runtime \\(CONFIG SET\\), no restart \\|").MatchString(body) {
			t.Errorf("plan lacks maxmemory set at runtime on 6 nodes:\n%s", body)
		}
		if strings.Contains(body, "restart-pod") || strings.Contains(body, "Rolling restart") {
			t.Errorf("a runtime setting plans restarts:\n%s", body)
		}
		if !strings.Contains(body, "+ maxmemory 200mb") {
			t.Errorf("the ConfigMap row does not show the changed line:\n%s", body)
		}
	})
	t.Run("a restart-only directive says which pods restart", func(t *testing.T) {
		body := comment(dbs)
		for _, w := range []string{"| `databases` |", "**restart**: Redis cannot change it at runtime", "6 pods restart", "it runs databases with a value Redis cannot change at runtime"} {
			if !strings.Contains(body, w) {
				t.Errorf("plan lacks %q:\n%s", w, body)
			}
		}
		var got []string
		for _, m := range steps.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1]+" "+m[2])
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("restarts:\n got %v\nwant %v", got, want)
		}
	})
	// Plans write nothing: the pods still run the template they started with.
	for _, p := range clusterPods(t, ns, "cache") {
		if img := p.Spec.Containers[0].Image; img != "redis:7.0" {
			t.Errorf("pod %s runs %s after plans only", p.Name, img)
		}
	}
}
