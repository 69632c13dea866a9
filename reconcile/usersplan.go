package reconcile

import (
	"slices"
	"strings"

	"github.com/redis-gitops/redis-gitops/reconcile/acl"
	"github.com/redis-gitops/redis-gitops/spec"
)

// specUsersSteps is the ACL users plan when no node is read (a cluster
// that does not exist yet, or a plan offline against the base revision):
// the head spec's users against the base's, on every pod of the head. A
// user new to the spec is created, one it dropped deleted, one whose
// fields differ set again; passwords cannot be compared without the
// Secrets, so a change of passwordSecretRefs shows as the Secrets named.
func specUsersSteps(old, c *spec.RedisCluster, pods []string) []acl.Step {
	before := map[string]spec.User{}
	if old != nil {
		for _, u := range old.Spec.Users {
			before[u.Name] = u
		}
	}
	var out []acl.Step
	for _, pod := range pods {
		declared := map[string]bool{}
		for _, u := range c.Spec.Users {
			declared[u.Name] = true
			b, ok := before[u.Name]
			if !ok {
				out = append(out, acl.Step{Pod: pod, User: u.Name, Kind: acl.Create,
					Diffs: []acl.Diff{{Field: acl.FieldExists, Live: "no such user", Declared: "declared"}}})
				continue
			}
			if diffs := specUserDiffs(b, u); len(diffs) > 0 {
				out = append(out, acl.Step{Pod: pod, User: u.Name, Kind: acl.Update, Diffs: diffs})
			}
		}
		if old == nil {
			continue
		}
		for _, u := range old.Spec.Users {
			if !declared[u.Name] {
				out = append(out, acl.Step{Pod: pod, User: u.Name, Kind: acl.Delete,
					Diffs: []acl.Diff{{Field: acl.FieldExists, Live: "exists", Declared: "removed from spec.users"}}})
			}
		}
	}
	return out
}

func specUserDiffs(a, b spec.User) []acl.Diff {
	var out []acl.Diff
	onOff := func(on bool) string {
		if on {
			return "on"
		}
		return "off"
	}
	if a.UserEnabled() != b.UserEnabled() {
		out = append(out, acl.Diff{Field: acl.FieldEnabled, Live: onOff(a.UserEnabled()), Declared: onOff(b.UserEnabled())})
	}
	refs := func(u spec.User) []string {
		var s []string
		for _, r := range u.PasswordSecretRefs {
			s = append(s, r.Name+"/"+r.Key)
		}
		return s
	}
	if ra, rb := refs(a), refs(b); !sameSet(ra, rb) {
		out = append(out, acl.Diff{Field: acl.FieldPasswords, Live: "Secrets " + strings.Join(ra, ", "), Declared: "Secrets " + strings.Join(rb, ", ")})
	}
	if !slices.Equal(a.Commands, b.Commands) {
		out = append(out, acl.Diff{Field: acl.FieldCommands, Live: strings.Join(a.Commands, " "), Declared: strings.Join(b.Commands, " ")})
	}
	if !sameSet(a.Keys, b.Keys) {
		out = append(out, acl.Diff{Field: acl.FieldKeys, Live: strings.Join(a.Keys, " "), Declared: strings.Join(b.Keys, " ")})
	}
	if !sameSet(a.Channels, b.Channels) {
		out = append(out, acl.Diff{Field: acl.FieldChannels, Live: strings.Join(a.Channels, " "), Declared: strings.Join(b.Channels, " ")})
	}
	return out
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
