package driftpr

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Branch is the cluster's drift branch: one per cluster, the daemon's own.
func Branch(cluster string) string { return "redis-gitops/drift/" + cluster }

// Marker starts the description of a cluster's drift pull request, so that
// it is found again after a restart (with its branch).
func Marker(cluster string) string { return "<!-- redis-gitops drift " + cluster + " -->" }

// Trailer marks the branch's commits as the daemon's.
func Trailer(cluster string) string { return "Redis-Gitops-Drift: " + cluster }

var metaLine = regexp.MustCompile(`<!-- fingerprint ([0-9a-f]+) since (\S+) -->`)

// ParseBody reads what Body wrote: whether body is cluster's drift pull
// request, its proposal's fingerprint and since when the drift was seen.
func ParseBody(cluster, body string) (ours bool, fingerprint string, since time.Time) {
	first, _, _ := strings.Cut(strings.TrimLeft(body, " \r\n"), "\n")
	if strings.TrimSpace(first) != Marker(cluster) {
		return false, "", time.Time{}
	}
	if m := metaLine.FindStringSubmatch(body); m != nil {
		fingerprint = m[1]
		since, _ = time.Parse(time.RFC3339, m[2])
	}
	return true, fingerprint, since
}

// Title is the pull request's title.
func Title(p Proposal) string {
	fields := make([]string, 0, len(p.Changes))
	for _, c := range p.Changes {
		fields = append(fields, c.Field)
	}
	return fmt.Sprintf("redis-gitops: %s drifted (%s)", p.Cluster, strings.Join(fields, ", "))
}

// CommitMessage is the branch commit's message (Propose adds the trailer).
func CommitMessage(p Proposal) string {
	var b strings.Builder
	fmt.Fprintf(&b, "drift: %s catches up with the live cluster\n\n", p.Cluster)
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "%s: %s -> %s (live on %s)\n", c.Field, orUnset(c.Declared), c.Value, strings.Join(c.Where, ", "))
	}
	return b.String()
}

// Body is the pull request's description: the drift report of the
// cluster, what the change proposes, what it leaves out and why, and what
// the daemon does under each outcome. since is when the drift was first
// seen; actions are the report's ("planned: ..." under drift: report).
func Body(p Proposal, mode string, since time.Time, actions []string) string {
	var b strings.Builder
	b.WriteString(Marker(p.Cluster) + "\n")
	fmt.Fprintf(&b, "<!-- fingerprint %s since %s -->\n", p.Fingerprint(), since.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "### Drift of `%s`\n\n", p.Cluster)
	fmt.Fprintf(&b, "The live cluster has differed from Git since %s (seen on consecutive scans). ", since.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "This pull request proposes that Git catch up where the spec can say it: it edits `%s` only.\n\n", p.File)

	b.WriteString("#### Proposed\n\n| Field | In Git | Live | Seen on |\n|---|---|---|---|\n")
	for _, c := range p.Changes {
		live := "`" + c.Live + "`"
		if c.Value != c.Live {
			live += " (written `" + c.Value + "`)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", c.Field, code(orUnset(c.Declared)), live, strings.Join(c.Where, ", "))
	}
	if len(p.Unexpressed) > 0 {
		b.WriteString("\n#### Not proposed: the spec cannot say these\n\n")
		b.WriteString("They stay drift until someone changes them back, whatever becomes of this pull request.\n\n")
		b.WriteString("| Where | Field | Live | In Git | Written by | Why |\n|---|---|---|---|---|---|\n")
		for _, u := range p.Unexpressed {
			field := u.Path
			if field == "" {
				field = u.Kind
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s |\n", cell(u.Subject), cell(field), code(cell(u.Live)), code(cell(u.Desired)),
				cell(strings.Join(u.Managers, ", ")), cell(u.Why+detail(u.DriftEntry)))
		}
	}

	b.WriteString("\n#### What happens next\n\n")
	if mode == spec.DriftReport {
		b.WriteString("The cluster runs with `drift: report`: the daemon changes nothing and keeps reporting this drift.\n\n")
		b.WriteString("- **Merge** to make Git say what the cluster runs: the proposed fields stop being drift, and Redis needs no change for them (this pull request's plan shows what merging changes).\n")
		b.WriteString("- **Close** unmerged to leave it reported; this pull request is not opened again for the same drift.\n")
	} else {
		b.WriteString("The cluster runs with `drift: correct`: the daemon sets drift back to what Git says on its passes; this drift outlasted that.\n\n")
		b.WriteString("- **Merge** to make Git say what the cluster runs: the daemon stops changing it back.\n")
		b.WriteString("- **Close** unmerged and the daemon goes on setting it back to Git.\n")
	}
	if len(actions) > 0 {
		b.WriteString("\n<details><summary>What the next pass would do without this change</summary>\n\n")
		for _, a := range actions {
			fmt.Fprintf(&b, "- %s\n", cell(a))
		}
		b.WriteString("\n</details>\n")
	}
	b.WriteString("\n<sub>Opened and kept current by redis-gitops from a branch of its own; it closes this pull request, saying why, when the drift is gone.</sub>\n")
	return report.Redact(b.String())
}

// CloseComment is said on the pull request as it is closed.
func CloseComment(cluster, reason string) string {
	return Marker(cluster) + "\nredis-gitops closes this pull request. " + reason + "\n"
}

func detail(d report.DriftEntry) string {
	if d.Detail == "" {
		return ""
	}
	return " (" + d.Detail + ")"
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// cell keeps a value on one table row.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "`", "'")
	return strings.Join(strings.Fields(s), " ")
}
