package report

import (
	"fmt"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
)

// authActions says what a pass changed of the nodes' passwords, never
// which password.
func authActions(a converge.AuthResult) []string {
	var out []string
	if a.Added > 0 {
		out = append(out, fmt.Sprintf("password: the new password accepted on %s, besides the old one", plural(a.Added, "node")))
	}
	if a.MasterauthSet > 0 {
		out = append(out, fmt.Sprintf("password: masterauth set to the new password on %s", plural(a.MasterauthSet, "node")))
	}
	if a.Dropped > 0 {
		out = append(out, fmt.Sprintf("password: old passwords dropped on %s", plural(a.Dropped, "node")))
	}
	return out
}
