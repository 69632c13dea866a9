package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem with a spec, located where the user can fix it.
type Error struct {
	// File is the file as it was named to Parse or found by Load.
	File string
	// Line and Column are 1-based; 0 when unknown (a file that cannot be
	// read has neither, a YAML syntax error has no column).
	Line, Column int
	// Path is the field, such as spec.redis.config["port"] or
	// spec.placement.tolerations[0].effect; empty for errors about the file
	// or the YAML syntax.
	Path string
	// Message says what is wrong and, where it helps, what to write instead.
	Message string
	// Cluster is the "namespace/name" of the document the error is in, when
	// its metadata could be read. A daemon uses it to tell a cluster that is
	// declared but invalid (keep it as it was) from one that was removed.
	Cluster string
	// Err is the underlying error when the file could not be read (an
	// *fs.PathError); nil for problems with the spec itself.
	Err error
}

// Error returns "file:line:col: path: message", leaving out what is unknown
// (a cluster built in Go has no file: "path: message").
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Unwrap returns the I/O error behind e, if any.
func (e Error) Unwrap() error { return e.Err }

// ErrorList is every problem found, in file, line and column order once
// sorted. It is an error itself; use Err to get a nil error when it is empty.
type ErrorList []Error

// Error returns one error per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors, so errors.Is and errors.As look into each one
// (errors.As(list, new(*fs.PathError)) finds a file that could not be read).
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// Err returns l as an error, or nil when l is empty. Returning an empty
// ErrorList as an error would make a non-nil error.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Sort orders l by file, line, column, path and message; stable, so equal
// positions keep the order the checks found them in.
func (l ErrorList) Sort() {
	slices.SortStableFunc(l, func(a, b Error) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Message, b.Message),
		)
	})
}
