package acl

import (
	"fmt"
	"strings"
)

// Command is one entry of a node's command table (COMMAND): its name, its
// ACL categories (without "@") and, for a container such as CONFIG, its
// subcommands ("config|get").
type Command struct {
	Name        string
	Categories  []string
	Subcommands []Command
}

// Table is a node's command table by lowercase name.
type Table map[string]Command

// ParseCommandTable reads a COMMAND reply, RESP2 or RESP3: one array per
// command, [name, arity, flags, first key, last key, step, ACL categories,
// tips, key specs, subcommands] (Redis 7).
func ParseCommandTable(v any) (Table, error) {
	entries, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("command table: unexpected reply %T", v)
	}
	t := make(Table, len(entries))
	for _, e := range entries {
		c, err := parseCommand(e)
		if err != nil {
			return nil, err
		}
		t[c.Name] = c
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("command table: empty")
	}
	return t, nil
}

func parseCommand(e any) (Command, error) {
	f, ok := e.([]any)
	if !ok || len(f) < 7 {
		return Command{}, fmt.Errorf("command table: unexpected entry %T of %d fields (Redis 7 sends 10)", e, len(f))
	}
	c := Command{Name: strings.ToLower(fmt.Sprint(f[0]))}
	for _, cat := range list(f[6]) {
		c.Categories = append(c.Categories, strings.TrimPrefix(cat, "@"))
	}
	if len(f) >= 10 {
		subs, _ := f[9].([]any)
		for _, s := range subs {
			sc, err := parseCommand(s)
			if err != nil {
				return Command{}, err
			}
			c.Subcommands = append(c.Subcommands, sc)
		}
	}
	return c, nil
}

// list reads a RESP array or set of strings.
func list(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, s := range x {
			out = append(out, fmt.Sprint(s))
		}
	case map[any]any: // a RESP3 set, as some clients decode it
		for s := range x {
			out = append(out, fmt.Sprint(s))
		}
	case []string:
		out = x
	}
	return out
}

// Perms is what a list of command rules allows: every command and
// subcommand bit, as Redis 7.0 keeps them, and whether commands added
// later (modules) are allowed too (+@all).
type Perms struct {
	Future bool
	Bits   map[string]bool
	// FirstArgs are Redis 7.0's deprecated first-argument rules
	// ("+select|0" on a command without subcommands).
	FirstArgs map[string]bool
}

// Equal tells whether two Perms allow the same.
func (p Perms) Equal(o Perms) bool {
	return p.Future == o.Future && sameSet(p.Bits, o.Bits) && sameSet(p.FirstArgs, o.FirstArgs)
}

func sameSet(a, b map[string]bool) bool {
	n := 0
	for k, v := range a {
		if v {
			n++
			if !b[k] {
				return false
			}
		}
	}
	for _, v := range b {
		if v {
			n--
		}
	}
	return n == 0
}

// Eval applies command rules, from none (as after ACL SETUSER ... reset),
// the way Redis 7.0 does: +@category and -@category set the bits of every
// command in it and of all their subcommands, and of each subcommand in it;
// +command the command's and all its subcommands'; +command|sub the one
// subcommand's. Comparing Eval of the declared rules with Eval of the
// rules a node prints (ACL GETUSER, which rewrites them: "+@read -keys"
// comes back as a list of categories and commands) tells whether the user
// may run the same commands, whatever the wording. A rule Redis would
// refuse (an unknown command, category or subcommand) is an error.
func (t Table) Eval(rules []string) (Perms, error) {
	p := Perms{Bits: map[string]bool{}, FirstArgs: map[string]bool{}}
	for _, r := range rules {
		if err := t.apply(&p, r); err != nil {
			return Perms{}, err
		}
	}
	return p, nil
}

func (t Table) apply(p *Perms, r string) error {
	switch r {
	case "allcommands", "+@all":
		p.Future = true
		for _, c := range t {
			setAll(p, c, true)
		}
		return nil
	case "nocommands", "-@all":
		p.Future = false
		p.Bits, p.FirstArgs = map[string]bool{}, map[string]bool{}
		return nil
	}
	if len(r) < 2 || (r[0] != '+' && r[0] != '-') {
		return fmt.Errorf("%q is not a command rule", r)
	}
	allow, name := r[0] == '+', strings.ToLower(r[1:])
	if cat, ok := strings.CutPrefix(name, "@"); ok {
		found := false
		for _, c := range t {
			found = t.category(p, c, cat, allow) || found
		}
		if !found && !knownCategory(cat) {
			return fmt.Errorf("%q: no command category %q", r, cat)
		}
		return nil
	}
	cmd, sub, hasSub := strings.Cut(name, "|")
	c, ok := t[cmd]
	if !ok {
		return fmt.Errorf("%q: no command %q on this node", r, cmd)
	}
	if !hasSub {
		setAll(p, c, allow)
		return nil
	}
	if len(c.Subcommands) == 0 {
		if !allow || strings.Contains(sub, "|") {
			return fmt.Errorf("%q: %s has no subcommands", r, cmd)
		}
		p.FirstArgs[name] = true // Redis 7.0's deprecated first-arg rule
		return nil
	}
	for _, s := range c.Subcommands {
		if s.Name == name {
			p.Bits[name] = allow
			return nil
		}
	}
	return fmt.Errorf("%q: %s has no subcommand %q", r, cmd, sub)
}

// category sets the bits of c (and its subcommands) when c is in cat, and
// of each subcommand in cat; it reports whether any was.
func (t Table) category(p *Perms, c Command, cat string, allow bool) bool {
	found := false
	if has(c.Categories, cat) {
		setAll(p, c, allow)
		found = true
	}
	for _, s := range c.Subcommands {
		if has(s.Categories, cat) {
			p.Bits[s.Name] = allow
			found = true
		}
	}
	return found
}

func setAll(p *Perms, c Command, allow bool) {
	p.Bits[c.Name] = allow
	for _, s := range c.Subcommands {
		p.Bits[s.Name] = allow
	}
	for k := range p.FirstArgs {
		if strings.HasPrefix(k, c.Name+"|") {
			delete(p.FirstArgs, k)
		}
	}
}

func has(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// knownCategory: a category no command of the table is in is still one
// Redis knows (a module's, or empty in this version).
func knownCategory(cat string) bool {
	for _, c := range categories {
		if c == cat {
			return true
		}
	}
	return false
}

// categories of Redis 7.0 (ACL CAT).
var categories = []string{
	"keyspace", "read", "write", "set", "sortedset", "list", "hash",
	"string", "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin",
	"fast", "slow", "blocking", "dangerous", "connection", "transaction",
	"scripting",
}
