package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
)

// MaxUserNameLength bounds spec.users[].name.
const MaxUserNameLength = 64

// ReservedUserNames are the Redis users the project runs itself: default
// (spec.auth's password, the daemon's admin access) and readiness (the
// readiness probe's PING-only user). spec.users may not declare them.
var ReservedUserNames = []string{"default", "readiness"}

// ACLCategories are the command categories of Redis 7.0 (ACL CAT), which
// command rules may name as +@category or -@category, with "all".
var ACLCategories = []string{
	"all", "keyspace", "read", "write", "set", "sortedset", "list", "hash",
	"string", "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin",
	"fast", "slow", "blocking", "dangerous", "connection", "transaction",
	"scripting",
}

var (
	// userName is what a declared user's name looks like: one token Redis
	// and redis.conf read as is.
	userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// commandRule is +/- a command, a command|subcommand, or a @category.
	commandRule = regexp.MustCompile(`^[+-](@[a-z]+|[a-z][a-z0-9_-]*(\|[a-z][a-z0-9_-]*)?)$`)
)

// Command rules without a sign.
const (
	RuleAllCommands = "allcommands"
	RuleNoCommands  = "nocommands"
)

// UserEnabled reports whether the user may log in (Enabled, default true).
func (u User) UserEnabled() bool { return u.Enabled == nil || *u.Enabled }

func (v *validator) users() {
	seen := map[string]int{}
	for i, u := range v.c.Spec.Users {
		path := fmt.Sprintf("spec.users[%d]", i)
		v.user(path, u)
		if u.Name == "" {
			continue
		}
		if j, dup := seen[u.Name]; dup {
			v.fail(path+".name", "user %q is already declared at spec.users[%d]", u.Name, j)
		} else {
			seen[u.Name] = i
		}
	}
}

func (v *validator) user(path string, u User) {
	switch {
	case u.Name == "":
		v.fail(path+".name", "is required: the name clients log in with (AUTH name password)")
	case slices.Contains(ReservedUserNames, u.Name):
		v.fail(path+".name", "%q is redis-gitops' own user (%s); choose another name", u.Name, reservedUserWhy(u.Name))
	case len(u.Name) > MaxUserNameLength:
		v.fail(path+".name", "is %d characters; at most %d", len(u.Name), MaxUserNameLength)
	case !userName.MatchString(u.Name):
		v.fail(path+".name", "%q is not a user name: use letters, digits, \".\", \"_\" and \"-\", starting with a letter or digit", u.Name)
	}
	if len(u.PasswordSecretRefs) == 0 {
		v.fail(path+".passwordSecretRefs", "is required: at least one Secret holding the user's password (passwords are never written in Git)")
	}
	refs := map[SecretRef]int{}
	for i, ref := range u.PasswordSecretRefs {
		rpath := fmt.Sprintf("%s.passwordSecretRefs[%d]", path, i)
		if ref.Name == "" {
			v.fail(rpath+".name", "is required: the Secret, in the cluster's namespace, that holds the password")
		} else if msgs := content.IsDNS1123Subdomain(ref.Name); len(msgs) > 0 {
			v.fail(rpath+".name", "%q is not a valid Secret name: %s", ref.Name, strings.Join(msgs, "; "))
		}
		if msgs := k8svalidation.IsConfigMapKey(ref.Key); len(msgs) > 0 {
			v.fail(rpath+".key", "%q is not a valid Secret key: %s", ref.Key, strings.Join(msgs, "; "))
		}
		if j, dup := refs[ref]; dup {
			v.fail(rpath, "Secret %s key %s is already listed at passwordSecretRefs[%d]", ref.Name, ref.Key, j)
		}
		refs[ref] = i
	}
	if len(u.Commands) == 0 {
		v.fail(path+".commands", "is required: the commands the user may run, such as [\"+@read\", \"+@write\", \"-@dangerous\"]; a user starts with none")
	}
	for i, r := range u.Commands {
		v.commandRule(fmt.Sprintf("%s.commands[%d]", path, i), r)
	}
	v.patterns(path+".keys", "key", u.Keys)
	v.patterns(path+".channels", "channel", u.Channels)
}

func reservedUserWhy(name string) string {
	if name == "default" {
		return "spec.auth's password and the daemon's admin access"
	}
	return "the readiness probe's PING-only login"
}

// commandRule checks one ACL command rule as Redis 7.0 reads it. Whether
// a command exists is checked against each node's command table when the
// daemon plans (a rule Redis would reject changes no node).
func (v *validator) commandRule(path, r string) {
	switch {
	case r == RuleAllCommands || r == RuleNoCommands:
		return
	case strings.HasPrefix(r, "~") || strings.HasPrefix(r, "%") || strings.HasPrefix(r, "&"):
		v.fail(path, "%q is a key or channel pattern: list it under keys or channels, without its prefix", r)
		return
	case r == "on" || r == "off" || r == "nopass" || r == "reset" || strings.HasPrefix(r, ">") || strings.HasPrefix(r, "#"):
		v.fail(path, "%q is not a command rule: passwords come from passwordSecretRefs and logins from enabled", r)
		return
	case !commandRule.MatchString(r):
		v.fail(path, "%q is not a command rule: write +command, -command, +command|subcommand, +@category or -@category (lowercase), allcommands or nocommands", r)
		return
	}
	if cat, ok := strings.CutPrefix(r[1:], "@"); ok && !slices.Contains(ACLCategories, cat) {
		msg := fmt.Sprintf("%q names no command category; Redis has @%s", r, strings.Join(ACLCategories, ", @"))
		if s := suggest(cat, ACLCategories); s != "" {
			msg = fmt.Sprintf("%q names no command category; did you mean \"%c@%s\"?", r, r[0], s)
		}
		v.fail(path, "%s", msg)
	}
}

// patterns checks key or channel patterns: one glob each, written without
// Redis's prefix (~ or &), "*" alone or not at all.
func (v *validator) patterns(path, what string, ps []string) {
	seen := map[string]int{}
	for i, p := range ps {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case p == "":
			v.fail(ipath, "must not be empty; \"*\" is every %s", what)
		case strings.ContainsFunc(p, isSpaceOrControl) || strings.ContainsAny(p, "\t\""):
			v.fail(ipath, "%q must be one word, without spaces, quotes or control characters", p)
		case what == "key" && (strings.HasPrefix(p, "~") || strings.HasPrefix(p, "%")):
			v.fail(ipath, "%q: write the pattern alone, without Redis's ~ or %%R~ prefix (\"app:*\")", p)
		case what == "channel" && strings.HasPrefix(p, "&"):
			v.fail(ipath, "%q: write the pattern alone, without Redis's & prefix (\"news.*\")", p)
		}
		if j, dup := seen[p]; dup {
			v.fail(ipath, "%q is already listed at [%d]", p, j)
		}
		seen[p] = i
	}
	if len(ps) > 1 && slices.Contains(ps, "*") {
		v.fail(path, "\"*\" already matches every %s: list it alone", what)
	}
}
