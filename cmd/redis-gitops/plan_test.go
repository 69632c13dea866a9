package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/redis-gitops/redis-gitops/reconcile/plan"
)

func cacheSpec(masters string) string {
	return "apiVersion: redis-gitops.dev/v1alpha1\nkind: RedisCluster\nmetadata:\n  name: cache\n  namespace: prod\nspec:\n  masters: " + masters + "\n  replicasPerMaster: 1\n"
}

// commitFiles writes files into the work tree and commits them; it
// returns the commit hash.
func commitFiles(t *testing.T, repo *git.Repository, dir string, files map[string]string) string {
	t.Helper()
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if content == "" {
			if _, err := wt.Remove(name); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	h, err := wt.Commit("change", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@t", When: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func runPlanArgs(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runPlan(context.Background(), args, &out, &errOut)
	code := 0
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	} else if err != nil {
		t.Fatal(err)
	}
	if errOut.Len() > 0 {
		t.Logf("stderr: %s", errOut.String())
	}
	return out.String(), code
}

func TestPlanBetweenRevisions(t *testing.T) {
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	base := commitFiles(t, repo, dir, map[string]string{"clusters/cache.yaml": cacheSpec("3"), "README.md": "x"})
	scaled := commitFiles(t, repo, dir, map[string]string{"clusters/cache.yaml": cacheSpec("5")})
	readme := commitFiles(t, repo, dir, map[string]string{"README.md": "y"})
	broken := commitFiles(t, repo, dir, map[string]string{"clusters/cache.yaml": strings.Replace(cacheSpec("5"), "masters: 5", "masters: -2", 1)})

	t.Run("a scale-out: exit 1 and the plan", func(t *testing.T) {
		out, code := runPlanArgs(t, "--repo", dir, "--offline", "--base", base, "--head", scaled)
		if code != 1 {
			t.Errorf("exit %d, want 1\n%s", code, out)
		}
		for _, want := range []string{"redis-gitops plan: `prod/cache` (changed)", "3×1 → 5×1", "planned **without reading the live cluster**: the base revision's spec stands in for it. --offline", "pods to add: cache-6, cache-7, cache-8, cache-9", "### After this change", "```mermaid", "cache-7 █████░"} {
			if !strings.Contains(strings.ToLower(out), strings.ToLower(want)) {
				t.Errorf("plan lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("no spec change: exit 0", func(t *testing.T) {
		out, code := runPlanArgs(t, "--repo", dir, "--offline", "--base", scaled, "--head", readme)
		if code != 0 || !strings.Contains(out, "No cluster spec changes.") {
			t.Errorf("exit %d, want 0\n%s", code, out)
		}
	})
	t.Run("a comment added above the spec: no change, exit 0", func(t *testing.T) {
		commented := commitFiles(t, repo, dir, map[string]string{"clusters/cache.yaml": "# scaled for the holidays\n" + cacheSpec("5")})
		out, code := runPlanArgs(t, "--repo", dir, "--offline", "--base", scaled, "--head", commented)
		if code != 0 || !strings.Contains(out, "No cluster spec changes.") {
			t.Errorf("exit %d, want 0\n%s", code, out)
		}
	})
	t.Run("an invalid spec: exit 2 and the error with file:line", func(t *testing.T) {
		out, code := runPlanArgs(t, "--repo", dir, "--offline", "--base", readme, "--head", broken)
		if code != 2 || !strings.Contains(out, "clusters/cache.yaml:7:") || !strings.Contains(out, "spec.masters") {
			t.Errorf("exit %d, want 2 with the error line\n%s", code, out)
		}
		if strings.Contains(out, "(removed)") {
			t.Errorf("an invalid spec is planned as a removal:\n%s", out)
		}
	})
	t.Run("a cluster past 500 nodes: the plan warns, with the figures, and plans it", func(t *testing.T) {
		// 501 masters without replicas: the smallest cluster past the line,
		// and one Place decides fast (every pod is a master).
		large := commitFiles(t, repo, dir, map[string]string{"clusters/cache.yaml": strings.Replace(cacheSpec("501"), "replicasPerMaster: 1", "replicasPerMaster: 0", 1)})
		out, code := runPlanArgs(t, "--repo", dir, "--offline", "--base", readme, "--head", large)
		if code != 1 {
			t.Errorf("exit %d, want 1 (a plan with changes)\n%s", code, out)
		}
		for _, want := range []string{"### Warnings", "clusters/cache.yaml:7:12: spec.masters: makes 501 nodes (501 masters × (1 + 0 replicas)), more than 500", "redis/redis#14282", "Consider splitting it into several clusters"} {
			if !strings.Contains(out, want) {
				t.Errorf("plan lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("json for machines", func(t *testing.T) {
		out, code := runPlanArgs(t, "--repo", dir, "--offline", "--output", "json", "--base", base, "--head", scaled)
		var res plan.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 {
			t.Fatalf("exit %d, %v\n%s", code, err, out)
		}
		if len(res.Clusters) != 1 || res.Clusters[0].Shape.MastersAfter != 5 || len(res.Clusters[0].Pods.Add) != 4 || res.Clusters[0].Against != plan.AgainstBase {
			t.Errorf("json plan: %+v", res.Clusters)
		}
	})
	t.Run("a removed cluster is destructive", func(t *testing.T) {
		gone := commitFiles(t, repo, dir, map[string]string{"clusters/cache.yaml": ""})
		out, code := runPlanArgs(t, "--repo", dir, "--offline", "--base", readme, "--head", gone)
		if code != 1 || !strings.Contains(out, "(removed)") || !strings.Contains(out, "Destructive steps") || !strings.Contains(out, "PVCs and their data are kept") {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	t.Run("an image bump restarts the existing pods, one at a time, and adds none", func(t *testing.T) {
		bumped := commitFiles(t, repo, dir, map[string]string{"clusters/cache.yaml": cacheSpec("3") + "  redis:\n    image: redis:7.0.15\n"})
		out, code := runPlanArgs(t, "--repo", dir, "--offline", "--output", "json", "--base", base, "--head", bumped)
		var res plan.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || len(res.Clusters) != 1 {
			t.Fatalf("exit %d, %v\n%s", code, err, out)
		}
		c := res.Clusters[0]
		if len(c.Pods.Add)+len(c.Pods.Remove) != 0 {
			t.Errorf("pods added %v, removed %v: want none", c.Pods.Add, c.Pods.Remove)
		}
		var order []string
		for _, a := range c.Restarts {
			order = append(order, string(a.Kind)+" "+a.Pod)
		}
		want := "restart-pod cache-3,restart-pod cache-4,restart-pod cache-5," +
			"failover cache-3,restart-pod cache-0,failover cache-4,restart-pod cache-1,failover cache-5,restart-pod cache-2"
		if got := strings.Join(order, ","); got != want {
			t.Errorf("restarts:\n got %s\nwant %s", got, want)
		}
		if c.Estimate.Restarts != 6 || c.Estimate.Failovers != 3 || len(c.Estimate.Unavailable) != 0 {
			t.Errorf("estimate %+v", c.Estimate)
		}
		md, _ := runPlanArgs(t, "--repo", dir, "--offline", "--base", base, "--head", bumped)
		for _, w := range []string{"6 pods restart, 3 planned failovers", "without reading the live cluster", "### Rolling restart", "No slot is unavailable"} {
			if !strings.Contains(md, w) {
				t.Errorf("plan lacks %q:\n%s", w, md)
			}
		}
		if strings.Contains(md, "pods to add") {
			t.Errorf("an image bump adds pods:\n%s", md)
		}
	})
	t.Run("maxmemory is set at runtime; databases restarts every pod", func(t *testing.T) {
		mem := commitFiles(t, repo, dir, map[string]string{"clusters/cache.yaml": cacheSpec("3") + "  redis:\n    config:\n      maxmemory: 200mb\n"})
		mem2 := commitFiles(t, repo, dir, map[string]string{"clusters/cache.yaml": cacheSpec("3") + "  redis:\n    config:\n      maxmemory: 300mb\n"})
		out, code := runPlanArgs(t, "--repo", dir, "--offline", "--base", mem, "--head", mem2)
		if code != 1 {
			t.Errorf("exit %d", code)
		}
		for _, w := range []string{"1 setting set at runtime", "| `maxmemory` | `200mb` | `300mb` | 6 | at runtime (CONFIG SET), no restart |", "- maxmemory 200mb", "+ maxmemory 300mb"} {
			if !strings.Contains(out, w) {
				t.Errorf("plan lacks %q:\n%s", w, out)
			}
		}
		if strings.Contains(out, "restart-pod") {
			t.Errorf("a runtime setting restarts pods:\n%s", out)
		}
		dbs := commitFiles(t, repo, dir, map[string]string{"clusters/cache.yaml": cacheSpec("3") + "  redis:\n    config:\n      maxmemory: 300mb\n      databases: \"4\"\n"})
		out, _ = runPlanArgs(t, "--repo", dir, "--offline", "--base", mem2, "--head", dbs)
		for _, w := range []string{"6 pods restart", "**restart**: Redis cannot change it at runtime", "restart-pod cache-0: rolling restart: it runs databases with a value Redis cannot change at runtime"} {
			if !strings.Contains(out, w) {
				t.Errorf("plan lacks %q:\n%s", w, out)
			}
		}
	})
	t.Run("bad usage: exit 2", func(t *testing.T) {
		if _, code := runPlanArgs(t, "--base", base); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
}
