package converge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile/acl"
	"github.com/redis-gitops/redis-gitops/reconcile/rediserr"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// IsAuthError tells an error of a node that refused the password it was
// given (or wanted one it was not given).
func IsAuthError(err error) bool {
	return rediserr.IsAuth(err)
}

// FallbackDialer dials each node with the first of passwords it accepts,
// trying them in order with a PING, and keeps the answer per address. It
// is how the reconciler reaches every node while a password changes: some
// nodes may still take only the old one ("" is no password at all, a
// cluster that had no auth). t is the cluster's TLS, nil for plaintext.
// A node that answers none, or cannot be
// reached, gets the first password, and its errors show on use. ctx bounds
// the probes (each also at most 5 s).
func FallbackDialer(ctx context.Context, passwords []string, t *TLS) Dialer {
	var mu sync.Mutex
	chosen := map[string]string{}
	return func(addr string) Admin {
		mu.Lock()
		pw, ok := chosen[addr]
		mu.Unlock()
		if ok || len(passwords) == 1 {
			if !ok {
				pw = passwords[0]
			}
			return RedisDialer(pw, t)(addr)
		}
		for _, pw := range passwords {
			a := RedisDialer(pw, t)(addr)
			probe, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := a.Do(probe, "PING")
			cancel()
			if err == nil {
				mu.Lock()
				chosen[addr] = pw
				mu.Unlock()
				return a
			}
			if !IsAuthError(err) {
				return a // unreachable: the caller sees why
			}
			a.Close()
		}
		return RedisDialer(passwords[0], t)(addr)
	}
}

// PasswordHash is how Redis lists a password in ACL GETUSER: the hex
// SHA-256 of it.
func PasswordHash(pw string) string {
	sum := sha256.Sum256([]byte(pw))
	return hex.EncodeToString(sum[:])
}

// AuthNode is what one node accepts, read before any change.
type AuthNode struct {
	Pod string `json:"pod" yaml:"pod"`
	// AcceptsDeclared: the default user takes the declared password (or,
	// when the spec has no auth, needs none).
	AcceptsDeclared bool `json:"acceptsDeclared" yaml:"acceptsDeclared"`
	// Others is how many other passwords the default user takes (an
	// old one during a rotation; 1 for "no password" when auth is new).
	Others     int `json:"others" yaml:"others"`
	noPassword bool
	// MasterauthDeclared: the node authenticates to its master with the
	// declared password.
	MasterauthDeclared bool `json:"masterauthDeclared" yaml:"masterauthDeclared"`
}

// AuthResult is one pass over the cluster's passwords.
type AuthResult struct {
	Nodes []AuthNode `json:"nodes" yaml:"nodes"`
	// Added, MasterauthSet and Dropped count the nodes changed: the
	// declared password added, masterauth set to it, the others dropped.
	Added         int `json:"added,omitempty" yaml:"added,omitempty"`
	MasterauthSet int `json:"masterauthSet,omitempty" yaml:"masterauthSet,omitempty"`
	Dropped       int `json:"dropped,omitempty" yaml:"dropped,omitempty"`
	// Missed are the pods not read (not running, unreachable), with why:
	// the old passwords stay until none is missed.
	Missed []string `json:"missed,omitempty" yaml:"missed,omitempty"`
	// Steps is the password plan this pass made (PlanAuth), before it ran.
	Steps []AuthStep `json:"steps,omitempty" yaml:"steps,omitempty"`
	// Done: every node takes the declared password and only it, and uses
	// it as masterauth.
	Done bool `json:"done" yaml:"done"`
}

// AuthProgress is a password change across passes: this pass's result,
// and when the old password goes (zero when no rotation is under way).
type AuthProgress struct {
	AuthResult
	DropAfter time.Time `json:"dropAfter,omitzero" yaml:"dropAfter,omitempty"`
}

// Others counts the nodes that take a password besides the declared one.
func (r AuthResult) Others() int {
	n := 0
	for _, x := range r.Nodes {
		if x.Others > 0 {
			n++
		}
	}
	return n
}

// AcceptAll reports whether every node now takes the declared password and
// authenticates to its master with it: from then on the declared
// password alone reaches every node, whatever else is still accepted.
func (r AuthResult) AcceptAll() bool {
	for _, n := range r.Nodes {
		if !n.AcceptsDeclared || !n.MasterauthDeclared {
			return false
		}
	}
	return len(r.Nodes) > 0
}

// ConvergeAuth moves every running pod of pods to the declared password pw
// ("" for no auth), in the order that keeps clients and replication links
// working: first every node accepts pw besides what it took before (ACL
// SETUSER default >pw), then every node authenticates to its master with
// pw (CONFIG SET masterauth; a link up stays up, a link that reconnects
// uses pw, which its master now takes), and only with drop, and only once
// every node has been read and changed, the other passwords go (ACL
// SETUSER default resetpass >pw). Existing connections stay authenticated
// throughout. With dryRun it only reads.
//
// Turning auth on for a cluster that had none takes effect in step 1:
// Redis cannot take "the password or none", so clients must send it from
// then on; a rotation after that keeps both passwords for the grace.
//
// A pod not running or not answering is Missed, not an error: the others
// move on, and the old passwords stay until a pass reads every pod. Only
// a refused change is an error. Nothing here logs or returns a password:
// errors name the command and the pod only.
func ConvergeAuth(ctx context.Context, dial Dialer, port int, pods []topology.Pod, pw string, drop, dryRun bool) (AuthResult, error) {
	type conn struct {
		pod string
		a   Admin
	}
	var conns []conn
	defer func() {
		for _, c := range conns {
			c.a.Close()
		}
	}()
	var res AuthResult
	want := PasswordHash(pw)
	for _, p := range pods {
		if p.IP == "" {
			res.Missed = append(res.Missed, p.Name+": not running")
			continue
		}
		a := dial(net.JoinHostPort(p.IP, strconv.Itoa(port)))
		n, err := readAuth(ctx, a, want, pw)
		if err != nil {
			a.Close()
			res.Missed = append(res.Missed, fmt.Sprintf("%s: %v", p.Name, err))
			continue
		}
		n.Pod = p.Name
		res.Nodes = append(res.Nodes, n)
		conns = append(conns, conn{p.Name, a})
	}
	steps := PlanAuth(res, pw == "", drop)
	res.Steps = steps
	if res.Done = len(steps) == 0 && len(res.Missed) == 0; res.Done || dryRun {
		return res, nil
	}
	admins := map[string]Admin{}
	for _, c := range conns {
		admins[c.pod] = c.a
	}
	index := map[string]int{}
	for i, n := range res.Nodes {
		index[n.Pod] = i
	}
	for _, st := range steps {
		if !st.Now() {
			continue
		}
		n := &res.Nodes[index[st.Pod]]
		if _, err := admins[st.Pod].Do(ctx, st.args(pw)...); err != nil {
			return res, fmt.Errorf("%s: %s: %w", st.Pod, st.Kind, err)
		}
		switch st.Kind {
		case AddPassword:
			n.AcceptsDeclared = true
			if n.noPassword {
				n.Others, n.noPassword = n.Others-1, false
			}
			res.Added++
		case SetMasterauth:
			n.MasterauthDeclared = true
			res.MasterauthSet++
		case DropPasswords:
			n.Others = 0
			res.Dropped++
		}
	}
	res.Done = len(PlanAuth(res, pw == "", true)) == 0 && len(res.Missed) == 0
	return res, nil
}

// AuthStepKind is one step of a password change on one node.
type AuthStepKind string

// Password steps, in the order they run across the cluster.
const (
	AddPassword   AuthStepKind = "add the new password"           // ACL SETUSER default on >pw
	SetMasterauth AuthStepKind = "set masterauth"                 // CONFIG SET masterauth pw
	DropPasswords AuthStepKind = "drop the old passwords"         // ACL SETUSER default on resetpass >pw
	WaitDrop      AuthStepKind = "keep the old passwords for now" // the grace period runs
)

// AuthStep is one planned password step on one node, with its reason.
// It names no password.
type AuthStep struct {
	Pod    string       `json:"pod" yaml:"pod"`
	Kind   AuthStepKind `json:"kind" yaml:"kind"`
	Reason string       `json:"reason" yaml:"reason"`
}

// Now tells a step this pass runs from one that waits (WaitDrop).
func (s AuthStep) Now() bool { return s.Kind != WaitDrop }

func (s AuthStep) String() string {
	return "password: " + string(s.Kind) + " on " + s.Pod + ": " + s.Reason
}

func (s AuthStep) args(pw string) []any {
	switch s.Kind {
	case AddPassword:
		return []any{"ACL", "SETUSER", "default", "on", ">" + pw}
	case SetMasterauth:
		return []any{"CONFIG", "SET", "masterauth", pw}
	}
	if pw == "" {
		return []any{"ACL", "SETUSER", "default", "on", "nopass"}
	}
	return []any{"ACL", "SETUSER", "default", "on", "resetpass", ">" + pw}
}

// PlanAuth is the password plan over what every node takes: first every
// node accepts the declared password besides what it took before, then
// every node authenticates to its master with it (a link up stays up, a
// link that reconnects uses it, which its master now takes), and only
// with drop, and only when every pod was read, the other passwords go.
// Without drop, the nodes that still take another password get a
// WaitDrop step: the rotation's grace period runs. noAuth: the declared
// state is "no password". Pure: the caller decides drop from its clock.
func PlanAuth(r AuthResult, noAuth, drop bool) []AuthStep {
	var out []AuthStep
	for _, n := range r.Nodes {
		if !n.AcceptsDeclared && !noAuth {
			out = append(out, AuthStep{Pod: n.Pod, Kind: AddPassword, Reason: "it must take the declared password before anything else changes"})
		}
	}
	for _, n := range r.Nodes {
		if !n.MasterauthDeclared {
			out = append(out, AuthStep{Pod: n.Pod, Kind: SetMasterauth, Reason: "replication authenticates with the declared password, which every node now takes"})
		}
	}
	for _, n := range r.Nodes {
		if n.Others == 0 && !(noAuth && !n.AcceptsDeclared) {
			continue
		}
		switch {
		case !drop:
			out = append(out, AuthStep{Pod: n.Pod, Kind: WaitDrop, Reason: "the rotation's grace period is not over: clients may still send the old password"})
		case len(r.Missed) > 0:
			out = append(out, AuthStep{Pod: n.Pod, Kind: WaitDrop, Reason: "not every pod could be read: the old passwords stay until a pass reaches them all"})
		default:
			out = append(out, AuthStep{Pod: n.Pod, Kind: DropPasswords, Reason: "every node takes the declared password and the grace period is over"})
		}
	}
	return out
}

// readAuth reads what the default user takes (ACL GETUSER default) and the
// node's masterauth.
func readAuth(ctx context.Context, a Admin, wantHash, pw string) (AuthNode, error) {
	v, err := a.Do(ctx, "ACL", "GETUSER", "default")
	if err != nil {
		return AuthNode{}, err
	}
	u, err := acl.ParseGetUser(v)
	if err != nil {
		return AuthNode{}, err
	}
	flags, hashes := u.Flags, u.Passwords
	var n AuthNode
	nopass := false
	for _, f := range flags {
		if f == "nopass" {
			nopass = true
		}
	}
	switch {
	case pw == "":
		n.AcceptsDeclared = nopass
		n.Others = len(hashes)
	case nopass:
		// No password is needed: that is the one "other". Adding one
		// (step 1) ends it, since Redis has no "a password or none".
		n.Others, n.noPassword = 1, true
	default:
		for _, h := range hashes {
			if h == wantHash {
				n.AcceptsDeclared = true
			} else {
				n.Others++
			}
		}
	}
	mv, err := a.Do(ctx, "CONFIG", "GET", "masterauth")
	if err != nil {
		return AuthNode{}, err
	}
	n.MasterauthDeclared = ConfigMap(mv)["masterauth"] == pw
	return n, nil
}
