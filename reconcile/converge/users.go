package converge

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/redis-gitops/redis-gitops/reconcile/acl"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// UsersResult is one pass over the cluster's ACL users.
type UsersResult struct {
	// Plan is what this pass found to do (acl.PlanUsers), before it ran.
	Plan acl.Plan `json:"plan" yaml:"plan"`
	// Applied counts the steps that ran.
	Applied int `json:"applied,omitempty" yaml:"applied,omitempty"`
	// Missed are the pods not read (not running, unreachable), with why.
	Missed []string `json:"missed,omitempty" yaml:"missed,omitempty"`
	// Done: every pod was read and has every declared user as declared,
	// and none that Git dropped.
	Done bool `json:"done" yaml:"done"`
}

// ConvergeUsers reads every running pod's users (ACL USERS, then ACL
// GETUSER of the declared and managed ones) and command table (COMMAND),
// plans (acl.PlanUsers) and, unless dryRun, calls before (when set: the
// caller records what it is about to do; its error stops the pass) and
// runs the steps in order, stopping at the first error. A pod not running
// or not answering is Missed, not an error. A declared rule a node
// refuses fails the plan before any node changes, and before before.
func ConvergeUsers(ctx context.Context, dial Dialer, port int, pods []topology.Pod, declared []acl.User, managed []string, dryRun bool, before func() error) (UsersResult, error) {
	var res UsersResult
	var nodes []acl.Node
	for _, p := range pods {
		if p.IP == "" {
			res.Missed = append(res.Missed, p.Name+": not running")
			continue
		}
		n, err := readUsers(ctx, dial(net.JoinHostPort(p.IP, strconv.Itoa(port))), declared, managed)
		if err != nil {
			res.Missed = append(res.Missed, fmt.Sprintf("%s: %v", p.Name, err))
			continue
		}
		n.Pod = p.Name
		nodes = append(nodes, n)
	}
	plan, err := acl.PlanUsers(declared, managed, nodes)
	if err != nil {
		return res, err
	}
	res.Plan = plan
	if dryRun {
		res.Done = len(plan.Steps) == 0 && len(res.Missed) == 0
		return res, nil
	}
	// Only a plan checked against at least one node's command table is
	// recorded: with every pod missed, no rule was checked.
	if before != nil && len(nodes) > 0 {
		if err := before(); err != nil {
			return res, err
		}
	}
	if res.Done = len(plan.Steps) == 0 && len(res.Missed) == 0; res.Done {
		return res, nil
	}
	byName := map[string]acl.User{}
	for _, u := range declared {
		byName[u.Name] = u
	}
	addr := map[string]string{}
	for _, p := range pods {
		addr[p.Name] = net.JoinHostPort(p.IP, strconv.Itoa(port))
	}
	for _, st := range plan.Steps {
		if err := runUserStep(ctx, dial(addr[st.Pod]), st, byName[st.User]); err != nil {
			return res, err
		}
		res.Applied++
	}
	res.Done = len(res.Missed) == 0
	return res, nil
}

// runUserStep runs one step; its error names the user and the pod, never
// the command's arguments (they carry password hashes).
func runUserStep(ctx context.Context, a Admin, st acl.Step, u acl.User) error {
	defer a.Close()
	if _, err := a.Do(ctx, st.Args(u)...); err != nil {
		return fmt.Errorf("%s user %s on %s: %w", st.Kind, st.User, st.Pod, err)
	}
	return nil
}

// readUsers reads what PlanUsers needs of one node.
func readUsers(ctx context.Context, a Admin, declared []acl.User, managed []string) (acl.Node, error) {
	defer a.Close()
	var n acl.Node
	v, err := a.Do(ctx, "ACL", "USERS")
	if err != nil {
		return n, err
	}
	xs, ok := v.([]any)
	if !ok {
		return n, fmt.Errorf("acl users: unexpected reply %T", v)
	}
	for _, x := range xs {
		n.Names = append(n.Names, fmt.Sprint(x))
	}
	want := slices.Clone(managed)
	for _, u := range declared {
		want = append(want, u.Name)
	}
	n.Users = map[string]acl.Live{}
	for _, name := range n.Names {
		if !slices.Contains(want, name) {
			continue
		}
		v, err := a.Do(ctx, "ACL", "GETUSER", name)
		if err != nil {
			return n, err
		}
		if n.Users[name], err = acl.ParseGetUser(v); err != nil {
			return n, fmt.Errorf("user %s: %w", name, err)
		}
	}
	if len(declared) > 0 {
		v, err := a.Do(ctx, "COMMAND")
		if err != nil {
			return n, err
		}
		if n.Table, err = acl.ParseCommandTable(v); err != nil {
			return n, err
		}
	}
	return n, nil
}
