package spec

import (
	"errors"
	"io/fs"
	"testing"
)

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		err  Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Column: 5, Path: "spec.masters", Message: "must be at least 3"}, "a.yaml:3:5: spec.masters: must be at least 3"},
		{Error{File: "a.yaml", Line: 3, Message: "invalid YAML: x"}, "a.yaml:3: invalid YAML: x"},
		{Error{File: "a.yaml", Message: "cannot read: permission denied"}, "a.yaml: cannot read: permission denied"},
		{Error{Path: "spec.masters", Message: "is required"}, "spec.masters: is required"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestErrorList(t *testing.T) {
	var empty ErrorList
	if err := empty.Err(); err != nil {
		t.Errorf("empty ErrorList.Err() = %v, want nil", err)
	}
	l := ErrorList{
		{File: "b.yaml", Line: 1, Message: "x"},
		{File: "a.yaml", Line: 9, Column: 1, Message: "y"},
		{File: "a.yaml", Line: 2, Column: 7, Message: "z", Err: fs.ErrPermission},
	}
	l.Sort()
	if got, want := l.Error(), "a.yaml:2:7: z\na.yaml:9:1: y\nb.yaml:1: x"; got != want {
		t.Errorf("sorted list:\n%s\nwant:\n%s", got, want)
	}
	if !errors.Is(l.Err(), fs.ErrPermission) {
		t.Errorf("errors.Is(list, fs.ErrPermission) = false, want true")
	}
}
