package spec

import (
	"strings"
	"testing"
)

func TestValidateUsers(t *testing.T) {
	app := func() User {
		return User{Name: "app", PasswordSecretRefs: []SecretRef{{Name: "app-redis"}}, Commands: []string{"+@read", "+@write", "-@dangerous", "+config|get"}, Keys: []string{"app:*"}, Channels: []string{"news.*"}}
	}
	for _, tc := range []struct {
		name   string
		change func(u *User)
		want   string // "path: message" prefix; "" for valid
	}{
		{"a valid user", func(u *User) {}, ""},
		{"every key and every command", func(u *User) { u.Keys, u.Commands = []string{"*"}, []string{"allcommands", "-flushall"} }, ""},
		{"a name with a space", func(u *User) { u.Name = "my app" }, `spec.users[0].name: "my app" is not a user name`},
		{"the readiness user", func(u *User) { u.Name = "readiness" }, `spec.users[0].name: "readiness" is redis-gitops' own user (the readiness probe's`},
		{"no commands", func(u *User) { u.Commands = nil }, "spec.users[0].commands: is required"},
		{"a rule without a sign", func(u *User) { u.Commands = []string{"get"} }, `spec.users[0].commands[0]: "get" is not a command rule`},
		{"an uppercase command", func(u *User) { u.Commands = []string{"+GET"} }, `spec.users[0].commands[0]: "+GET" is not a command rule`},
		{"a password in the rules", func(u *User) { u.Commands = []string{">hunter2"} }, `spec.users[0].commands[0]: ">hunter2" is not a command rule: passwords come from passwordSecretRefs`},
		{"a key pattern in the rules", func(u *User) { u.Commands = []string{"~app:*"} }, `spec.users[0].commands[0]: "~app:*" is a key or channel pattern`},
		{"an unknown category", func(u *User) { u.Commands = []string{"-@everything"} }, `spec.users[0].commands[0]: "-@everything" names no command category; Redis has @all, @keyspace`},
		{"a star among keys", func(u *User) { u.Keys = []string{"app:*", "*"} }, `spec.users[0].keys: "*" already matches every key: list it alone`},
		{"a key twice", func(u *User) { u.Keys = []string{"a", "a"} }, `spec.users[0].keys[1]: "a" is already listed at [0]`},
		{"a channel with its prefix", func(u *User) { u.Channels = []string{"&news"} }, `spec.users[0].channels[0]: "&news": write the pattern alone`},
		{"a key with a space", func(u *User) { u.Keys = []string{"a b"} }, `spec.users[0].keys[0]: "a b" must be one word`},
		{"no password", func(u *User) { u.PasswordSecretRefs = nil }, "spec.users[0].passwordSecretRefs: is required"},
		{"the same Secret twice", func(u *User) { u.PasswordSecretRefs = append(u.PasswordSecretRefs, SecretRef{Name: "app-redis"}) }, "spec.users[0].passwordSecretRefs[1]: Secret app-redis key password is already listed at passwordSecretRefs[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			u := app()
			tc.change(&u)
			c.Spec.Users = []User{u}
			c.SetDefaults()
			errs := c.Validate()
			switch {
			case tc.want == "" && errs != nil:
				t.Errorf("Validate: %v, want no error", errs)
			case tc.want != "" && !strings.Contains(errs.Error(), tc.want):
				t.Errorf("Validate: %v\nwant one starting %q", errs, tc.want)
			}
		})
	}
}

func TestValidateUsersTwice(t *testing.T) {
	c := valid()
	u := User{Name: "app", PasswordSecretRefs: []SecretRef{{Name: "s"}}, Commands: []string{"+get"}}
	c.Spec.Users = []User{u, u}
	c.SetDefaults()
	if got, want := c.Validate().Error(), `spec.users[1].name: user "app" is already declared at spec.users[0]`; !strings.Contains(got, want) {
		t.Errorf("Validate: %s, want %s", got, want)
	}
	if !c.Spec.Users[0].UserEnabled() || c.Spec.Users[0].PasswordSecretRefs[0].Key != DefaultSecretKey {
		t.Errorf("defaults: enabled %v, key %q; want true, %q", c.Spec.Users[0].UserEnabled(), c.Spec.Users[0].PasswordSecretRefs[0].Key, DefaultSecretKey)
	}
}
