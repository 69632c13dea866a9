package acl

import (
	"fmt"
	"slices"
	"strings"
)

// Reserved are the users the project runs itself and never plans: default
// (spec.auth) and readiness (the readiness probe).
var Reserved = []string{"default", "readiness"}

// Node is what one node has, read before any change.
type Node struct {
	Pod string
	// Names are every user of the node (ACL USERS).
	Names []string
	// Users are the node's managed users (declared, or declared before)
	// that exist on it, read with ACL GETUSER.
	Users map[string]Live
	// Table is the node's command table (COMMAND).
	Table Table
}

// StepKind is what a step does to one user on one node.
type StepKind string

// Steps of a users plan.
const (
	Create StepKind = "create" // ACL SETUSER name reset ...
	Update StepKind = "update" // ACL SETUSER name reset ... (the whole user again)
	Delete StepKind = "delete" // ACL DELUSER name
)

// Step is one user to change on one node, with why. It names no password.
type Step struct {
	Pod   string   `json:"pod" yaml:"pod"`
	User  string   `json:"user" yaml:"user"`
	Kind  StepKind `json:"kind" yaml:"kind"`
	Diffs []Diff   `json:"diffs,omitempty" yaml:"diffs,omitempty"`
}

func (s Step) String() string {
	switch s.Kind {
	case Create:
		return fmt.Sprintf("acl: create user %s on %s", s.User, s.Pod)
	case Delete:
		return fmt.Sprintf("acl: delete user %s on %s: no longer in spec.users", s.User, s.Pod)
	}
	var fields []string
	for _, d := range s.Diffs {
		fields = append(fields, d.Field)
	}
	// Fields in parentheses: reports mask the word after "password".
	return fmt.Sprintf("acl: set user %s on %s again (differs in %s)", s.User, s.Pod, strings.Join(fields, ", "))
}

// Args is the command the step runs; u is the declared user (unused for
// Delete).
func (s Step) Args(u User) []any {
	if s.Kind == Delete {
		return []any{"ACL", "DELUSER", s.User}
	}
	return SetUserArgs(u)
}

// Unmanaged is a user found on a node that Git never declared (made by
// hand, or by another tool): reported, never deleted.
type Unmanaged struct {
	Pod  string `json:"pod" yaml:"pod"`
	User string `json:"user" yaml:"user"`
}

// Plan is the users plan of a cluster: the steps, node by node, and the
// users found that the project does not manage.
type Plan struct {
	Steps     []Step      `json:"steps,omitempty" yaml:"steps,omitempty"`
	Unmanaged []Unmanaged `json:"unmanaged,omitempty" yaml:"unmanaged,omitempty"`
}

// PlanUsers compares the declared users with every node's: a declared
// user a node lacks is created, one that differs in any field is set again
// (whole, from reset), and a user the project managed before (managed)
// that Git no longer declares is deleted. Other users, besides the
// reserved ones, are Unmanaged. A declared rule that a node's command
// table refuses (an unknown command) fails the whole plan, before any
// node changes, naming the user, the rule and the node.
func PlanUsers(declared []User, managed []string, nodes []Node) (Plan, error) {
	var p Plan
	// First every rule against every node: nothing runs if one is refused.
	for _, n := range nodes {
		for _, u := range declared {
			if _, err := n.Table.Eval(u.Commands); err != nil {
				return Plan{}, fmt.Errorf("user %s: %s refuses a command rule: %w", u.Name, n.Pod, err)
			}
		}
	}
	isDeclared := map[string]bool{}
	for _, u := range declared {
		isDeclared[u.Name] = true
	}
	for _, n := range nodes {
		for _, u := range declared {
			live, ok := n.Users[u.Name]
			if !ok {
				p.Steps = append(p.Steps, Step{Pod: n.Pod, User: u.Name, Kind: Create,
					Diffs: []Diff{{Field: FieldExists, Live: "no such user", Declared: "declared"}}})
				continue
			}
			diffs, err := Compare(u, live, n.Table)
			if err != nil {
				return Plan{}, fmt.Errorf("%s: %w", n.Pod, err)
			}
			if len(diffs) > 0 {
				p.Steps = append(p.Steps, Step{Pod: n.Pod, User: u.Name, Kind: Update, Diffs: diffs})
			}
		}
		names := slices.Clone(n.Names)
		slices.Sort(names)
		for _, name := range names {
			switch {
			case isDeclared[name] || slices.Contains(Reserved, name):
			case slices.Contains(managed, name):
				p.Steps = append(p.Steps, Step{Pod: n.Pod, User: name, Kind: Delete,
					Diffs: []Diff{{Field: FieldExists, Live: "exists", Declared: "removed from spec.users"}}})
			default:
				p.Unmanaged = append(p.Unmanaged, Unmanaged{Pod: n.Pod, User: name})
			}
		}
	}
	return p, nil
}

// Managed is the record of managed users after a plan ran to its end:
// the declared users. Before the end, the caller keeps the union of the
// old record and these, so that a user dropped from Git is still deleted
// from the nodes a pass did not reach.
func Managed(declared []User) []string {
	out := make([]string, 0, len(declared))
	for _, u := range declared {
		out = append(out, u.Name)
	}
	slices.Sort(out)
	return out
}
