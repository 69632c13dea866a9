package daemon

import "testing"

// The users plan's reads are no Redis writes (a scan with nothing to
// change counts none), and its steps are.
func TestReadOnlyACLCommands(t *testing.T) {
	for _, tc := range []struct {
		args []any
		want bool
	}{
		{[]any{"ACL", "USERS"}, true},
		{[]any{"ACL", "GETUSER", "app"}, true},
		{[]any{"COMMAND"}, true},
		{[]any{"ACL", "SETUSER", "app", "reset"}, false},
		{[]any{"ACL", "DELUSER", "app"}, false},
	} {
		if got := readOnly(tc.args); got != tc.want {
			t.Errorf("readOnly(%v) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
