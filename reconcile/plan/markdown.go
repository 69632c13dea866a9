package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile/acl"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// Markdown is the whole plan for people: each cluster's plan, then the
// spec errors.
func (r Result) Markdown() string {
	var b strings.Builder
	if len(r.Clusters) == 0 && len(r.SpecErrors) == 0 {
		b.WriteString("No cluster spec changes.\n")
	}
	for i, c := range r.Clusters {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(c.Markdown())
	}
	if len(r.SpecErrors) > 0 {
		b.WriteString(SpecErrorsMarkdown(r.SpecErrors))
	}
	return report.Redact(b.String())
}

// SpecErrorsMarkdown lists invalid specs, each error as file:line:col.
func SpecErrorsMarkdown(errs []string) string {
	var b strings.Builder
	b.WriteString("### ❌ Invalid specs: nothing of these is applied\n\n")
	for _, e := range errs {
		fmt.Fprintf(&b, "- `%s`\n", strings.ReplaceAll(e, "`", "'"))
	}
	return b.String()
}

// Markdown is one cluster's plan: a verdict line, then what changes;
// secrets masked.
func (c Cluster) Markdown() string {
	var b strings.Builder
	icon := "📋"
	switch {
	case c.Failed():
		icon = "❌"
	case len(c.Destructive) > 0:
		icon = "⚠️"
	case c.Change == Unchanged:
		icon = "✅"
	}
	fmt.Fprintf(&b, "## %s redis-gitops plan: `%s` (%s)\n\n", icon, c.Cluster, c.Change)
	fmt.Fprintf(&b, "**%s**\n\n", c.Summary())
	switch {
	case c.Against == AgainstEmpty:
		fmt.Fprintf(&b, "> Planned against an **empty** cluster: %s\n\n", c.AgainstNote)
	case c.Against == AgainstBase:
		fmt.Fprintf(&b, "> Planned **without reading the live cluster**: the base revision's spec stands in for it. %s\n\n", c.AgainstNote)
	case c.AgainstNote != "":
		fmt.Fprintf(&b, "> Planned against the live cluster; %s\n\n", c.AgainstNote)
	}
	if c.Blocked != "" {
		fmt.Fprintf(&b, "**Blocked:** %s\n\n", c.Blocked)
	}
	for _, e := range c.Errors {
		fmt.Fprintf(&b, "**Error:** %s\n\n", e)
	}
	if len(c.Destructive) > 0 {
		b.WriteString("### ⚠️ Destructive steps\n\n")
		for _, d := range c.Destructive {
			fmt.Fprintf(&b, "- %s\n", d)
		}
		b.WriteString("\n")
	}
	if len(c.Pods.Add)+len(c.Pods.Remove)+len(c.PVCs.Delete)+len(c.PVCs.Keep) > 0 {
		b.WriteString("### Pods and volumes\n\n")
		line := func(what string, names []string) {
			if len(names) > 0 {
				fmt.Fprintf(&b, "- %s: %s\n", what, strings.Join(names, ", "))
			}
		}
		line("pods to add", c.Pods.Add)
		line("pods to remove", c.Pods.Remove)
		line("PVCs deleted with them", c.PVCs.Delete)
		line("PVCs kept (storage.retainOnScaleIn)", c.PVCs.Keep)
		b.WriteString("\n")
		for i, st := range c.ScaleIn {
			fmt.Fprintf(&b, "%d. %s\n", i+1, cell(st))
		}
		if len(c.ScaleIn) > 0 {
			b.WriteString("\n")
		}
	}
	if c.Move.Slots > 0 {
		var moves []topology.Action
		for _, a := range c.Actions {
			if a.Kind == topology.MoveSlots {
				moves = append(moves, a)
			}
		}
		fmt.Fprintf(&b, "### Slots to move\n\n%d slots, about %d keys and %s, moved while clients keep writing; about %s (an estimate from the migration engine's measured rate",
			c.Move.Slots, c.Move.Keys, bytesText(c.Move.Bytes), topology.EstimateOf(moves).Duration.Round(time.Second))
		if c.Against != AgainstLive {
			b.WriteString(", for the slots alone: their keys are not known offline")
		}
		b.WriteString("). No slot is unavailable: a slot moves key by key, and clients follow ASK and MOVED.\n\n")
		b.WriteString("| From | To | Slots | Ranges | ~Keys | ~Bytes |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, a := range c.Actions {
			if a.Kind == topology.MoveSlots {
				fmt.Fprintf(&b, "| %s | %s | %d | %s | %d | %s |\n", a.Pod, a.TargetPod, a.SlotCount(), ranges(a.Slots), a.Keys, bytesText(a.Bytes))
			}
		}
		b.WriteString("\n")
	}
	if t := c.After; t != nil {
		b.WriteString("### After this change\n\n" + t.Diagram() + "\n" + t.SlotBars() + "\n")
	}
	if len(c.Settings) > 0 {
		b.WriteString("### Redis settings\n\n| Setting | From | To | Nodes | How |\n| --- | --- | --- | --- | --- |\n")
		for _, s := range c.Settings {
			how := "at runtime (CONFIG SET), no restart"
			if s.Restart {
				how = "**restart**: Redis cannot change it at runtime"
			}
			from, to := report.FieldCells(s.From, s.To)
			fmt.Fprintf(&b, "| `%s` | %s | %s | %d | %s |\n", s.Key, orNone(cell(from)), orNone(cell(to)), s.Nodes, how)
		}
		b.WriteString("\n")
	}
	if len(c.Users)+len(c.UnmanagedUsers) > 0 {
		b.WriteString("### ACL users\n\nSet live on every node (ACL SETUSER, secrets sent as SHA-256 hashes), no restart.\n\n| Node | User | Step | What differs |\n| --- | --- | --- | --- |\n")
		for _, st := range c.Users {
			var what []string
			for _, d := range st.Diffs {
				if d.Field == acl.FieldExists {
					what = append(what, d.Live+" → "+d.Declared)
					continue
				}
				what = append(what, fmt.Sprintf("%s: `%s` → `%s`", d.Field, orNone(d.Live), orNone(d.Declared)))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", st.Pod, st.User, st.Kind, cell(strings.Join(what, "; ")))
		}
		for _, u := range c.UnmanagedUsers {
			fmt.Fprintf(&b, "| %s | %s | left as it is | not in spec.users: added by hand |\n", u.Pod, u.User)
		}
		b.WriteString("\n")
	}
	if len(c.Restarts) > 0 {
		e := c.Estimate
		fmt.Fprintf(&b, "### Rolling restart\n\n%s restart one at a time, %s; about %s in all (an estimate from measured rates).",
			plural(e.Restarts, "pod"), plural(e.Failovers, "planned failover"), e.Duration.Round(time.Second))
		if len(e.Unavailable) > 0 {
			fmt.Fprintf(&b, " **Slots are unavailable** while %s restart: no in-sync replica can take over.", strings.Join(e.Unavailable, ", "))
		} else {
			b.WriteString(" No slot is unavailable at any step: each master hands its shard to an in-sync replica first.")
		}
		b.WriteString("\n\n")
		for i, a := range c.Restarts {
			fmt.Fprintf(&b, "%d. %s\n", i+1, cell(a.String()))
		}
		b.WriteString("\n")
	}
	if steps := otherSteps(c.Actions); len(steps) > 0 {
		b.WriteString("### Redis topology steps\n\n")
		for i, s := range steps {
			fmt.Fprintf(&b, "%d. %s\n", i+1, cell(s))
		}
		b.WriteString("\n")
	}
	if changed := changedObjects(c.Objects); len(changed) > 0 {
		b.WriteString("### Kubernetes objects\n\n| Object | Action | Field | Live | Desired |\n| --- | --- | --- | --- | --- |\n")
		for _, ch := range changed {
			if len(ch.Fields) == 0 {
				fmt.Fprintf(&b, "| %s | %s | | | %s |\n", ch.Object.String(), ch.Action, cell(ch.Reason))
			}
			for _, f := range ch.Fields {
				live, desired := fieldCells(f)
				fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %s |\n", ch.Object.String(), ch.Action, f.Path, live, desired)
			}
		}
		b.WriteString("\n")
	}
	if len(c.Warnings) > 0 {
		b.WriteString("### Warnings\n\n")
		for _, w := range c.Warnings {
			fmt.Fprintf(&b, "- %s\n", cell(w))
		}
		b.WriteString("\n")
	}
	return report.Redact(b.String()) // posted on its own too (one comment per cluster)
}

func otherSteps(as []topology.Action) []string {
	var out []string
	for _, a := range as {
		if a.Kind != topology.MoveSlots {
			out = append(out, a.String())
		}
	}
	return out
}

func changedObjects(cs []kube.Change) []kube.Change {
	var out []kube.Change
	for _, c := range cs {
		if c.Action != kube.Unchanged {
			out = append(out, c)
		}
	}
	return out
}

func ranges(rs []topology.SlotRange) string {
	var parts []string
	for i, r := range rs {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("… %d more", len(rs)-4))
			break
		}
		parts = append(parts, r.String())
	}
	return strings.Join(parts, " ")
}

func cell(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "|", `\|`)), " ")
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
