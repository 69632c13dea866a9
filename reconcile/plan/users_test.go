package plan

import (
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/reconcile/acl"
)

// A plan's ACL user steps read as a table, node by node, whole: the
// password field is counted, never masked into the next cell.
func TestUsersMarkdown(t *testing.T) {
	c := Cluster{Cluster: "prod/cache", Change: Changed, Against: AgainstLive,
		Users: []acl.Step{
			{Pod: "cache-0", User: "app", Kind: acl.Update, Diffs: []acl.Diff{
				{Field: acl.FieldCommands, Live: "-@all +get", Declared: "+get +set"},
				{Field: acl.FieldPasswords, Live: "1 accepted, 1 of its Secrets missing", Declared: "the 2 of its Secrets"},
			}},
			{Pod: "cache-0", User: "old", Kind: acl.Delete, Diffs: []acl.Diff{{Field: acl.FieldExists, Live: "exists", Declared: "removed from spec.users"}}},
		},
		UnmanagedUsers: []acl.Unmanaged{{Pod: "cache-1", User: "alice"}},
	}
	if got, want := c.Summary(), "2 ACL user steps on the nodes"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	md := Result{Clusters: []Cluster{c}}.Markdown()
	for _, want := range []string{
		"### ACL users",
		"| cache-0 | app | update | commands: `-@all +get` → `+get +set`; credentials: `1 accepted, 1 of its Secrets missing` → `the 2 of its Secrets` |",
		"| cache-0 | old | delete | exists → removed from spec.users |",
		"| cache-1 | alice | left as it is | not in spec.users: added by hand |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "***") {
		t.Errorf("Markdown masks a value:\n%s", md)
	}
}
