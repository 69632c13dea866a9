package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"

	"github.com/redis-gitops/redis-gitops/reconcile/acl"
	"github.com/redis-gitops/redis-gitops/reconcile/plan"
)

// An offline plan of a change to spec.users: no node is read, so the
// steps come from the two revisions' users, on every pod; passwords are
// never compared (only the Secrets named).
func TestPlanUsersOffline(t *testing.T) {
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	users := func(appKeys, more string) string {
		return cacheSpec("3") + "  users:\n" +
			"    - name: app\n      passwordSecretRefs: [{name: app-redis}]\n      commands: [\"+@read\"]\n      keys: [" + appKeys + "]\n" + more
	}
	base := commitFiles(t, repo, dir, map[string]string{"clusters/cache.yaml": users(`"app:*"`, "")})
	head := commitFiles(t, repo, dir, map[string]string{"clusters/cache.yaml": users(`"app:*", "shared:*"`,
		"    - name: reports\n      passwordSecretRefs: [{name: reports-redis}]\n      commands: [\"+get\"]\n")})
	out, code := runPlanArgs(t, "--repo", dir, "--offline", "--output", "json", "--base", base, "--head", head)
	var res plan.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || len(res.Clusters) != 1 {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	count := map[string]int{}
	for _, st := range res.Clusters[0].Users {
		count[st.User+" "+string(st.Kind)]++
		if st.Kind == acl.Update && (len(st.Diffs) != 1 || st.Diffs[0].Field != acl.FieldKeys || st.Diffs[0].Declared != "app:* shared:*") {
			t.Errorf("app's update on %s: %+v, want keys only", st.Pod, st.Diffs)
		}
	}
	if count["reports create"] != 6 || count["app update"] != 6 || len(count) != 2 {
		t.Errorf("user steps by user and kind: %v, want reports created and app updated on each of the 6 pods", count)
	}
	md, _ := runPlanArgs(t, "--repo", dir, "--offline", "--base", base, "--head", head)
	if !strings.Contains(md, "### ACL users") || !strings.Contains(md, "| cache-5 | reports | create |") {
		t.Errorf("the Markdown plan lacks the users:\n%s", md)
	}
}
