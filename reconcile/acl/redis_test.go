package acl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/internal/redistest"
)

// TestDeclaredFormMatchesWhatRedisPrints runs a real redis-server (7.0 on
// these machines): each declared user, once set with SetUserArgs, reads
// back with ACL GETUSER (which rewrites the rules in its own words) as no
// difference; a rule then changed by hand reads back as one, on the field
// it changed.
func TestDeclaredFormMatchesWhatRedisPrints(t *testing.T) {
	ctx := context.Background()
	node := redistest.Start(t, 1)[0]
	c := node.Client
	v, err := c.Do(ctx, "COMMAND").Result()
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := ParseCommandTable(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tbl["config"]; !ok || len(tbl["config"].Subcommands) == 0 {
		t.Fatalf("the command table has no config subcommands: %+v", tbl["config"])
	}
	read := func(name string) Live {
		t.Helper()
		v, err := c.Do(ctx, "ACL", "GETUSER", name).Result()
		if err != nil {
			t.Fatal(err)
		}
		l, err := ParseGetUser(v)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	users := []User{
		{Name: "app", Enabled: true, Hashes: []string{hashA}, Commands: []string{"+@read", "+@write", "-@dangerous", "+set", "-flushall"}, Keys: []string{"app:*"}, Channels: []string{"news.*"}},
		{Name: "all", Enabled: true, Hashes: []string{hashA, hashB}, Commands: []string{"allcommands", "-flushall", "-flushdb"}, Keys: []string{"*"}, Channels: []string{"*"}},
		{Name: "cfg", Enabled: false, Hashes: []string{hashB}, Commands: []string{"+config", "-config|set", "+client|list", "+@connection"}},
		{Name: "ro", Enabled: true, Hashes: []string{hashB}, Commands: []string{"+@read", "-@keyspace", "+@slow", "-@admin", "+ping"}, Keys: []string{"a:*", "b:*"}},
		{Name: "every", Enabled: true, Hashes: []string{hashA}, Commands: []string{"+@all"}, Keys: []string{"*"}},
		{Name: "pubsub", Enabled: true, Hashes: []string{hashA}, Commands: []string{"+@pubsub", "-psubscribe"}, Channels: []string{"a", "b.*"}},
	}
	for _, u := range users {
		if err := c.Do(ctx, SetUserArgs(u)...).Err(); err != nil {
			t.Fatalf("%s: %v", u.Name, err)
		}
		live := read(u.Name)
		diffs, err := Compare(u, live, tbl)
		if err != nil {
			t.Fatal(err)
		}
		if len(diffs) > 0 {
			t.Errorf("%s as Redis prints it (%q) differs from its declared form: %+v", u.Name, live.Commands, diffs)
		}
	}
	// Hand edits, each seen on the field it changed.
	for _, tc := range []struct {
		user  string
		edit  []any
		field string
	}{
		{"app", []any{"+flushall"}, FieldCommands},
		{"app", []any{"+config|get"}, FieldCommands},
		{"all", []any{"+flushdb"}, FieldCommands},
		{"ro", []any{"~c:*"}, FieldKeys},
		{"pubsub", []any{"&c"}, FieldChannels},
		{"cfg", []any{"on"}, FieldEnabled},
		{"app", []any{">typed-by-hand"}, FieldPasswords},
		{"every", []any{"(+get ~x)"}, FieldSelectors},
	} {
		if err := c.Do(ctx, append([]any{"ACL", "SETUSER", tc.user}, tc.edit...)...).Err(); err != nil {
			t.Fatal(err)
		}
		var u User
		for _, x := range users {
			if x.Name == tc.user {
				u = x
			}
		}
		diffs, err := Compare(u, read(tc.user), tbl)
		if err != nil {
			t.Fatal(err)
		}
		if len(diffs) != 1 || diffs[0].Field != tc.field {
			t.Errorf("%s after ACL SETUSER %v: diffs %+v, want one in %s", tc.user, tc.edit, diffs, tc.field)
		}
		// Set again, it is as declared.
		if err := c.Do(ctx, SetUserArgs(u)...).Err(); err != nil {
			t.Fatal(err)
		}
		if diffs, _ := Compare(u, read(tc.user), tbl); len(diffs) > 0 {
			t.Errorf("%s set again still differs: %+v", tc.user, diffs)
		}
	}
	// A rule Redis refuses is refused by the plan too, before any step.
	bad := User{Name: "bad", Enabled: true, Hashes: []string{hashA}, Commands: []string{"+nosuchcommand"}}
	if err := c.Do(ctx, SetUserArgs(bad)...).Err(); err == nil || !strings.Contains(err.Error(), "Unknown command") {
		t.Fatalf("redis took +nosuchcommand: %v", err)
	}
	if _, err := PlanUsers([]User{bad}, nil, []Node{{Pod: "n", Table: tbl}}); err == nil {
		t.Error("PlanUsers took +nosuchcommand, which Redis refuses")
	}
}

// TestConfigLinesStartANodeWithTheUsers: a redis-server that starts with
// ConfigLines included (as a restarted pod does) has every declared user
// exactly as declared.
func TestConfigLinesStartANodeWithTheUsers(t *testing.T) {
	ctx := context.Background()
	users := []User{
		{Name: "reports", Enabled: true, Hashes: []string{hashB}, Commands: []string{"+get", "+mget", "+cluster|slots"}, Keys: []string{"rep:*"}},
		{Name: "app", Enabled: true, Hashes: []string{hashA, hashB}, Commands: []string{"+@read", "+@write", "-@dangerous"}, Keys: []string{"app:*"}, Channels: []string{"news.*"}},
		{Name: "off", Enabled: false, Hashes: []string{hashA}, Commands: []string{"nocommands"}},
	}
	file := filepath.Join(t.TempDir(), "users.acl")
	if err := os.WriteFile(file, []byte(ConfigLines(users)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := redistest.Start(t, 1, "include "+filepath.Dir(file)+"/*.acl")[0].Client
	v, err := c.Do(ctx, "COMMAND").Result()
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := ParseCommandTable(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		v, err := c.Do(ctx, "ACL", "GETUSER", u.Name).Result()
		if err != nil {
			t.Fatalf("%s: %v (not loaded from the file?)", u.Name, err)
		}
		live, err := ParseGetUser(v)
		if err != nil {
			t.Fatalf("%s: %v", u.Name, err)
		}
		if diffs, err := Compare(u, live, tbl); err != nil || len(diffs) > 0 {
			t.Errorf("%s as started from the file differs: %+v, %v", u.Name, diffs, err)
		}
	}
}
