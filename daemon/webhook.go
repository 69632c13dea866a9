package daemon

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// DefaultMaxWebhookBody caps a webhook's body: push payloads of large
// pushes stay well under it, and a flood cannot exhaust memory.
const DefaultMaxWebhookBody = 1 << 20

// Event is what a verified webhook asks the daemon to do.
type Event struct {
	Provider string // github, gitea, gitlab, generic
	Kind     string // push, pull_request
	Ref      string // refs/heads/main
	After    string // the pushed head commit, or the pull request's head
	// PullRequest and Action are set for pull-request events (opened,
	// synchronize, reopened).
	PullRequest int
	Action      string
	// Base is the branch a pull request merges into.
	Base string
}

// Webhooks serves /hooks/github, /hooks/gitea, /hooks/gitlab and
// /hooks/generic. Every request is authenticated against Secret in
// constant time; anything unsigned or wrongly signed gets 401 and changes
// nothing.
type Webhooks struct {
	Secret  []byte
	MaxBody int64 // default DefaultMaxWebhookBody
	// OnEvent receives each verified push or pull-request event. It must not
	// block: hand the event to a Trigger.
	OnEvent func(Event)
}

// Handler returns the webhook routes.
func (w *Webhooks) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"github", "gitea", "gitlab", "generic"} {
		mux.HandleFunc("/hooks/"+p, func(rw http.ResponseWriter, r *http.Request) { w.serve(p, rw, r) })
	}
	return mux
}

func (w *Webhooks) serve(provider string, rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "webhooks are POST requests", http.StatusMethodNotAllowed)
		return
	}
	if len(w.Secret) == 0 {
		// No secret configured means no webhook can be trusted.
		http.Error(rw, "webhooks are disabled: no secret configured", http.StatusUnauthorized)
		return
	}
	max := w.MaxBody
	if max <= 0 {
		max = DefaultMaxWebhookBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(rw, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(rw, "cannot read body", http.StatusBadRequest)
		return
	}
	if !w.verify(provider, r.Header, body) {
		http.Error(rw, "signature or token missing or wrong", http.StatusUnauthorized)
		return
	}
	ev, ok, err := parseEvent(provider, r.Header, body)
	if err != nil {
		http.Error(rw, "cannot parse the event: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !ok {
		// A verified event the daemon does not act on (ping, issue comment).
		rw.WriteHeader(http.StatusNoContent)
		return
	}
	if w.OnEvent != nil {
		w.OnEvent(ev)
	}
	rw.WriteHeader(http.StatusAccepted)
}

// verify checks the provider's signature (HMAC-SHA256 of the body) or token,
// in constant time.
func (w *Webhooks) verify(provider string, h http.Header, body []byte) bool {
	switch provider {
	case "github":
		return validHMAC(w.Secret, body, strings.TrimPrefix(h.Get("X-Hub-Signature-256"), "sha256="), h.Get("X-Hub-Signature-256") != "")
	case "generic":
		return validHMAC(w.Secret, body, strings.TrimPrefix(h.Get("X-Signature-256"), "sha256="), h.Get("X-Signature-256") != "")
	case "gitea":
		sig := h.Get("X-Gitea-Signature")
		return validHMAC(w.Secret, body, sig, sig != "")
	case "gitlab":
		token := h.Get("X-Gitlab-Token")
		return token != "" && subtle.ConstantTimeCompare([]byte(token), w.Secret) == 1
	}
	return false
}

func validHMAC(secret, body []byte, sigHex string, present bool) bool {
	if !present {
		return false
	}
	got, err := hex.DecodeString(sigHex)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// parseEvent reads the fields the daemon acts on; ok is false for verified
// events it ignores.
func parseEvent(provider string, h http.Header, body []byte) (Event, bool, error) {
	kind := ""
	switch provider {
	case "github":
		kind = h.Get("X-GitHub-Event")
	case "gitea":
		kind = h.Get("X-Gitea-Event")
	case "gitlab":
		switch h.Get("X-Gitlab-Event") {
		case "Push Hook":
			kind = "push"
		case "Merge Request Hook":
			kind = "pull_request"
		}
	case "generic":
		kind = "push"
	}
	if kind != "push" && kind != "pull_request" {
		return Event{}, false, nil
	}
	var p struct {
		Ref         string `json:"ref"`
		After       string `json:"after"`
		Action      string `json:"action"`
		Number      int    `json:"number"`
		PullRequest struct {
			Head struct {
				SHA string `json:"sha"`
			} `json:"head"`
			Base struct {
				Ref string `json:"ref"`
			} `json:"base"`
		} `json:"pull_request"`
		ObjectAttributes struct { // GitLab merge requests
			IID          int    `json:"iid"`
			Action       string `json:"action"`
			TargetBranch string `json:"target_branch"`
			LastCommit   struct {
				ID string `json:"id"`
			} `json:"last_commit"`
		} `json:"object_attributes"`
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &p); err != nil {
			return Event{}, false, err
		}
	}
	ev := Event{Provider: provider, Kind: kind, Ref: p.Ref, After: p.After}
	if kind == "pull_request" {
		ev.PullRequest, ev.Action, ev.After, ev.Base = p.Number, p.Action, p.PullRequest.Head.SHA, p.PullRequest.Base.Ref
		if provider == "gitlab" {
			ev.PullRequest, ev.Action, ev.After, ev.Base = p.ObjectAttributes.IID, p.ObjectAttributes.Action, p.ObjectAttributes.LastCommit.ID, p.ObjectAttributes.TargetBranch
		}
	}
	return ev, true, nil
}

// Trigger coalesces a burst of signals into one: Fire never blocks, and
// however many fire while the daemon is busy, it wakes once.
type Trigger struct{ ch chan struct{} }

// NewTrigger returns a ready Trigger.
func NewTrigger() *Trigger { return &Trigger{ch: make(chan struct{}, 1)} }

// Fire asks for one more pass.
func (t *Trigger) Fire() {
	select {
	case t.ch <- struct{}{}:
	default:
	}
}

// C is where the daemon's loop waits.
func (t *Trigger) C() <-chan struct{} { return t.ch }
