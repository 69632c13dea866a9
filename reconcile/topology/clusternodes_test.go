package topology

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Node IDs of the hand-written lines (from the CLUSTER NODES docs example).
const (
	nodeID1 = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"
	nodeID2 = "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1"
	nodeID3 = "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f"
	nodeID4 = "07c37dfeb235213a872192d90877d0cd55635b91"
)

// clusterNodesLineTests are single lines that parse, each printed the way
// Redis 7.0 prints it, so Line must give the same text back.
var clusterNodesLineTests = []struct {
	name string
	line string
	want ClusterNode
}{{
	name: "myself master",
	line: nodeID1 + " 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460",
	want: ClusterNode{ID: nodeID1, Addr: "127.0.0.1:30001@31001", IP: "127.0.0.1", Port: 30001, BusPort: 31001,
		Flags: []string{"myself", "master"}, ConfigEpoch: 1, LinkState: "connected",
		Slots: []SlotRange{{0, 5460}}},
}, {
	name: "master with several ranges and single slots",
	line: nodeID2 + " 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 0 5-100 101-200 16383",
	want: ClusterNode{ID: nodeID2, Addr: "127.0.0.1:30002@31002", IP: "127.0.0.1", Port: 30002, BusPort: 31002,
		Flags: []string{"master"}, PongRecv: 1426238316232, ConfigEpoch: 2, LinkState: "connected",
		Slots: []SlotRange{{0, 0}, {5, 100}, {101, 200}, {16383, 16383}}},
}, {
	// A replica prints its master's config epoch, not its own.
	name: "replica",
	line: nodeID4 + " 127.0.0.1:30004@31004 slave " + nodeID1 + " 0 1426238317239 1 connected",
	want: ClusterNode{ID: nodeID4, Addr: "127.0.0.1:30004@31004", IP: "127.0.0.1", Port: 30004, BusPort: 31004,
		Flags: []string{"slave"}, MasterID: nodeID1, PongRecv: 1426238317239, ConfigEpoch: 1, LinkState: "connected"},
}, {
	name: "myself replica",
	line: nodeID4 + " 127.0.0.1:30004@31004 myself,slave " + nodeID1 + " 0 0 1 connected",
	want: ClusterNode{ID: nodeID4, Addr: "127.0.0.1:30004@31004", IP: "127.0.0.1", Port: 30004, BusPort: 31004,
		Flags: []string{"myself", "slave"}, MasterID: nodeID1, ConfigEpoch: 1, LinkState: "connected"},
}, {
	name: "master suspected failing",
	line: nodeID3 + " 127.0.0.1:30003@31003 master,fail? - 1426238317239 1426238316232 3 disconnected 10923-16383",
	want: ClusterNode{ID: nodeID3, Addr: "127.0.0.1:30003@31003", IP: "127.0.0.1", Port: 30003, BusPort: 31003,
		Flags: []string{"master", "fail?"}, PingSent: 1426238317239, PongRecv: 1426238316232, ConfigEpoch: 3,
		LinkState: "disconnected", Slots: []SlotRange{{10923, 16383}}},
}, {
	name: "failed replica",
	line: nodeID4 + " 127.0.0.1:30004@31004 slave,fail " + nodeID1 + " 1426238317239 1426238316232 1 disconnected",
	want: ClusterNode{ID: nodeID4, Addr: "127.0.0.1:30004@31004", IP: "127.0.0.1", Port: 30004, BusPort: 31004,
		Flags: []string{"slave", "fail"}, MasterID: nodeID1, PingSent: 1426238317239, PongRecv: 1426238316232,
		ConfigEpoch: 1, LinkState: "disconnected"},
}, {
	// CLUSTER MEET creates a handshake node under a random ID, replaced by
	// the real one when the peer answers.
	name: "handshake",
	line: "42aa6cc3dc64bf7464c377356f151c78f973a1c2 127.0.0.1:30099@40099 handshake - 0 0 0 disconnected",
	want: ClusterNode{ID: "42aa6cc3dc64bf7464c377356f151c78f973a1c2", Addr: "127.0.0.1:30099@40099",
		IP: "127.0.0.1", Port: 30099, BusPort: 40099, Flags: []string{"handshake"}, LinkState: "disconnected"},
}, {
	// A node that answered under another ID loses its address.
	name: "noaddr",
	line: nodeID2 + " :0@0 master,fail,noaddr - 1426238317239 1426238316232 2 disconnected 5461-10922",
	want: ClusterNode{ID: nodeID2, Addr: ":0@0", Flags: []string{"master", "fail", "noaddr"},
		PingSent: 1426238317239, PongRecv: 1426238316232, ConfigEpoch: 2, LinkState: "disconnected",
		Slots: []SlotRange{{5461, 10922}}},
}, {
	// Until a peer tells it, a fresh node does not know its own IP.
	name: "own IP not yet known",
	line: nodeID1 + " :6379@16379 myself,master - 0 0 0 connected",
	want: ClusterNode{ID: nodeID1, Addr: ":6379@16379", Port: 6379, BusPort: 16379,
		Flags: []string{"myself", "master"}, LinkState: "connected"},
}, {
	name: "nofailover replica",
	line: nodeID4 + " 10.0.0.4:6379@16379 slave,nofailover " + nodeID1 + " 0 1426238317239 1 connected",
	want: ClusterNode{ID: nodeID4, Addr: "10.0.0.4:6379@16379", IP: "10.0.0.4", Port: 6379, BusPort: 16379,
		Flags: []string{"slave", "nofailover"}, MasterID: nodeID1, PongRecv: 1426238317239, ConfigEpoch: 1,
		LinkState: "connected"},
}, {
	name: "noflags",
	line: nodeID3 + " 10.0.0.3:6379@16379 noflags - 0 0 0 disconnected",
	want: ClusterNode{ID: nodeID3, Addr: "10.0.0.3:6379@16379", IP: "10.0.0.3", Port: 6379, BusPort: 16379,
		Flags: []string{"noflags"}, LinkState: "disconnected"},
}, {
	name: "unknown flag kept",
	line: nodeID3 + " 10.0.0.3:6379@16379 master,shiny-new - 0 0 3 connected",
	want: ClusterNode{ID: nodeID3, Addr: "10.0.0.3:6379@16379", IP: "10.0.0.3", Port: 6379, BusPort: 16379,
		Flags: []string{"master", "shiny-new"}, ConfigEpoch: 3, LinkState: "connected"},
}, {
	name: "hostname",
	line: nodeID1 + " 10.0.0.1:6379@16379,redis-0.redis.prod.svc myself,master - 0 0 1 connected 0-5460",
	want: ClusterNode{ID: nodeID1, Addr: "10.0.0.1:6379@16379,redis-0.redis.prod.svc", IP: "10.0.0.1", Port: 6379,
		BusPort: 16379, Hostname: "redis-0.redis.prod.svc", Flags: []string{"myself", "master"},
		ConfigEpoch: 1, LinkState: "connected", Slots: []SlotRange{{0, 5460}}},
}, {
	// Redis prints IPv6 without brackets.
	name: "IPv6 loopback",
	line: nodeID2 + " ::1:6379@16379 master - 0 0 2 connected",
	want: ClusterNode{ID: nodeID2, Addr: "::1:6379@16379", IP: "::1", Port: 6379, BusPort: 16379,
		Flags: []string{"master"}, ConfigEpoch: 2, LinkState: "connected"},
}, {
	name: "IPv6 with hostname",
	line: nodeID2 + " 2001:db8::7:6379@16379,redis-1 master - 0 0 2 connected",
	want: ClusterNode{ID: nodeID2, Addr: "2001:db8::7:6379@16379,redis-1", IP: "2001:db8::7", Port: 6379,
		BusPort: 16379, Hostname: "redis-1", Flags: []string{"master"}, ConfigEpoch: 2, LinkState: "connected"},
}, {
	// Only the node itself reports its open slots, after its ranges.
	name: "open slots both ways",
	line: nodeID1 + " 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [100->-" + nodeID2 + "] [7000-<-" + nodeID3 + "]",
	want: ClusterNode{ID: nodeID1, Addr: "127.0.0.1:30001@31001", IP: "127.0.0.1", Port: 30001, BusPort: 31001,
		Flags: []string{"myself", "master"}, ConfigEpoch: 1, LinkState: "connected",
		Slots: []SlotRange{{0, 5460}},
		Open:  []OpenSlot{{Slot: 100, Migrating: true, Peer: nodeID2}, {Slot: 7000, Migrating: false, Peer: nodeID3}}},
}, {
	name: "importing into an empty master",
	line: nodeID4 + " 127.0.0.1:30007@31007 myself,master - 0 0 0 connected [16383-<-" + nodeID3 + "]",
	want: ClusterNode{ID: nodeID4, Addr: "127.0.0.1:30007@31007", IP: "127.0.0.1", Port: 30007, BusPort: 31007,
		Flags: []string{"myself", "master"}, LinkState: "connected",
		Open: []OpenSlot{{Slot: 16383, Peer: nodeID3}}},
}}

func TestParseClusterNodesLine(t *testing.T) {
	for _, tc := range clusterNodesLineTests {
		t.Run(tc.name, func(t *testing.T) {
			nodes, err := ParseClusterNodes(tc.line + "\n")
			if err != nil {
				t.Fatalf("ParseClusterNodes: %v", err)
			}
			if len(nodes) != 1 {
				t.Fatalf("got %d nodes, want 1", len(nodes))
			}
			if got := nodes[0]; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseClusterNodes:\n got  %+v\n want %+v", got, tc.want)
			}
			if got, want := nodes[0].Line(), tc.line; got != want {
				t.Errorf("Line:\n got  %s\n want %s", got, want)
			}
		})
	}
}

func TestParseClusterNodesWhole(t *testing.T) {
	reply := strings.Join([]string{
		nodeID2 + " 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922",
		nodeID3 + " 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383",
		nodeID4 + " 127.0.0.1:30004@31004 slave " + nodeID1 + " 0 1426238317239 1 connected",
		nodeID1 + " 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460",
	}, "\n")
	for name, s := range map[string]string{
		"no final newline":   reply,
		"final newline":      reply + "\n",
		"CRLF":               strings.ReplaceAll(reply, "\n", "\r\n") + "\r\n",
		"empty lines at end": reply + "\n\n  \n",
	} {
		t.Run(name, func(t *testing.T) {
			nodes, err := ParseClusterNodes(s)
			if err != nil {
				t.Fatalf("ParseClusterNodes: %v", err)
			}
			var ids []string
			for _, n := range nodes {
				ids = append(ids, n.ID)
			}
			if got, want := ids, []string{nodeID2, nodeID3, nodeID4, nodeID1}; !reflect.DeepEqual(got, want) {
				t.Errorf("IDs = %v, want %v", got, want)
			}
			me, ok := Myself(nodes)
			if !ok || me.ID != nodeID1 {
				t.Errorf("Myself = %s, %v; want %s, true", me.ID, ok, nodeID1)
			}
		})
	}
}

func TestParseClusterNodesEmpty(t *testing.T) {
	for _, s := range []string{"", "\n", " \r\n"} {
		nodes, err := ParseClusterNodes(s)
		if err != nil || len(nodes) != 0 {
			t.Errorf("ParseClusterNodes(%q) = %v, %v; want no nodes, no error", s, nodes, err)
		}
		if _, ok := Myself(nodes); ok {
			t.Errorf("Myself of %q found a node", s)
		}
	}
}

func TestMyselfClusterNodesNone(t *testing.T) {
	nodes, err := ParseClusterNodes(nodeID2 + " 127.0.0.1:30002@31002 master - 0 0 2 connected\n")
	if err != nil {
		t.Fatal(err)
	}
	if me, ok := Myself(nodes); ok {
		t.Errorf("Myself = %s, want none", me.ID)
	}
}

// goodNodeLine is a valid line to break one field at a time.
const goodNodeLine = nodeID1 + " 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460"

// clusterNodesBadTests are replies that must not parse, with the error.
var clusterNodesBadTests = []struct {
	name  string
	input string
	line  int
	err   string
}{
	{"too few fields", nodeID1 + " 127.0.0.1:30001@31001 myself,master - 0 0 1", 1,
		`want at least 8 fields, got 7`},
	{"bad id", "e7d1eecce10fd6bb 127.0.0.1:30001@31001 master - 0 0 1 connected", 1,
		`node id "e7d1eecce10fd6bb": want 40 lowercase hex characters`},
	{"upper-case id", strings.ToUpper(nodeID1) + " 127.0.0.1:30001@31001 master - 0 0 1 connected", 1,
		`node id "E7D1EECCE10FD6BB5EB35B9F99A514335D9BA9CA": want 40 lowercase hex characters`},
	{"bad master", nodeID4 + " 127.0.0.1:30004@31004 slave e7d1eecce10f 0 0 1 connected", 1,
		`master "e7d1eecce10f": want - or 40 lowercase hex characters`},
	{"no bus port", nodeID1 + " 127.0.0.1:30001 master - 0 0 1 connected", 1,
		`address "127.0.0.1:30001": want ip:port@cport`},
	{"no port", nodeID1 + " 127.0.0.1@31001 master - 0 0 1 connected", 1,
		`address "127.0.0.1@31001": want ip:port@cport`},
	{"port out of range", nodeID1 + " 127.0.0.1:70000@31001 master - 0 0 1 connected", 1,
		`address "127.0.0.1:70000@31001": port "70000": want a decimal number from 0 to 65535`},
	{"port with leading zero", nodeID1 + " 127.0.0.1:06379@16379 master - 0 0 1 connected", 1,
		`address "127.0.0.1:06379@16379": port "06379": want a decimal number from 0 to 65535`},
	{"bad bus port", nodeID1 + " 127.0.0.1:6379@x master - 0 0 1 connected", 1,
		`address "127.0.0.1:6379@x": cluster bus port "x": want a decimal number from 0 to 65535`},
	{"bracketed IPv6", nodeID1 + " [::1]:6379@16379 master - 0 0 1 connected", 1,
		`address "[::1]:6379@16379": bracketed IP: Redis prints IPv6 as ::1:6379@16379`},
	{"empty hostname", nodeID1 + " 127.0.0.1:6379@16379, master - 0 0 1 connected", 1,
		`address "127.0.0.1:6379@16379,": empty hostname after ","`},
	{"Redis 7.2 nodes.conf aux fields", nodeID1 + " 127.0.0.1:6379@16379,,tls-port=0,shard-id=" + nodeID2 + " master - 0 0 1 connected", 1,
		`address "127.0.0.1:6379@16379,,tls-port=0,shard-id=` + nodeID2 + `": more than one ",": aux fields of Redis 7.2+ nodes.conf are not supported`},
	{"empty flag", nodeID1 + " 127.0.0.1:6379@16379 myself,,master - 0 0 1 connected", 1,
		`flags "myself,,master": empty flag`},
	{"upper-case flag", nodeID1 + " 127.0.0.1:6379@16379 MASTER - 0 0 1 connected", 1,
		`flags "MASTER": flag "MASTER": unexpected character 'M'`},
	{"negative ping-sent", nodeID1 + " 127.0.0.1:6379@16379 master - -1 0 1 connected", 1,
		`ping-sent "-1": want a decimal number from 0 to 9223372036854775807`},
	{"config epoch beyond int64", nodeID1 + " 127.0.0.1:6379@16379 master - 0 0 9223372036854775808 connected", 1,
		`config-epoch "9223372036854775808": want a decimal number from 0 to 9223372036854775807`},
	{"bad link state", nodeID1 + " 127.0.0.1:6379@16379 master - 0 0 1 up", 1,
		`link-state "up": want connected or disconnected`},
	{"bad slot", goodNodeLine + " 6000-x", 1, `slot "6000-x": "x" is not a decimal number`},
	{"bad single slot", goodNodeLine + " abc", 1, `slot "abc": "abc" is not a decimal number`},
	{"range start after end", nodeID1 + " 127.0.0.1:30001@31001 master - 0 0 1 connected 5460-0", 1,
		`slot "5460-0": range start 5460 after end 0`},
	{"slot above 16383", goodNodeLine + " 16384", 1, `slot "16384": 16384 is out of range 0-16383`},
	{"range end above 16383", nodeID1 + " 127.0.0.1:30001@31001 master - 0 0 1 connected 10923-16384", 1,
		`slot "10923-16384": 16384 is out of range 0-16383`},
	{"overlapping ranges", goodNodeLine + " 5000-6000", 1, `slot "5000-6000": overlaps or precedes 0-5460`},
	{"ranges out of order", nodeID1 + " 127.0.0.1:30001@31001 master - 0 0 1 connected 10-20 0-5", 1,
		`slot "0-5": overlaps or precedes 10-20`},
	{"open slot without peer", goodNodeLine + " [100->-]", 1,
		`open slot "[100->-]": node id "": want 40 lowercase hex characters`},
	{"open slot bad arrow", goodNodeLine + " [100->" + nodeID2 + "]", 1,
		`open slot "[100->` + nodeID2 + `]": want [slot->-id] or [slot-<-id]`},
	{"open slot unclosed", goodNodeLine + " [100->-" + nodeID2, 1,
		`open slot "[100->-` + nodeID2 + `": want [slot->-id] or [slot-<-id]`},
	{"open slot above 16383", goodNodeLine + " [16384-<-" + nodeID2 + "]", 1,
		`open slot "[16384-<-` + nodeID2 + `]": 16384 is out of range 0-16383`},
	{"error names its line", goodNodeLine + "\n" + nodeID2 + " 127.0.0.1:30002@31002 master - 0 0 2 connected 5461-10922 x\n", 2,
		`slot "x": "x" is not a decimal number`},
	{"empty line inside", goodNodeLine + "\n\n" + nodeID2 + " 127.0.0.1:30002@31002 master - 0 0 2 connected\n", 2,
		`empty line`},
	{"duplicate node", goodNodeLine + "\n" + nodeID2 + " 127.0.0.1:30002@31002 master - 0 0 2 connected\n" + goodNodeLine + "\n", 3,
		`node id ` + nodeID1 + `: already on line 1`},
	{"two myself", goodNodeLine + "\n" + nodeID2 + " 127.0.0.1:30002@31002 myself,master - 0 0 2 connected\n", 2,
		`second node flagged myself (first on line 1)`},
	{"nodes.conf vars line", goodNodeLine + "\nvars currentEpoch 6 lastVoteEpoch 0\n", 2,
		`"vars" line of nodes.conf: drop it before parsing`},
}

func TestParseClusterNodesBad(t *testing.T) {
	for _, tc := range clusterNodesBadTests {
		t.Run(tc.name, func(t *testing.T) {
			nodes, err := ParseClusterNodes(tc.input)
			if err == nil {
				t.Fatalf("ParseClusterNodes = %d nodes, want error", len(nodes))
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if got, want := pe.Line, tc.line; got != want {
				t.Errorf("Line = %d, want %d", got, want)
			}
			if got, want := pe.Text, strings.Split(tc.input, "\n")[tc.line-1]; got != want {
				t.Errorf("Text = %q, want %q", got, want)
			}
			if got, want := err.Error(), fmt.Sprintf("line %d: %s", tc.line, tc.err); got != want {
				t.Errorf("error:\n got  %s\n want %s", got, want)
			}
		})
	}
}

// The captured replies in testdata/clusternodes come from a live Redis 7.0
// cluster that TestCaptureClusterNodes builds on loopback: masters on
// 127.0.0.1:30001-30003, replicas on 30004-30006, bus ports 40001-40006.
const (
	capturedSlot     = 1000 // open from 30001 (migrating) to 30002 (importing)
	capturedHostname = "redis-0.redis.prod.svc"
	capturedDir      = "testdata/clusternodes"
)

// What each file holds, and from which node.
const (
	migratingFile     = "migrating.txt"      // from 30001, MIGRATING capturedSlot
	importingFile     = "importing.txt"      // from 30002, IMPORTING capturedSlot
	failedReplicaFile = "failed-replica.txt" // from 30004, after 30005 was killed
)

func TestClusterNodesCaptured(t *testing.T) {
	views := map[string][]ClusterNode{}
	for _, name := range []string{migratingFile, importingFile, failedReplicaFile} {
		b, err := os.ReadFile(filepath.Join(capturedDir, name))
		if err != nil {
			t.Fatalf("%v (regenerate with: go test -run CaptureClusterNodes -capture)", err)
		}
		nodes, err := ParseClusterNodes(string(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkCapturedCluster(t, name, nodes)
		// Line gives back exactly what Redis printed.
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		for i, n := range nodes {
			if got, want := n.Line(), lines[i]; got != want {
				t.Errorf("%s line %d: Line:\n got  %s\n want %s", name, i+1, got, want)
			}
		}
		views[name] = nodes
	}

	src, _ := Myself(views[migratingFile])
	dst, _ := Myself(views[importingFile])
	if got, want := src.Port, 30001; got != want {
		t.Errorf("%s: myself port = %d, want %d", migratingFile, got, want)
	}
	if got, want := dst.Port, 30002; got != want {
		t.Errorf("%s: myself port = %d, want %d", importingFile, got, want)
	}
	if !servesSlot(src, capturedSlot) {
		t.Errorf("%s: myself does not own slot %d: %v", migratingFile, capturedSlot, src.Slots)
	}
	if got, want := src.Open, []OpenSlot{{Slot: capturedSlot, Migrating: true, Peer: dst.ID}}; !reflect.DeepEqual(got, want) {
		t.Errorf("%s: myself open slots = %+v, want %+v", migratingFile, got, want)
	}
	if got, want := dst.Open, []OpenSlot{{Slot: capturedSlot, Migrating: false, Peer: src.ID}}; !reflect.DeepEqual(got, want) {
		t.Errorf("%s: myself open slots = %+v, want %+v", importingFile, got, want)
	}

	view := views[failedReplicaFile]
	if me, _ := Myself(view); !me.Has("slave") || me.Port != 30004 {
		t.Errorf("%s: myself = %s, want the replica on 30004", failedReplicaFile, me.Line())
	}
	var failed []ClusterNode
	for _, n := range view {
		if n.Has("fail") {
			failed = append(failed, n)
		}
	}
	if len(failed) != 1 {
		t.Fatalf("%s: %d nodes flagged fail, want 1", failedReplicaFile, len(failed))
	}
	if f := failed[0]; f.Port != 30005 || !f.Has("slave") || f.LinkState != "disconnected" {
		t.Errorf("%s: failed node = %s, want the replica on 30005, disconnected", failedReplicaFile, f.Line())
	}
}

// checkCapturedCluster asserts what every captured view agrees on: six
// nodes, three masters covering the 16384 slots once, three replicas of
// those masters, the hostname and nofailover set by the capture, and open
// slots reported by myself only.
func checkCapturedCluster(t *testing.T, name string, nodes []ClusterNode) {
	t.Helper()
	if got, want := len(nodes), 6; got != want {
		t.Errorf("%s: %d nodes, want %d", name, got, want)
	}
	if _, ok := Myself(nodes); !ok {
		t.Errorf("%s: no node flagged myself", name)
	}
	masters := map[string]bool{}
	var owner [SlotCount]string
	for _, n := range nodes {
		if !n.Has("master") {
			continue
		}
		masters[n.ID] = true
		for _, r := range n.Slots {
			for s := r.Start; s <= r.End; s++ {
				if owner[s] != "" {
					t.Errorf("%s: slot %d owned by %s and %s", name, s, owner[s], n.ID)
				}
				owner[s] = n.ID
			}
		}
	}
	if got, want := len(masters), 3; got != want {
		t.Errorf("%s: %d masters, want %d", name, got, want)
	}
	for s, id := range owner {
		if id == "" {
			t.Errorf("%s: slot %d has no master", name, s)
			break
		}
	}
	replicas := 0
	for _, n := range nodes {
		switch {
		case n.Has("slave"):
			replicas++
			if !masters[n.MasterID] {
				t.Errorf("%s: replica %s replicates %q, not a master", name, n.ID, n.MasterID)
			}
			if len(n.Slots) > 0 {
				t.Errorf("%s: replica %s has slots %v", name, n.ID, n.Slots)
			}
		case n.MasterID != "":
			t.Errorf("%s: master %s has master %s", name, n.ID, n.MasterID)
		}
		if len(n.Open) > 0 && !n.Has("myself") {
			t.Errorf("%s: node %s reports open slots, but only myself should", name, n.ID)
		}
		if got, want := n.IP, "127.0.0.1"; got != want {
			t.Errorf("%s: node %s IP = %q, want %q", name, n.ID, got, want)
		}
		if got, want := n.BusPort, n.Port+10000; got != want {
			t.Errorf("%s: node %s bus port = %d, want %d", name, n.ID, got, want)
		}
		if got, want := n.Hostname != "", n.Port == 30001; got != want {
			t.Errorf("%s: node on port %d has hostname %q", name, n.Port, n.Hostname)
		}
		if n.Port == 30001 && n.Hostname != capturedHostname {
			t.Errorf("%s: hostname = %q, want %q", name, n.Hostname, capturedHostname)
		}
		if got, want := n.Has("nofailover"), n.Port == 30006; got != want {
			t.Errorf("%s: node on port %d: nofailover = %v, want %v", name, n.Port, got, want)
		}
	}
	if got, want := replicas, 3; got != want {
		t.Errorf("%s: %d replicas, want %d", name, got, want)
	}
}

func servesSlot(n ClusterNode, slot int) bool {
	for _, r := range n.Slots {
		if r.Start <= slot && slot <= r.End {
			return true
		}
	}
	return false
}
