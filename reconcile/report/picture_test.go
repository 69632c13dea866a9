package report

import (
	"regexp"
	"strings"
	"testing"
)

// checkMermaid checks the structure a Mermaid flowchart needs: the fence
// and header, balanced subgraphs, every node defined once, every arrow
// between defined nodes.
func checkMermaid(t *testing.T, d string) map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(d), "\n")
	if lines[0] != "```mermaid" || lines[1] != "flowchart TB" || lines[len(lines)-1] != "```" {
		t.Fatalf("not a fenced Mermaid flowchart:\n%s", d)
	}
	node := regexp.MustCompile(`^\s+(\w+)\["([^"]*)"\]:::(\w+)$`)
	sub := regexp.MustCompile(`^\s+subgraph \w+\["[^"]*"\]$`)
	edge := regexp.MustCompile(`^\s+(\w+) (-->|-\. same node \.->) (\w+)$`)
	classes := map[string]string{}
	depth := 0
	var edges [][2]string
	for _, l := range lines[2 : len(lines)-1] {
		switch {
		case sub.MatchString(l):
			depth++
		case strings.TrimSpace(l) == "end":
			depth--
			if depth < 0 {
				t.Fatalf("an end without its subgraph:\n%s", d)
			}
		case node.MatchString(l):
			m := node.FindStringSubmatch(l)
			if _, dup := classes[m[1]]; dup {
				t.Fatalf("node %s defined twice", m[1])
			}
			classes[m[1]] = m[3]
		case edge.MatchString(l):
			m := edge.FindStringSubmatch(l)
			edges = append(edges, [2]string{m[1], m[3]})
		case strings.HasPrefix(strings.TrimSpace(l), "classDef "):
		default:
			t.Fatalf("a line Mermaid would not take: %q", l)
		}
	}
	if depth != 0 {
		t.Fatalf("%d subgraphs left open", depth)
	}
	for _, e := range edges {
		if classes[e[0]] == "" || classes[e[1]] == "" {
			t.Fatalf("arrow %s -> %s to an undefined node", e[0], e[1])
		}
	}
	return classes
}

func TestDiagramShowsPlacement(t *testing.T) {
	// Converged, each replica off its master's node.
	r := Build(Input{Cluster: "prod/cache", Spec: cacheSpec(), Topology: converged(t)})
	classes := checkMermaid(t, r.Topology.Diagram())
	if len(classes) != 6 || classes["pod_cache_0"] != "master" || classes["pod_cache_5"] != "replica" {
		t.Errorf("classes %v", classes)
	}
	// A replica moved onto its master's node is drawn degraded.
	r.Topology.Masters[0].Replicas[0].Node = r.Topology.Masters[0].Node
	d := r.Topology.Diagram()
	classes = checkMermaid(t, d)
	if got := classes[mermaidID("pod", r.Topology.Masters[0].Replicas[0].Pod)]; got != "degraded" || !strings.Contains(d, "-. same node .->") {
		t.Errorf("a replica on its master's node is not highlighted (%s):\n%s", got, d)
	}
	bars := r.Topology.SlotBars()
	if !strings.Contains(bars, "cache-0 ████████░░░░░░░░░░░░░░░░  5461 slots  33.3%") {
		t.Errorf("slot bars:\n%s", bars)
	}
}
