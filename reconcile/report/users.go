package report

import (
	"github.com/redis-gitops/redis-gitops/reconcile/acl"
	"github.com/redis-gitops/redis-gitops/reconcile/converge"
)

// KindACLUser is the drift kind of a Redis ACL user that differs from
// spec.users, or that Git never declared.
const KindACLUser = "acl-user"

// usersDrift is every difference the users plan found, by node, user and
// field (spec.users[name].field), with what became of it. It names no
// password and no hash (acl.Diff counts them).
func usersDrift(u converge.UsersResult, dryRun bool) []DriftEntry {
	var out []DriftEntry
	for i, st := range u.Plan.Steps {
		detail := "would be set again from spec.users (ACL SETUSER)"
		switch {
		case st.Kind == acl.Create && dryRun:
			detail = "would be created (ACL SETUSER)"
		case st.Kind == acl.Delete && dryRun:
			detail = "would be deleted (ACL DELUSER): Git no longer declares it"
		case dryRun:
		case i >= u.Applied:
			detail = "not corrected: the pass stopped before this step"
		case st.Kind == acl.Create:
			detail = "created (ACL SETUSER)"
		case st.Kind == acl.Delete:
			detail = "deleted (ACL DELUSER): Git no longer declares it"
		default:
			detail = "corrected: set again from spec.users (ACL SETUSER)"
		}
		for _, d := range st.Diffs {
			path := "spec.users[" + st.User + "]"
			if d.Field != acl.FieldExists {
				path += "." + d.Field
			}
			out = append(out, DriftEntry{Source: SourceRedis, Kind: KindACLUser, Subject: st.Pod, Path: path, Live: d.Live, Desired: d.Declared, Detail: detail})
		}
	}
	for _, m := range u.Plan.Unmanaged {
		out = append(out, DriftEntry{Source: SourceRedis, Kind: KindACLUser, Subject: m.Pod, Path: "spec.users", Live: "user " + m.User, Desired: "not declared",
			Detail: "a user added by hand: not in spec.users, so left as it is (redis-gitops deletes only the users it created); declare it in Git or delete it"})
	}
	return out
}
