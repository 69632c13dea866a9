package acl

import (
	"fmt"
	"slices"
	"strings"
)

// User is a declared user, ready to compare and apply: its passwords as
// hex SHA-256 hashes (never the passwords), its rules as in the spec.
type User struct {
	Name    string
	Enabled bool
	// Hashes are the hex SHA-256 of every password it accepts, in the
	// order of its passwordSecretRefs.
	Hashes   []string
	Commands []string
	Keys     []string
	Channels []string
}

// Live is a user as a node has it (ACL GETUSER), in Redis's own words.
type Live struct {
	Flags     []string
	Passwords []string // hex SHA-256 hashes
	Commands  string   // "-@all +@read ..."
	Keys      string   // "~app:* %R~x"
	Channels  string   // "&news.*"
	Selectors int
}

// ParseGetUser reads an ACL GETUSER reply: a map (RESP3) or a flat list of
// field, value (RESP2). Redis 7 sends keys and channels as one string each.
func ParseGetUser(v any) (Live, error) {
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
	default:
		return Live{}, fmt.Errorf("acl getuser: unexpected reply %T", v)
	}
	if _, ok := field["flags"]; !ok {
		return Live{}, fmt.Errorf("acl getuser: no flags in the reply (Redis 7 sends them)")
	}
	str := func(k string) string {
		switch s := field[k].(type) {
		case string:
			return s
		case nil:
			return ""
		default:
			// Redis 6 sends keys as a list; join it as Redis 7 prints it.
			return strings.Join(list(s), " ")
		}
	}
	sel, _ := field["selectors"].([]any)
	return Live{Flags: list(field["flags"]), Passwords: list(field["passwords"]), Commands: str("commands"),
		Keys: str("keys"), Channels: str("channels"), Selectors: len(sel)}, nil
}

// Field of a user that differs, as the report names it (spec.users[].X).
const (
	FieldExists  = "exists"
	FieldEnabled = "enabled"
	// FieldPasswords: the passwords accepted, compared by hash. Not named
	// after spec.users[].passwordSecretRefs: reports mask the word that
	// follows "password", which would garble their tables.
	FieldPasswords = "credentials"
	FieldCommands  = "commands"
	FieldKeys      = "keys"
	FieldChannels  = "channels"
	FieldSelectors = "selectors"
)

// Diff is one field of a user that a node has otherwise than declared.
// Live and Declared name no password and no hash.
type Diff struct {
	Field    string `json:"field" yaml:"field"`
	Live     string `json:"live" yaml:"live"`
	Declared string `json:"declared" yaml:"declared"`
}

// Compare lists how live differs from u, given the node's command table
// (to compare command rules by what they allow, not by their wording).
// An error means u's rules do not evaluate on this node.
func Compare(u User, live Live, t Table) ([]Diff, error) {
	var out []Diff
	enabled := slices.Contains(live.Flags, "on")
	if enabled != u.Enabled {
		out = append(out, Diff{Field: FieldEnabled, Live: onOff(enabled), Declared: onOff(u.Enabled)})
	}
	if d, ok := comparePasswords(u.Hashes, live); !ok {
		out = append(out, d)
	}
	want, err := t.Eval(u.Commands)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", u.Name, err)
	}
	liveRules := strings.Fields(live.Commands)
	got, err := t.Eval(liveRules)
	if err != nil || !want.Equal(got) {
		out = append(out, Diff{Field: FieldCommands, Live: live.Commands, Declared: strings.Join(u.Commands, " ")})
	}
	if l, d := patterns(live.Keys, "~"), declaredPatterns(u.Keys, "~"); !sameWords(l, d) {
		out = append(out, Diff{Field: FieldKeys, Live: strings.Join(l, " "), Declared: strings.Join(d, " ")})
	}
	if l, d := patterns(live.Channels, "&"), declaredPatterns(u.Channels, "&"); !sameWords(l, d) {
		out = append(out, Diff{Field: FieldChannels, Live: strings.Join(l, " "), Declared: strings.Join(d, " ")})
	}
	if live.Selectors > 0 {
		out = append(out, Diff{Field: FieldSelectors, Live: fmt.Sprintf("%d selectors", live.Selectors), Declared: "none"})
	}
	return out, nil
}

// comparePasswords says how the node's passwords differ from the declared
// hashes, counting them: a report never shows a hash. Its words avoid
// "password" (reports mask the word after it).
func comparePasswords(want []string, live Live) (Diff, bool) {
	declared := fmt.Sprintf("the %d of its Secrets", len(want))
	if slices.Contains(live.Flags, "nopass") {
		return Diff{Field: FieldPasswords, Live: "nopass (anything accepted)", Declared: declared}, false
	}
	missing, extra := 0, 0
	for _, h := range want {
		if !slices.Contains(live.Passwords, h) {
			missing++
		}
	}
	for _, h := range live.Passwords {
		if !slices.Contains(want, h) {
			extra++
		}
	}
	if missing == 0 && extra == 0 {
		return Diff{}, true
	}
	parts := []string{fmt.Sprintf("%d accepted", len(live.Passwords))}
	if missing > 0 {
		parts = append(parts, fmt.Sprintf("%d of its Secrets missing", missing))
	}
	if extra > 0 {
		parts = append(parts, fmt.Sprintf("%d not declared", extra))
	}
	return Diff{Field: FieldPasswords, Live: strings.Join(parts, ", "), Declared: declared}, false
}

// patterns splits a node's keys or channels, leaving out what is no
// pattern (resetchannels, as ACL LIST prints it).
func patterns(s, prefix string) []string {
	var out []string
	for _, w := range strings.Fields(s) {
		switch w {
		case "resetchannels", "resetkeys":
			continue
		case "allkeys":
			w = "~*"
		case "allchannels":
			w = "&*"
		}
		out = append(out, w)
	}
	return out
}

func declaredPatterns(ps []string, prefix string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = prefix + p
	}
	return out
}

// sameWords compares as sets: Redis matches a key against every pattern,
// so their order means nothing.
func sameWords(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// SetUserArgs is the ACL SETUSER that makes a node's user exactly u, all
// at once (Redis applies a SETUSER's rules to a copy and swaps it in, or
// changes nothing): reset first, so nothing of before remains, then the
// declared rules. Passwords go as #<hash>: no password crosses the wire.
func SetUserArgs(u User) []any {
	args := []any{"ACL", "SETUSER", u.Name, "reset", "resetchannels", onOff(u.Enabled)}
	for _, h := range u.Hashes {
		args = append(args, "#"+h)
	}
	for _, k := range u.Keys {
		args = append(args, "~"+k)
	}
	for _, c := range u.Channels {
		args = append(args, "&"+c)
	}
	for _, r := range u.Commands {
		args = append(args, r)
	}
	return args
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// ConfigLines are the declared users as redis.conf "user" lines, the
// same rules SetUserArgs sends (passwords as #<hash>), one per line and
// sorted by name: what a node restarted reads at start (render includes
// them) until the daemon's next pass. Names, rules and patterns are single
// words (spec validation), so each line splits back into its arguments.
func ConfigLines(users []User) string {
	sorted := slices.Clone(users)
	slices.SortFunc(sorted, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	var b strings.Builder
	for _, u := range sorted {
		b.WriteString("user")
		for _, a := range SetUserArgs(u)[2:] {
			b.WriteString(" " + a.(string))
		}
		b.WriteString("\n")
	}
	return b.String()
}
