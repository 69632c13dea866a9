package giteatest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// Repo is a repository on the server and what a Git client needs to reach
// it.
type Repo struct {
	Owner, Name string
	// CloneURL is the smart-HTTP clone URL,
	// http://127.0.0.1:PORT/OWNER/NAME.git.
	CloneURL string
	// Username and Password authenticate Git over HTTP, as go-git's
	// http.BasicAuth; Password is the admin's access token.
	Username, Password string
}

// FullName is OWNER/NAME.
func (r Repo) FullName() string { return r.Owner + "/" + r.Name }

// Commit is one commit of a branch's history.
type Commit struct {
	SHA, Message            string
	AuthorName, AuthorEmail string
	// Files are the paths the commit added, modified or removed, sorted.
	Files []string
}

// CreateRepo creates a private repository of the admin, initialised with a
// README committed on branch main. Names are unique per server.
func (s *Server) CreateRepo(t testing.TB, name string) Repo {
	t.Helper()
	var got struct {
		Name     string `json:"name"`
		CloneURL string `json:"clone_url"`
		Owner    struct {
			Login string `json:"login"`
		} `json:"owner"`
	}
	s.must(t, s.api(t.Context(), http.MethodPost, "/user/repos", map[string]any{
		"name":           name,
		"private":        true,
		"auto_init":      true,
		"readme":         "Default",
		"default_branch": "main",
	}, &got))
	return Repo{Owner: got.Owner.Login, Name: got.Name, CloneURL: got.CloneURL, Username: s.Username, Password: s.Token}
}

// PutFile creates or replaces path on branch in one commit, the way a
// person editing in the web UI would, and returns the commit's SHA. The
// commit moves the branch and fires push webhooks.
func (s *Server) PutFile(t testing.TB, repo Repo, branch, path, content, message string) string {
	t.Helper()
	return s.PutFiles(t, repo, branch, map[string]string{path: content}, message)
}

// PutFiles creates or replaces several files on branch in one commit and
// returns its SHA.
func (s *Server) PutFiles(t testing.TB, repo Repo, branch string, files map[string]string, message string) string {
	t.Helper()
	var ops []fileOp
	for path, content := range files {
		ops = append(ops, fileOp{Operation: "upload", Path: path, Content: base64.StdEncoding.EncodeToString([]byte(content))})
	}
	return s.changeFiles(t, repo, branch, message, ops)
}

// DeleteFile removes path from branch in one commit and returns its SHA.
func (s *Server) DeleteFile(t testing.TB, repo Repo, branch, path, message string) string {
	t.Helper()
	return s.changeFiles(t, repo, branch, message, []fileOp{{Operation: "delete", Path: path}})
}

type fileOp struct {
	Operation string `json:"operation"`
	Path      string `json:"path"`
	Content   string `json:"content,omitempty"`
}

// changeFiles commits ops through the contents API, which needs no blob
// SHAs: it checks against the branch head it commits onto.
func (s *Server) changeFiles(t testing.TB, repo Repo, branch, message string, ops []fileOp) string {
	t.Helper()
	sort.Slice(ops, func(i, j int) bool { return ops[i].Path < ops[j].Path })
	var got struct {
		Commit struct {
			SHA string `json:"sha"`
		} `json:"commit"`
	}
	body := map[string]any{"branch": branch, "message": message, "files": ops}
	err := s.api(t.Context(), http.MethodPost, repoPath(repo, "contents"), body, &got)
	// Gitea commits onto the head it read; when another push moves the
	// branch in between it answers "cannot lock ref", or a 500 when its
	// own push is the one refused (PushOutOfDate, whose text Gitea may
	// keep to its log), and a client (like a person in the web UI) tries
	// again on the new head.
	raced := func(err error) bool {
		var ae *apiError
		return err != nil && (strings.Contains(err.Error(), "cannot lock ref") || errors.As(err, &ae) && ae.Status == http.StatusInternalServerError)
	}
	for try := 0; raced(err) && try < 10; try++ {
		time.Sleep(time.Duration(50*(try+1)) * time.Millisecond)
		err = s.api(t.Context(), http.MethodPost, repoPath(repo, "contents"), body, &got)
	}
	s.must(t, err)
	return got.Commit.SHA
}

// GetFile returns the content of path at ref (a branch, tag or commit), and
// false if no such file exists there.
func (s *Server) GetFile(t testing.TB, repo Repo, ref, path string) (string, bool) {
	t.Helper()
	b, err := s.request(t.Context(), http.MethodGet, repoPath(repo, "raw", path)+"?ref="+url.QueryEscape(ref), nil)
	if e := (*apiError)(nil); errors.As(err, &e) && e.Status == http.StatusNotFound {
		return "", false
	}
	s.must(t, err)
	return string(b), true
}

// Commits returns the history of branch, newest first.
func (s *Server) Commits(t testing.TB, repo Repo, branch string) []Commit {
	t.Helper()
	const limit = 50
	var commits []Commit
	for page := 1; ; page++ {
		var got []struct {
			SHA    string `json:"sha"`
			Commit struct {
				Message string `json:"message"`
				Author  struct {
					Name  string `json:"name"`
					Email string `json:"email"`
				} `json:"author"`
			} `json:"commit"`
			Files []struct {
				Filename string `json:"filename"`
			} `json:"files"`
		}
		q := url.Values{
			"sha": {branch}, "page": {fmt.Sprint(page)}, "limit": {fmt.Sprint(limit)},
			"stat": {"false"}, "verification": {"false"}, "files": {"true"},
		}
		s.must(t, s.api(t.Context(), http.MethodGet, repoPath(repo, "commits")+"?"+q.Encode(), nil, &got))
		for _, c := range got {
			files := make([]string, 0, len(c.Files))
			for _, f := range c.Files {
				files = append(files, f.Filename)
			}
			sort.Strings(files)
			commits = append(commits, Commit{
				SHA:         c.SHA,
				Message:     c.Commit.Message,
				AuthorName:  c.Commit.Author.Name,
				AuthorEmail: c.Commit.Author.Email,
				Files:       files,
			})
		}
		if len(got) < limit {
			return commits
		}
	}
}

// BranchHead returns the SHA branch points at.
func (s *Server) BranchHead(t testing.TB, repo Repo, branch string) string {
	t.Helper()
	var got struct {
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}
	s.must(t, s.api(t.Context(), http.MethodGet, repoPath(repo, "branches", branch), nil, &got))
	return got.Commit.ID
}

// AddWebhook adds an active Gitea-type webhook that posts push events as
// JSON to url, signed with secret (X-Gitea-Signature: hex HMAC-SHA256 of
// the body), and returns its ID. Gitea waits at most 3 s for an answer.
//
// Gitea's API does not list a hook's deliveries; to see what a receiver
// answered, look at the receiver.
func (s *Server) AddWebhook(t testing.TB, repo Repo, url, secret string) int64 {
	t.Helper()
	return s.AddWebhookEvents(t, repo, url, secret, "push")
}

// repoPath is the API path of one of repo's resources, each part escaped
// (parts may hold slashes: file paths).
func repoPath(repo Repo, parts ...string) string {
	p := "/repos/" + url.PathEscape(repo.Owner) + "/" + url.PathEscape(repo.Name)
	for _, part := range parts {
		for _, seg := range strings.Split(part, "/") {
			p += "/" + url.PathEscape(seg)
		}
	}
	return p
}

func (s *Server) must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("giteatest: %v", err)
	}
}

// apiError is an answer outside 2xx.
type apiError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Body)
}

// api sends in as JSON to /api/v1 + path as the admin and decodes the
// answer into out, if not nil.
func (s *Server) api(ctx context.Context, method, path string, in, out any) error {
	b, err := s.request(ctx, method, path, in)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func (s *Server) request(ctx context.Context, method, path string, in any) ([]byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+"/api/v1"+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "token "+s.Token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, &apiError{Method: method, Path: path, Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	return b, nil
}
