package daemon

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func sign(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

func TestWebhooks(t *testing.T) {
	const secret = "s3cret"
	push := `{"ref":"refs/heads/main","after":"abc123"}`
	pr := `{"action":"synchronize","number":7,"pull_request":{"head":{"sha":"def456"}}}`
	mr := `{"object_attributes":{"iid":9,"action":"update","last_commit":{"id":"fed789"}}}`
	tests := []struct {
		name    string
		path    string
		method  string
		headers map[string]string
		body    string
		code    int
		want    *Event
	}{
		{"github push", "/hooks/github", "POST", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(secret, push)}, push,
			http.StatusAccepted, &Event{Provider: "github", Kind: "push", Ref: "refs/heads/main", After: "abc123"}},
		{"github pull request", "/hooks/github", "POST", map[string]string{"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": "sha256=" + sign(secret, pr)}, pr,
			http.StatusAccepted, &Event{Provider: "github", Kind: "pull_request", After: "def456", PullRequest: 7, Action: "synchronize"}},
		{"github ping is verified and ignored", "/hooks/github", "POST", map[string]string{"X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + sign(secret, "{}")}, "{}",
			http.StatusNoContent, nil},
		{"github wrong signature", "/hooks/github", "POST", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign("other", push)}, push,
			http.StatusUnauthorized, nil},
		{"github unsigned", "/hooks/github", "POST", map[string]string{"X-GitHub-Event": "push"}, push, http.StatusUnauthorized, nil},
		{"github signature of another body", "/hooks/github", "POST", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(secret, "{}")}, push,
			http.StatusUnauthorized, nil},
		{"gitea push", "/hooks/gitea", "POST", map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign(secret, push)}, push,
			http.StatusAccepted, &Event{Provider: "gitea", Kind: "push", Ref: "refs/heads/main", After: "abc123"}},
		{"gitea garbage signature", "/hooks/gitea", "POST", map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": "zz"}, push, http.StatusUnauthorized, nil},
		{"gitlab push with token", "/hooks/gitlab", "POST", map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret}, push,
			http.StatusAccepted, &Event{Provider: "gitlab", Kind: "push", Ref: "refs/heads/main", After: "abc123"}},
		{"gitlab merge request", "/hooks/gitlab", "POST", map[string]string{"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": secret}, mr,
			http.StatusAccepted, &Event{Provider: "gitlab", Kind: "pull_request", After: "fed789", PullRequest: 9, Action: "update"}},
		{"gitlab wrong token", "/hooks/gitlab", "POST", map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "s3cre"}, push, http.StatusUnauthorized, nil},
		{"generic", "/hooks/generic", "POST", map[string]string{"X-Signature-256": "sha256=" + sign(secret, push)}, push,
			http.StatusAccepted, &Event{Provider: "generic", Kind: "push", Ref: "refs/heads/main", After: "abc123"}},
		{"GET is refused", "/hooks/github", "GET", nil, "", http.StatusMethodNotAllowed, nil},
		{"body over the cap", "/hooks/github", "POST", map[string]string{"X-GitHub-Event": "push"}, strings.Repeat("x", 2048), http.StatusRequestEntityTooLarge, nil},
		{"signed but not JSON", "/hooks/generic", "POST", map[string]string{"X-Signature-256": "sha256=" + sign(secret, "{oops")}, "{oops", http.StatusBadRequest, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Event
			w := &Webhooks{Secret: []byte(secret), MaxBody: 1024, OnEvent: func(e Event) { got = append(got, e) }}
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			w.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.code {
				t.Errorf("status: got %d, want %d (%s)", rec.Code, tt.code, rec.Body)
			}
			switch {
			case tt.want == nil && len(got) != 0:
				t.Errorf("events: got %+v, want none", got)
			case tt.want != nil && (len(got) != 1 || got[0] != *tt.want):
				t.Errorf("events: got %+v, want [%+v]", got, *tt.want)
			}
		})
	}
}

func TestWebhooksWithoutSecretRefuseAll(t *testing.T) {
	fired := false
	w := &Webhooks{OnEvent: func(Event) { fired = true }}
	req := httptest.NewRequest("POST", "/hooks/gitlab", strings.NewReader("{}"))
	req.Header.Set("X-Gitlab-Event", "Push Hook")
	req.Header.Set("X-Gitlab-Token", "")
	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || fired {
		t.Errorf("no secret: status %d, fired %v; want 401 and nothing", rec.Code, fired)
	}
}

func TestTriggerCoalescesABurst(t *testing.T) {
	tr := NewTrigger()
	for range 100 {
		tr.Fire()
	}
	n := 0
	for {
		select {
		case <-tr.C():
			n++
			continue
		default:
		}
		break
	}
	if n != 1 {
		t.Errorf("a burst of 100 fires woke the loop %d times, want 1", n)
	}
	tr.Fire()
	select {
	case <-tr.C():
	default:
		t.Error("a fire after the loop woke is lost")
	}
}
