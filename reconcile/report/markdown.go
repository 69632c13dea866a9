package report

import (
	"bytes"
	"fmt"
	"strings"
)

// Markdown is the report for people: a verdict line first, then the
// conditions and tables of masters, replicas, unreachable pods, drift,
// actions and errors (each only when it has rows). Node IDs are shortened
// to 8 characters, as redis-cli prints them.
func (r Report) Markdown() []byte {
	var b bytes.Buffer
	b.WriteString(r.Verdict() + "\n\n")
	fmt.Fprintf(&b, "**%s** at `%s`", cell(r.Cluster), cell(orDash(r.ObservedRevision)))
	switch r.Mode {
	case ModeReport:
		b.WriteString(" · drift: report, nothing was written")
	case ModeSuspended:
		b.WriteString(" · suspended, nothing was written")
	}
	b.WriteString("\n\n")

	table(&b, "Conditions", []string{"Type", "Status", "Reason", "Message"}, len(r.Conditions), func(i int) []string {
		c := r.Conditions[i]
		return []string{c.Type, c.Status, c.Reason, c.Message}
	})

	t := r.Topology
	table(&b, "Masters", []string{"Pod", "Node", "Zone", "ID", "Slots", "Keys", "Replicas"}, len(t.Masters), func(i int) []string {
		m := t.Masters[i]
		return []string{m.Pod, m.Node, m.Zone, short(m.ID), strings.Join(m.Slots, ", "), fmt.Sprint(m.Keys), fmt.Sprint(len(m.Replicas))}
	})
	type row struct {
		master string
		r      Replica
	}
	var replicas []row
	for _, m := range t.Masters {
		for _, rep := range m.Replicas {
			replicas = append(replicas, row{m.Pod, rep})
		}
	}
	table(&b, "Replicas", []string{"Pod", "Master", "Node", "Zone", "ID", "Link"}, len(replicas), func(i int) []string {
		rr := replicas[i]
		link := "up"
		if !rr.r.Linked {
			link = "down"
		}
		return []string{rr.r.Pod, rr.master, rr.r.Node, rr.r.Zone, short(rr.r.ID), link}
	})
	if d := t.Diagram(); d != "" {
		b.WriteString("### Placement\n\n" + d + "\n")
	}
	if bars := t.SlotBars(); bars != "" {
		b.WriteString("### Slots per master\n\n" + bars + "\n")
	}
	table(&b, "Unassigned nodes", []string{"Pod", "Node", "Zone", "ID", "Role", "Keys"}, len(t.Unassigned), func(i int) []string {
		u := t.Unassigned[i]
		return []string{u.Pod, u.Node, u.Zone, short(u.ID), u.Role, fmt.Sprint(u.Keys)}
	})
	table(&b, "Unreachable pods", []string{"Pod", "Reason"}, len(t.Unreachable), func(i int) []string {
		return []string{t.Unreachable[i].Pod, t.Unreachable[i].Reason}
	})
	table(&b, "Drift", []string{"Source", "Kind", "Subject", "Path", "Live", "Desired", "Managers", "Detail"}, len(r.Drift), func(i int) []string {
		d := r.Drift[i]
		live, desired := FieldCells(d.Live, d.Desired)
		return []string{d.Source, d.Kind, d.Subject, code(d.Path), live, desired, strings.Join(d.Managers, ", "), d.Detail}
	})
	if m := r.Migration; m != nil && m.State == MigrationRefused {
		fmt.Fprintf(&b, "### Migration\n\nrefused: %s\n\n", cell(m.Detail))
	} else if m != nil {
		fmt.Fprintf(&b, "### Migration\n\n%s: %d of %d slots moved, %d keys in %s (%d keys/s, %s)", m.State, m.SlotsMoved, m.SlotsPlanned, m.KeysMoved, m.Elapsed, m.KeysPerSecond, m.Method)
		if m.Detail != "" {
			b.WriteString(": " + cell(m.Detail))
		}
		if m.State == MigrationInProgress {
			b.WriteString("; the next pass resumes it")
		}
		b.WriteString("\n\n")
	}
	if a := r.Adoption; a != nil {
		fmt.Fprintf(&b, "### Adoption of %s\n\n%s", code(a.StatefulSet), a.State)
		if a.Detail != "" {
			b.WriteString(": " + cell(a.Detail))
		}
		b.WriteString("\n\n")
		list(&b, "Old nodes still in the cluster", a.OldNodes, false)
		if len(a.Released) > 0 {
			fmt.Fprintf(&b, "Released (no slot, no key, forgotten by every node): %s\n\n", strings.Join(a.Released, ", "))
		}
	}
	list(&b, "Actions", r.Actions, true)
	list(&b, "Warnings", r.Warnings, false)
	list(&b, "Errors", r.Errors, false)
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n')
}

// Verdict is the one-line summary that heads the Markdown:
// "✅ ready: 3 masters × 1 replica, no drift", "⚠️ degraded: ...",
// "❌ stalled: ...", "🔄 progressing: ...", or "⚠️ not ready: ...".
func (r Report) Verdict() string {
	stalled, progressing, degraded, ready := r.Condition(Stalled), r.Condition(Progressing), r.Condition(Degraded), r.Condition(Ready)
	d := r.Topology.Desired
	suffix := ""
	if r.Mode == ModeSuspended {
		suffix = " (suspended)"
	}
	switch {
	case r.Mode == ModeRemoved && stalled.Status != True:
		return "🗑️ removed: " + ready.Message
	case stalled.Status == True:
		return "❌ stalled: " + stalled.Message + suffix
	case degraded.Status == True:
		return "⚠️ degraded: " + degraded.Message + suffix
	case progressing.Status == True:
		return "🔄 progressing: " + progressing.Message + suffix
	case ready.Status == True:
		return fmt.Sprintf("✅ ready: %d %s × %s, no drift%s", d.Masters, noun(d.Masters, "master"), plural(d.ReplicasPerMaster, "replica"), suffix)
	}
	return "⚠️ not ready: " + ready.Message + suffix
}

func noun(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func table(b *bytes.Buffer, title string, header []string, n int, row func(int) []string) {
	if n == 0 {
		return
	}
	fmt.Fprintf(b, "### %s\n\n", title)
	b.WriteString("| " + strings.Join(header, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" --- |", len(header)) + "\n")
	for i := range n {
		cells := row(i)
		for j := range cells {
			cells[j] = cell(cells[j])
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	b.WriteString("\n")
}

func list(b *bytes.Buffer, title string, items []string, numbered bool) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(b, "### %s\n\n", title)
	for i, it := range items {
		if numbered {
			fmt.Fprintf(b, "%d. %s\n", i+1, cell(it))
		} else {
			fmt.Fprintf(b, "- %s\n", cell(it))
		}
	}
	b.WriteString("\n")
}

// cell keeps a value on one table row: pipes escaped, newlines as spaces.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
