package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Diagram is the cluster's placement as a Mermaid flowchart, which GitHub
// and Gitea render in Markdown: each zone (when known) and Kubernetes
// node a box, the pods on it inside, every master with an arrow to each
// of its replicas. A replica on its master's Kubernetes node (a placement
// that loses the shard with the machine) is drawn red, with a dashed
// arrow. "" when no node answered.
func (t Topology) Diagram() string {
	type pod struct{ name, label, node, zone, class string }
	var pods []pod
	type edge struct {
		from, to string
		same     bool
	}
	var edges []edge
	for _, m := range t.Masters {
		slots := m.slots()
		pods = append(pods, pod{m.Pod, fmt.Sprintf("%s<br/>master · %d slots", m.Pod, slots), m.Node, m.Zone, "master"})
		for _, r := range m.Replicas {
			class := "replica"
			same := r.Node != "" && r.Node == m.Node
			if same {
				class = "degraded"
			}
			label := r.Pod + "<br/>replica"
			if !r.Linked {
				label += " · link down"
			}
			pods = append(pods, pod{r.Pod, label, r.Node, r.Zone, class})
			edges = append(edges, edge{m.Pod, r.Pod, same})
		}
	}
	for _, u := range t.Unassigned {
		pods = append(pods, pod{u.Pod, u.Pod + "<br/>" + u.Role + " · no slots", u.Node, u.Zone, "spare"})
	}
	for _, u := range t.Unreachable {
		pods = append(pods, pod{u.Pod, u.Pod + "<br/>unreachable", "", "", "down"})
	}
	if len(pods) == 0 {
		return ""
	}
	// zone -> node -> pods, in name order.
	zones := map[string]map[string][]pod{}
	for _, p := range pods {
		if zones[p.zone] == nil {
			zones[p.zone] = map[string][]pod{}
		}
		zones[p.zone][p.node] = append(zones[p.zone][p.node], p)
	}
	var b strings.Builder
	b.WriteString("```mermaid\nflowchart TB\n")
	for _, z := range sortedKeys(zones) {
		indent := "  "
		if z != "" {
			fmt.Fprintf(&b, "  subgraph %s[\"zone %s\"]\n", mermaidID("zone", z), mermaidText(z))
			indent = "    "
		}
		for _, n := range sortedKeys(zones[z]) {
			name := n
			if name == "" {
				name = "no Kubernetes node"
			}
			fmt.Fprintf(&b, "%ssubgraph %s[\"%s\"]\n", indent, mermaidID("node", z+"/"+n), mermaidText(name))
			ps := zones[z][n]
			sort.Slice(ps, func(i, j int) bool { return ps[i].name < ps[j].name })
			for _, p := range ps {
				fmt.Fprintf(&b, "%s  %s[\"%s\"]:::%s\n", indent, mermaidID("pod", p.name), mermaidText(p.label), p.class)
			}
			fmt.Fprintf(&b, "%send\n", indent)
		}
		if z != "" {
			b.WriteString("  end\n")
		}
	}
	for _, e := range edges {
		arrow := "-->"
		if e.same {
			arrow = "-. same node .->"
		}
		fmt.Fprintf(&b, "  %s %s %s\n", mermaidID("pod", e.from), arrow, mermaidID("pod", e.to))
	}
	b.WriteString("  classDef master fill:#dbeafe,stroke:#1d4ed8\n")
	b.WriteString("  classDef replica fill:#f1f5f9,stroke:#64748b\n")
	b.WriteString("  classDef degraded fill:#fee2e2,stroke:#b91c1c,stroke-width:2px\n")
	b.WriteString("  classDef spare fill:#fef9c3,stroke:#a16207\n")
	b.WriteString("  classDef down fill:#e5e7eb,stroke:#111827,stroke-dasharray:4\n")
	b.WriteString("```\n")
	return b.String()
}

// SlotBars is the slot spread per master, one line each, as a compact bar
// of 24 cells over the 16384 slots: the share each master serves.
func (t Topology) SlotBars() string {
	if len(t.Masters) == 0 {
		return ""
	}
	const cells = 24
	var b strings.Builder
	b.WriteString("```text\n")
	width := 0
	for _, m := range t.Masters {
		width = max(width, len(m.Pod))
	}
	for _, m := range t.Masters {
		n := m.slots()
		full := (n*cells + 16384/2) / 16384
		fmt.Fprintf(&b, "%-*s %s%s %5d slots %5.1f%%\n", width, m.Pod, strings.Repeat("█", full), strings.Repeat("░", cells-full), n, float64(n)*100/16384)
	}
	b.WriteString("```\n")
	return b.String()
}

func (m Master) slots() int {
	if m.SlotCount > 0 {
		return m.SlotCount
	}
	return slotCount(m.Slots)
}

// slotCount counts the slots of ranges printed as "0-5460" or "42".
func slotCount(ranges []string) int {
	n := 0
	for _, r := range ranges {
		lo, hi, found := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		c := a
		if found {
			if c, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		n += c - a + 1
	}
	return n
}

// mermaidID makes an identifier Mermaid takes (letters, digits, _).
func mermaidID(kind, s string) string {
	var b strings.Builder
	b.WriteString(kind + "_")
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_') // pod, node and zone names are DNS names: no '_' of their own
		}
	}
	return b.String()
}

// mermaidText escapes a label for a quoted Mermaid node text.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "\n", " ").Replace(s)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
