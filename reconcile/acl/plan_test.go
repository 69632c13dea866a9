package acl

import (
	"strings"
	"testing"

	"reflect"
)

// table is a small command table in Redis 7.0's shape.
var table = Table{
	"get":      {Name: "get", Categories: []string{"read", "string", "fast"}},
	"set":      {Name: "set", Categories: []string{"write", "string", "slow"}},
	"keys":     {Name: "keys", Categories: []string{"keyspace", "read", "slow", "dangerous"}},
	"flushall": {Name: "flushall", Categories: []string{"keyspace", "write", "slow", "dangerous"}},
	"ping":     {Name: "ping", Categories: []string{"fast", "connection"}},
	"select":   {Name: "select", Categories: []string{"fast", "connection"}},
	"config": {Name: "config", Categories: []string{"slow"}, Subcommands: []Command{
		{Name: "config|get", Categories: []string{"admin", "slow", "dangerous"}},
		{Name: "config|set", Categories: []string{"admin", "slow", "dangerous"}},
	}},
}

func TestEvalComparesWhatRulesAllow(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"+@read", "-@all +get +keys", true},
		{"+@read -@dangerous", "-@all +get", true},
		{"+@all -flushall", "allcommands -flushall", true},
		{"+@all", "-@all +get +set +keys +flushall +ping +select +config", false}, // future commands
		{"+config -config|set", "-@all +config|get +config", false},
		{"+config -config|set", "-@all +config|get", false}, // the container's own bit
		{"+config -config|set", "-@all +config -config|set", true},
		{"+@slow", "-@all +set +keys +flushall +config", true}, // a container's category takes its subcommands
		{"+@admin", "-@all +config|get +config|set", true},
		{"+get +select|0", "-@all +get", false},
		{"+select|0 -select", "-@all", true},
		{"+get nocommands +ping", "-@all +ping", true},
	} {
		pa, err := table.Eval(strings.Fields(tc.a))
		if err != nil {
			t.Fatalf("%s: %v", tc.a, err)
		}
		pb, err := table.Eval(strings.Fields(tc.b))
		if err != nil {
			t.Fatalf("%s: %v", tc.b, err)
		}
		if got := pa.Equal(pb); got != tc.same {
			t.Errorf("%q and %q allow the same: %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}

func TestEvalRefusesWhatRedisRefuses(t *testing.T) {
	for _, r := range []string{"+nosuch", "+@nosuch", "+config|nosuch", "+get|x|y", "-get|x", "get"} {
		if _, err := table.Eval([]string{r}); err == nil {
			t.Errorf("Eval(%q): no error, want one (Redis refuses it)", r)
		}
	}
	// A category Redis knows that no command of this table is in.
	if _, err := table.Eval([]string{"+@geo"}); err != nil {
		t.Errorf("Eval(+@geo): %v", err)
	}
}

const (
	hashA = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
	hashB = "6b3a55e0261b0304143f805a24924d0c1c44524821305f31d9277843b8a10f4e"
)

func app() User {
	return User{Name: "app", Enabled: true, Hashes: []string{hashA}, Commands: []string{"+@read", "-keys", "+set"}, Keys: []string{"app:*"}, Channels: []string{"news.*"}}
}

// appLive is app as Redis 7.0 prints it.
func appLive() Live {
	return Live{Flags: []string{"on", "sanitize-payload"}, Passwords: []string{hashA}, Commands: "-@all +get +set", Keys: "~app:*", Channels: "&news.*"}
}

func TestPlanUsers(t *testing.T) {
	other := User{Name: "reports", Enabled: true, Hashes: []string{hashB}, Commands: []string{"+get"}, Keys: []string{"*"}}
	node := func(pod string, users map[string]Live, extra ...string) Node {
		n := Node{Pod: pod, Users: users, Table: table, Names: append([]string{"default"}, extra...)}
		for name := range users {
			n.Names = append(n.Names, name)
		}
		return n
	}
	for _, tc := range []struct {
		name     string
		declared []User
		managed  []string
		nodes    []Node
		want     Plan
	}{
		{
			name:     "in step: nothing to do",
			declared: []User{app()},
			managed:  []string{"app"},
			nodes:    []Node{node("c-0", map[string]Live{"app": appLive()}, "readiness")},
			want:     Plan{},
		},
		{
			name:     "a new user is created on every node",
			declared: []User{app(), other},
			nodes:    []Node{node("c-0", map[string]Live{"app": appLive()}), node("c-1", map[string]Live{"app": appLive()})},
			want: Plan{Steps: []Step{
				{Pod: "c-0", User: "reports", Kind: Create, Diffs: []Diff{{Field: FieldExists, Live: "no such user", Declared: "declared"}}},
				{Pod: "c-1", User: "reports", Kind: Create, Diffs: []Diff{{Field: FieldExists, Live: "no such user", Declared: "declared"}}},
			}},
		},
		{
			name:     "a rule edited by hand on one node",
			declared: []User{app()},
			nodes: []Node{
				node("c-0", map[string]Live{"app": appLive()}),
				node("c-1", map[string]Live{"app": func() Live { l := appLive(); l.Commands = "-@all +get +set +flushall"; return l }()}),
			},
			want: Plan{Steps: []Step{{Pod: "c-1", User: "app", Kind: Update, Diffs: []Diff{{Field: FieldCommands, Live: "-@all +get +set +flushall", Declared: "+@read -keys +set"}}}}},
		},
		{
			name:     "keys, channels, a second password and a disabled user",
			declared: []User{func() User { u := app(); u.Enabled = false; u.Hashes = append(u.Hashes, hashB); return u }()},
			nodes: []Node{node("c-0", map[string]Live{"app": func() Live {
				l := appLive()
				l.Keys, l.Channels = "~app:* ~other:*", ""
				return l
			}()})},
			want: Plan{Steps: []Step{{Pod: "c-0", User: "app", Kind: Update, Diffs: []Diff{
				{Field: FieldEnabled, Live: "on", Declared: "off"},
				{Field: FieldPasswords, Live: "1 accepted, 1 of its Secrets missing", Declared: "the 2 of its Secrets"},
				{Field: FieldKeys, Live: "~app:* ~other:*", Declared: "~app:*"},
				{Field: FieldChannels, Live: "", Declared: "&news.*"},
			}}}},
		},
		{
			name:     "a user without a password, and one with selectors",
			declared: []User{app(), other},
			nodes: []Node{node("c-0", map[string]Live{
				"app":     func() Live { l := appLive(); l.Flags, l.Passwords = []string{"on", "nopass"}, nil; return l }(),
				"reports": {Flags: []string{"on"}, Passwords: []string{hashB}, Commands: "-@all +get", Keys: "~*", Selectors: 1},
			})},
			want: Plan{Steps: []Step{
				{Pod: "c-0", User: "app", Kind: Update, Diffs: []Diff{{Field: FieldPasswords, Live: "nopass (anything accepted)", Declared: "the 1 of its Secrets"}}},
				{Pod: "c-0", User: "reports", Kind: Update, Diffs: []Diff{{Field: FieldSelectors, Live: "1 selectors", Declared: "none"}}},
			}},
		},
		{
			name:     "a user removed from Git is deleted; one made by hand is only reported",
			declared: []User{app()},
			managed:  []string{"app", "old"},
			nodes:    []Node{node("c-0", map[string]Live{"app": appLive(), "old": appLive()}, "alice", "readiness")},
			want: Plan{
				Steps:     []Step{{Pod: "c-0", User: "old", Kind: Delete, Diffs: []Diff{{Field: FieldExists, Live: "exists", Declared: "removed from spec.users"}}}},
				Unmanaged: []Unmanaged{{Pod: "c-0", User: "alice"}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PlanUsers(tc.declared, tc.managed, tc.nodes)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestPlanUsersRefusesAnUnknownCommandBeforeAnyStep(t *testing.T) {
	bad := app()
	bad.Commands = []string{"+@read", "+nosuchcommand"}
	good := User{Name: "b", Enabled: true, Hashes: []string{hashB}, Commands: []string{"+get"}}
	nodes := []Node{{Pod: "c-0", Table: table}, {Pod: "c-1", Table: table}}
	p, err := PlanUsers([]User{good, bad}, nil, nodes)
	if err == nil || !strings.Contains(err.Error(), `user app: c-0 refuses a command rule: "+nosuchcommand"`) {
		t.Errorf("PlanUsers: %v, want the user, node and rule named", err)
	}
	if len(p.Steps) > 0 {
		t.Errorf("steps planned despite the refused rule: %v", p.Steps)
	}
}

func TestSetUserArgsSendsHashesOnly(t *testing.T) {
	got := SetUserArgs(app())
	want := []any{"ACL", "SETUSER", "app", "reset", "resetchannels", "on", "#" + hashA, "~app:*", "&news.*", "+@read", "-keys", "+set"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("args:\n got %v\nwant %v", got, want)
	}
}
