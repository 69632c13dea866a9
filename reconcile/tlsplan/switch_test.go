package tlsplan

import (
	"strings"
	"testing"
)

var ports = Ports{Plain: 6379, TLS: 6380}

func node(pod string, s Stage) Node {
	n := Node{Pod: pod, Ports: ports, Port: 6379, HasCert: true}
	if s >= Listening {
		n.TLSPort = 6380
	}
	if s >= Bus {
		n.Cluster, n.Replication = true, true
	}
	if s == Only {
		n.Port = 0
	}
	return n
}

func steps(ss []Step) string {
	var out []string
	for _, s := range ss {
		out = append(out, s.String())
	}
	return strings.Join(out, "\n")
}

func TestPlanSwitch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		nodes  []Node
		missed []string
		target Stage
		want   string
	}{
		{name: "plaintext stays", nodes: []Node{node("a", Off), node("b", Off)}, target: Off},
		{name: "TLS stays", nodes: []Node{node("a", Only), node("b", Only)}, target: Only},
		{
			name:  "plaintext to TLS: every node passes each stage before any goes on",
			nodes: []Node{node("a", Off), node("b", Off)}, target: Only,
			want: `tls: a: plaintext -> both ports (tls-port 6380)
tls: b: plaintext -> both ports (tls-port 6380)
tls: a: both ports -> bus and replication over TLS (tls-cluster yes, tls-replication yes)
tls: b: both ports -> bus and replication over TLS (tls-cluster yes, tls-replication yes)
tls: a: bus and replication over TLS -> TLS only (port 0)
tls: b: bus and replication over TLS -> TLS only (port 0)`,
		},
		{
			name:  "the plaintext port kept: the switch stops at the bus",
			nodes: []Node{node("a", Off)}, target: Bus,
			want: `tls: a: plaintext -> both ports (tls-port 6380)
tls: a: both ports -> bus and replication over TLS (tls-cluster yes, tls-replication yes)`,
		},
		{
			name:  "TLS to plaintext, in reverse",
			nodes: []Node{node("a", Only), node("b", Only)}, target: Off,
			want: `tls: a: TLS only -> bus and replication over TLS (port 6379)
tls: b: TLS only -> bus and replication over TLS (port 6379)
tls: a: bus and replication over TLS -> both ports (tls-cluster no, tls-replication no)
tls: b: bus and replication over TLS -> both ports (tls-cluster no, tls-replication no)
tls: a: both ports -> plaintext (tls-port 0)
tls: b: both ports -> plaintext (tls-port 0)`,
		},
		{
			name: "a switch stopped half-way goes on from where each node is",
			nodes: []Node{node("a", Bus), node("b", Listening),
				{Pod: "c", Ports: ports, Port: 6379, TLSPort: 6380, Cluster: true, HasCert: true}}, // tls-cluster set, tls-replication not yet
			target: Only,
			want: `tls: b: both ports -> bus and replication over TLS (tls-cluster yes, tls-replication yes)
tls: c: both ports -> bus and replication over TLS (tls-replication yes)
tls: a: bus and replication over TLS -> TLS only (port 0)
tls: b: bus and replication over TLS -> TLS only (port 0)
tls: c: bus and replication over TLS -> TLS only (port 0)`,
		},
		{
			name:  "a node without a certificate: it listens after its restart, the bus waits for it",
			nodes: []Node{node("a", Off), {Pod: "b", Ports: ports, Port: 6379}}, target: Only,
			want: `tls: a: plaintext -> both ports (tls-port 6380)
tls: b: plaintext -> both ports (tls-port 6380) [waits: the node was started without a certificate: its pod restarts with the certificate volume first]
tls: a: both ports -> bus and replication over TLS (tls-cluster yes, tls-replication yes) [waits: waits for every node to reach both ports]
tls: b: both ports -> bus and replication over TLS (tls-cluster yes, tls-replication yes) [waits: waits for every node to reach both ports]
tls: a: bus and replication over TLS -> TLS only (port 0) [waits: waits for every node to reach both ports]
tls: b: bus and replication over TLS -> TLS only (port 0) [waits: waits for every node to reach both ports]`,
		},
		{
			name:  "a pod not read: listeners open, the bus does not flip",
			nodes: []Node{node("a", Off)}, missed: []string{"cache-1: not running"}, target: Only,
			want: `tls: a: plaintext -> both ports (tls-port 6380)
tls: a: both ports -> bus and replication over TLS (tls-cluster yes, tls-replication yes) [waits: the bus switches on every node at once, and not every pod was read: cache-1: not running]
tls: a: bus and replication over TLS -> TLS only (port 0) [waits: waits for every node to reach bus and replication over TLS]`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PlanSwitch(tc.nodes, tc.missed, tc.target)
			if s := steps(got); s != tc.want {
				t.Errorf("plan:\n%s\nwant:\n%s", s, tc.want)
			}
			for _, st := range got {
				if st.Reannounce != (st.From >= Bus != (st.To >= Bus)) {
					t.Errorf("%s: Reannounce %v", st, st.Reannounce)
				}
			}
		})
	}
}

// TestPlanSwitchConverges runs every plan to its end from every mix of
// two stages and checks each node ends at the target with the settings of
// the target, whatever it started from.
func TestPlanSwitchConverges(t *testing.T) {
	for a := Off; a <= Only; a++ {
		for b := Off; b <= Only; b++ {
			for target := Off; target <= Only; target++ {
				nodes := []Node{node("a", a), node("b", b)}
				for _, st := range PlanSwitch(nodes, nil, target) {
					if !st.Now() {
						t.Fatalf("%v %v -> %v: %s waits", a, b, target, st)
					}
					for i := range nodes {
						if nodes[i].Pod == st.Pod {
							apply(&nodes[i], st.Set)
							if got := nodes[i].Stage(); got != st.To {
								t.Fatalf("%v %v -> %v: after %s the node is at %v", a, b, target, st, got)
							}
						}
					}
				}
				for _, n := range nodes {
					if n.Stage() != target {
						t.Errorf("%v %v -> %v: %s ends at %v", a, b, target, n.Pod, n.Stage())
					}
				}
				if again := PlanSwitch(nodes, nil, target); len(again) != 0 {
					t.Errorf("%v %v -> %v: not done: %s", a, b, target, steps(again))
				}
			}
		}
	}
}

func apply(n *Node, set []Setting) {
	for _, s := range set {
		switch s.Key {
		case "port":
			n.Port = atoi(s.Value)
		case "tls-port":
			n.TLSPort = atoi(s.Value)
		case "tls-cluster":
			n.Cluster = s.Value == "yes"
		case "tls-replication":
			n.Replication = s.Value == "yes"
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestConfigStage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		nodes  []Node
		target Stage
		want   Stage
	}{
		{"a new cluster starts at the target", nil, Only, Only},
		{"plaintext stays plaintext", []Node{node("a", Off)}, Off, Off},
		{"on the way up, restarted pods listen on both ports", []Node{node("a", Off), node("b", Bus)}, Only, Listening},
		{"half-way: the lowest stage", []Node{node("a", Bus), node("b", Only)}, Only, Bus},
		{"on the way down: the lowest stage until the nodes come down", []Node{node("a", Only)}, Off, Only},
	} {
		if got := ConfigStage(tc.nodes, tc.target); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNodeFromConfig(t *testing.T) {
	n, err := NodeFromConfig("a", ports, map[string]string{"port": "0", "tls-port": "6380", "tls-cluster": "yes", "tls-replication": "yes", "tls-cert-file": "/tls/tls.crt"})
	if err != nil || n.Stage() != Only || !n.HasCert {
		t.Errorf("got %+v, %v", n, err)
	}
	if _, err := NodeFromConfig("a", ports, map[string]string{"port": "x", "tls-port": "0"}); err == nil || !strings.Contains(err.Error(), `a: CONFIG GET port: "x" is not a port`) {
		t.Errorf("bad port: %v", err)
	}
}
