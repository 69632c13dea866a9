package giteatest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/internal/giteatest"
)

func TestMain(m *testing.M) { os.Exit(giteatest.Main(m.Run)) }

func TestShared(t *testing.T) {
	s := giteatest.Shared(t)
	if again := giteatest.Shared(t); again != s {
		t.Error("Shared started a second server")
	}
	repo := s.CreateRepo(t, "shared")
	if _, ok := s.GetFile(t, repo, "main", "README.md"); !ok {
		t.Error("a new repo has no README.md")
	}
}

// TestServer runs a server in a subtest, so that after it has stopped the
// test can check that nothing of it is left.
func TestServer(t *testing.T) {
	var dir string
	t.Run("gitea", func(t *testing.T) {
		began := time.Now()
		s := giteatest.Start(t)
		t.Logf("gitea at %s ready in %s", s.URL, time.Since(began).Round(time.Millisecond))
		dir = s.Dir
		t.Run("files and commits", func(t *testing.T) { testFilesAndCommits(t, s) })
		t.Run("clone with the repo's credentials", func(t *testing.T) { testClone(t, s) })
		t.Run("push webhook", func(t *testing.T) { testWebhook(t, s) })
	})
	if dir == "" {
		return
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after the server stopped (stat: %v)", dir, err)
	}
	if procs := processesUnder(dir); len(procs) > 0 {
		t.Errorf("processes left behind by gitea: %s", strings.Join(procs, "; "))
	}
}

func testFilesAndCommits(t *testing.T, s *giteatest.Server) {
	repo := s.CreateRepo(t, "clusters")
	if got, want := repo.FullName(), s.Username+"/clusters"; got != want {
		t.Errorf("FullName = %q, want %q", got, want)
	}
	initial := s.Commits(t, repo, "main")
	if len(initial) != 1 {
		t.Fatalf("a new repo has %d commits on main, want 1 (auto-init): %+v", len(initial), initial)
	}
	if _, ok := s.GetFile(t, repo, "main", "README.md"); !ok {
		t.Error("a new repo has no README.md")
	}

	added := s.PutFile(t, repo, "main", "prod/cache.yaml", "shards: 3\n", "prod: add cache")
	if got := s.BranchHead(t, repo, "main"); got != added {
		t.Errorf("main at %s after PutFile, want %s", got, added)
	}
	if got, ok := s.GetFile(t, repo, "main", "prod/cache.yaml"); !ok || got != "shards: 3\n" {
		t.Errorf(`GetFile = %q, %v; want "shards: 3\n", true`, got, ok)
	}
	changed := s.PutFile(t, repo, "main", "prod/cache.yaml", "shards: 6\n", "prod: grow cache")
	if got, ok := s.GetFile(t, repo, "main", "prod/cache.yaml"); !ok || got != "shards: 6\n" {
		t.Errorf(`GetFile after update = %q, %v; want "shards: 6\n", true`, got, ok)
	}
	if got, ok := s.GetFile(t, repo, added, "prod/cache.yaml"); !ok || got != "shards: 3\n" {
		t.Errorf(`GetFile at the first commit = %q, %v; want "shards: 3\n", true`, got, ok)
	}
	both := s.PutFiles(t, repo, "main", map[string]string{"a.yaml": "a", "b/c.yaml": "c"}, "two files")
	deleted := s.DeleteFile(t, repo, "main", "prod/cache.yaml", "prod: remove cache")
	if got, ok := s.GetFile(t, repo, "main", "prod/cache.yaml"); ok {
		t.Errorf("GetFile after DeleteFile = %q, true; want not found", got)
	}
	if _, ok := s.GetFile(t, repo, "main", "no/such/file"); ok {
		t.Error("GetFile of a missing file: found")
	}

	commits := s.Commits(t, repo, "main")
	want := []struct {
		sha, message string
		files        []string
	}{
		{deleted, "prod: remove cache", []string{"prod/cache.yaml"}},
		{both, "two files", []string{"a.yaml", "b/c.yaml"}},
		{changed, "prod: grow cache", []string{"prod/cache.yaml"}},
		{added, "prod: add cache", []string{"prod/cache.yaml"}},
		{initial[0].SHA, "Initial commit", []string{"README.md"}},
	}
	if len(commits) != len(want) {
		t.Fatalf("main has %d commits, want %d: %+v", len(commits), len(want), commits)
	}
	for i, w := range want {
		c := commits[i]
		if c.SHA != w.sha || strings.TrimSpace(c.Message) != w.message || !slices.Equal(c.Files, w.files) {
			t.Errorf("commit %d = %s %q %v, want %s %q %v", i, c.SHA, c.Message, c.Files, w.sha, w.message, w.files)
		}
		if c.AuthorName != s.Username || c.AuthorEmail != s.Username+"@example.com" {
			t.Errorf("commit %d author = %s <%s>, want the admin", i, c.AuthorName, c.AuthorEmail)
		}
	}
}

// testClone clones over HTTP the way the daemon will, with Basic auth
// (git, not go-git, which the root module does not depend on).
func testClone(t *testing.T, s *giteatest.Server) {
	repo := s.CreateRepo(t, "clone-me")
	u, err := url.Parse(repo.CloneURL)
	if err != nil {
		t.Fatal(err)
	}
	if host := u.Hostname(); host != "127.0.0.1" {
		t.Errorf("clone URL %s is not on loopback", repo.CloneURL)
	}
	git := func(u *url.URL, dir string) ([]byte, error) {
		cmd := exec.CommandContext(t.Context(), "git", "-c", "credential.helper=", "clone", "--quiet", u.String(), dir)
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
		return cmd.CombinedOutput()
	}
	if out, err := git(u, filepath.Join(t.TempDir(), "anonymous")); err == nil {
		t.Errorf("anonymous clone of a private repo succeeded:\n%s", out)
	}
	u.User = url.UserPassword(repo.Username, repo.Password)
	dir := filepath.Join(t.TempDir(), "clone")
	if out, err := git(u, dir); err != nil {
		t.Fatalf("git clone with the repo's credentials: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Errorf("clone has no README.md: %v", err)
	}
}

type delivery struct {
	header http.Header
	body   []byte
}

func testWebhook(t *testing.T, s *giteatest.Server) {
	deliveries := make(chan delivery, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		deliveries <- delivery{r.Header.Clone(), body}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer receiver.Close()

	const secret = "s3cret"
	repo := s.CreateRepo(t, "hooked")
	if id := s.AddWebhook(t, repo, receiver.URL+"/hooks/gitea", secret); id <= 0 {
		t.Errorf("AddWebhook returned ID %d", id)
	}
	sha := s.PutFile(t, repo, "main", "prod/cache.yaml", "shards: 3\n", "prod: add cache")

	var d delivery
	select {
	case d = <-deliveries:
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook delivery within 30s of the push")
	}
	if got := d.header.Get("X-Gitea-Event"); got != "push" {
		t.Errorf("X-Gitea-Event = %q, want push", got)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(d.body)
	sig, err := hex.DecodeString(d.header.Get("X-Gitea-Signature"))
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		t.Errorf("X-Gitea-Signature %q is not the HMAC-SHA256 of the body with the secret", d.header.Get("X-Gitea-Signature"))
	}
	var push struct {
		Ref        string `json:"ref"`
		After      string `json:"after"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(d.body, &push); err != nil {
		t.Fatalf("push payload: %v\n%s", err, d.body)
	}
	if push.Ref != "refs/heads/main" || push.After != sha || push.Repository.FullName != repo.FullName() {
		t.Errorf("push payload: ref %s after %s repo %s; want refs/heads/main %s %s", push.Ref, push.After, push.Repository.FullName, sha, repo.FullName())
	}
}

// processesUnder lists processes whose command line, working directory or
// environment mentions dir.
func processesUnder(dir string) []string {
	var found []string
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range pids {
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		cwd, _ := os.Readlink(filepath.Join(p, "cwd"))
		env, _ := os.ReadFile(filepath.Join(p, "environ"))
		if strings.Contains(string(cmdline), dir) || strings.HasPrefix(cwd, dir) || strings.Contains(string(env), dir) {
			found = append(found, filepath.Base(p)+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}
