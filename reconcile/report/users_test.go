package report

import (
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/reconcile/acl"
	"github.com/redis-gitops/redis-gitops/reconcile/converge"
)

func usersResult() *converge.UsersResult {
	return &converge.UsersResult{Plan: acl.Plan{
		Steps: []acl.Step{
			{Pod: "cache-1", User: "app", Kind: acl.Update, Diffs: []acl.Diff{
				{Field: acl.FieldCommands, Live: "-@all +get +flushall", Declared: "+get"},
				{Field: acl.FieldPasswords, Live: "2 accepted, 1 not declared", Declared: "the 1 of its Secrets"},
			}},
			{Pod: "cache-1", User: "old", Kind: acl.Delete, Diffs: []acl.Diff{{Field: acl.FieldExists, Live: "exists", Declared: "removed from spec.users"}}},
		},
		Unmanaged: []acl.Unmanaged{{Pod: "cache-0", User: "alice"}},
	}}
}

func TestUsersInTheReport(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dryRun  bool
		applied int
		detail  string
		action  string
	}{
		{"drift: report", true, 0, "would be set again from spec.users (ACL SETUSER)", "planned: acl: set user app on cache-1 again (differs in commands, credentials)"},
		{"drift: correct", false, 2, "corrected: set again from spec.users (ACL SETUSER)", "acl: set user app on cache-1 again (differs in commands, credentials)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := usersResult()
			u.Applied = tc.applied
			r := Build(Input{Cluster: "prod/cache", Spec: cacheSpec(), Topology: &converge.Result{Users: u}, DryRun: tc.dryRun})
			byPath := map[string]DriftEntry{}
			for _, d := range r.Drift {
				if d.Kind == KindACLUser {
					byPath[d.Subject+" "+d.Path] = d
				}
			}
			cmds := byPath["cache-1 spec.users[app].commands"]
			if cmds.Live != "-@all +get +flushall" || cmds.Desired != "+get" || cmds.Detail != tc.detail {
				t.Errorf("commands drift: %+v, want live, desired and %q", cmds, tc.detail)
			}
			if pw := byPath["cache-1 spec.users[app].credentials"]; pw.Live != "2 accepted, 1 not declared" {
				t.Errorf("password drift: %+v", pw)
			}
			// The Markdown report keeps its table whole (reports mask the
			// word after "password").
			if md := string(r.Markdown()); !strings.Contains(md, "2 accepted, 1 not declared") || strings.Contains(md, "***") {
				t.Errorf("the report's Markdown:\n%s", md)
			}
			if _, ok := byPath["cache-1 spec.users[old]"]; !ok {
				t.Errorf("the user Git dropped is not in the drift: %v", byPath)
			}
			if alice := byPath["cache-0 spec.users"]; alice.Live != "user alice" || !strings.Contains(alice.Detail, "a user added by hand") {
				t.Errorf("the hand-made user: %+v", alice)
			}
			if len(r.Actions) == 0 || r.Actions[0] != tc.action {
				t.Errorf("actions %q, want first %q", r.Actions, tc.action)
			}
		})
	}
}
