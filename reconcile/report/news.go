package report

import (
	"bytes"
	"reflect"
	"regexp"
)

// Changed tells whether a new status document carries news against the
// committed one (invariant 10): a change of shape, placement, roles, slots,
// settings, conditions, drift, actions, warnings or errors. Readings that
// move with client traffic are left out of the comparison: key counts, a
// migration's keys, rate and time, and key counts and sizes quoted in
// messages. So a busy cluster that is otherwise as before commits nothing,
// and the commit that news brings carries the fresh readings with it. A
// document that does not parse (nothing committed yet, an older schema) is
// news.
func Changed(old, new []byte) bool {
	if bytes.Equal(old, new) {
		return false
	}
	o, err := Parse(old)
	if err != nil {
		return true
	}
	n, err := Parse(new)
	if err != nil {
		return true
	}
	return !reflect.DeepEqual(withoutReadings(o), withoutReadings(n))
}

// reading matches a key count or a size quoted in a message: "~1365 keys",
// "1 key", "12.5 MiB", "300 bytes". The sizes are the units the project
// prints (topology's and plan's bytesText); Redis settings ("100mb") have
// no space before their unit and are not readings.
var reading = regexp.MustCompile(`~?\b\d+(\.\d+)? (keys?|bytes|B|KiB|MiB|GiB|TiB)\b`)

// withoutReadings is r with every reading that moves with client traffic
// zeroed or replaced by "N", r's own slices left as they are.
func withoutReadings(r Report) Report {
	text := func(s string) string { return reading.ReplaceAllString(s, "N $2") }
	texts := func(ss []string) []string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = text(s)
		}
		return out
	}
	conds := make([]Condition, len(r.Conditions))
	for i, c := range r.Conditions {
		c.Message = text(c.Message)
		conds[i] = c
	}
	r.Conditions = conds
	masters := make([]Master, len(r.Topology.Masters))
	for i, m := range r.Topology.Masters {
		m.Keys = 0
		masters[i] = m
	}
	r.Topology.Masters = masters
	members := make([]Member, len(r.Topology.Unassigned))
	for i, u := range r.Topology.Unassigned {
		u.Keys = 0
		members[i] = u
	}
	r.Topology.Unassigned = members
	if m := r.Migration; m != nil {
		c := *m
		c.KeysMoved, c.KeysPerSecond, c.Elapsed, c.Detail = 0, 0, "", text(c.Detail)
		r.Migration = &c
	}
	r.Actions, r.Warnings, r.Errors = texts(r.Actions), texts(r.Warnings), texts(r.Errors)
	return r
}
