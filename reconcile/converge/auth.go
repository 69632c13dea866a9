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
// cluster that had no auth). A node that answers none, or cannot be
// reached, gets the first password, and its errors show on use. ctx bounds
// the probes (each also at most 5 s).
func FallbackDialer(ctx context.Context, passwords []string) Dialer {
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
			return RedisDialer(pw)(addr)
		}
		for _, pw := range passwords {
			a := RedisDialer(pw)(addr)
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
		return RedisDialer(passwords[0])(addr)
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
	done := func() bool {
		for _, n := range res.Nodes {
			if !n.AcceptsDeclared || n.Others > 0 || !n.MasterauthDeclared {
				return false
			}
		}
		return len(res.Missed) == 0
	}
	if res.Done = done(); res.Done || dryRun {
		return res, nil
	}
	// 1. Every node takes the declared password too.
	for i, c := range conns {
		n := &res.Nodes[i]
		if n.AcceptsDeclared || pw == "" {
			continue
		}
		if _, err := c.a.Do(ctx, "ACL", "SETUSER", "default", "on", ">"+pw); err != nil {
			return res, fmt.Errorf("%s: add the new password: %w", c.pod, err)
		}
		n.AcceptsDeclared = true
		if n.noPassword {
			n.Others, n.noPassword = n.Others-1, false
		}
		res.Added++
	}
	// 2. Every node authenticates to its master with it.
	for i, c := range conns {
		n := &res.Nodes[i]
		if n.MasterauthDeclared {
			continue
		}
		if _, err := c.a.Do(ctx, "CONFIG", "SET", "masterauth", pw); err != nil {
			return res, fmt.Errorf("%s: set masterauth: %w", c.pod, err)
		}
		n.MasterauthDeclared = true
		res.MasterauthSet++
	}
	// 3. Only then, and only when no node was missed, the others go.
	if !drop || len(res.Missed) > 0 {
		return res, nil
	}
	for i, c := range conns {
		n := &res.Nodes[i]
		if n.Others == 0 {
			continue
		}
		args := []any{"ACL", "SETUSER", "default", "on", "resetpass", ">" + pw}
		if pw == "" {
			args = []any{"ACL", "SETUSER", "default", "on", "nopass"}
		}
		if _, err := c.a.Do(ctx, args...); err != nil {
			return res, fmt.Errorf("%s: drop the old passwords: %w", c.pod, err)
		}
		n.Others = 0
		res.Dropped++
	}
	res.Done = done()
	return res, nil
}

// readAuth reads what the default user takes (ACL GETUSER default) and the
// node's masterauth.
func readAuth(ctx context.Context, a Admin, wantHash, pw string) (AuthNode, error) {
	v, err := a.Do(ctx, "ACL", "GETUSER", "default")
	if err != nil {
		return AuthNode{}, err
	}
	flags, hashes := aclUser(v)
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
	n.MasterauthDeclared = configMap(mv)["masterauth"] == pw
	return n, nil
}

// aclUser picks flags and password hashes out of an ACL GETUSER reply,
// RESP2 (a flat list of name, value) or RESP3 (a map).
func aclUser(v any) (flags, passwords []string) {
	field := map[string]any{}
	switch x := v.(type) {
	case map[any]any:
		for k, val := range x {
			field[fmt.Sprint(k)] = val
		}
	case map[string]any:
		field = x
	case []any:
		for i := 0; i+1 < len(x); i += 2 {
			field[fmt.Sprint(x[i])] = x[i+1]
		}
	}
	list := func(v any) []string {
		xs, _ := v.([]any)
		out := make([]string, 0, len(xs))
		for _, x := range xs {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return list(field["flags"]), list(field["passwords"])
}
