package converge

import (
	"fmt"
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// Views are CLUSTER NODES texts as two nodes print them; each case says
// whether waitHealthy may count them as one settled cluster.
func TestSignatureAgreement(t *testing.T) {
	o := &topology.Observed{Nodes: map[string]*topology.Node{
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": {ID: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Pod: topology.Pod{Name: "c-0", IP: "10.0.0.1"}},
		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb": {ID: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Pod: topology.Pod{Name: "c-1", IP: "10.0.0.2"}},
	}}
	const settled = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 10.0.0.1:6379@16379 myself,master - 0 0 2 connected 0-16383\n" +
		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 10.0.0.2:6379@16379 slave aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0 0 2 connected\n"
	cases := []struct {
		name  string
		other string
		same  bool
		err   bool
	}{
		{"same view", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 10.0.0.1:6379@16379 master - 0 0 2 connected 0-16383\n" +
			"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 10.0.0.2:6379@16379 myself,slave aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0 0 2 connected\n", true, false},
		// Right after CLUSTER FAILOVER: the slots moved, but this node
		// has not heard that the old master is now a replica.
		{"old master not yet a replica here", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 10.0.0.1:6379@16379 master - 0 0 2 connected 0-16383\n" +
			"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 10.0.0.2:6379@16379 myself,master - 0 0 1 connected\n", false, false},
		{"slots elsewhere", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 10.0.0.1:6379@16379 slave bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 0 0 2 connected\n" +
			"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 10.0.0.2:6379@16379 myself,master - 0 0 3 connected 0-16383\n", false, false},
		{"stale address", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 10.0.0.9:6379@16379 master - 0 0 2 connected 0-16383\n" +
			"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 10.0.0.2:6379@16379 myself,slave aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0 0 2 connected\n", false, true},
	}
	want, err := signature(settled, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := signature(tc.other, o)
			if (err != nil) != tc.err {
				t.Fatalf("error = %v, want error: %v", err, tc.err)
			}
			if err == nil && (got == want) != tc.same {
				t.Errorf("signatures equal = %v, want %v\n%s\n%s", got == want, tc.same, want, got)
			}
		})
	}
}

// The ranges waitHealthy reads at once: the first node alone (a cluster
// still forming is mostly refused there, at the cost of one node), then
// askersInFlight at a time, every node exactly once, in order.
func TestHealthChunks(t *testing.T) {
	cases := []struct {
		n    int
		want [][2]int
	}{
		{0, nil},
		{1, [][2]int{{0, 1}}},
		{6, [][2]int{{0, 1}, {1, 6}}},
		{17, [][2]int{{0, 1}, {1, 17}}},
		{18, [][2]int{{0, 1}, {1, 17}, {17, 18}}},
		{90, [][2]int{{0, 1}, {1, 17}, {17, 33}, {33, 49}, {49, 65}, {65, 81}, {81, 90}}},
	}
	for _, c := range cases {
		got := healthChunks(c.n)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("healthChunks(%d) = %v, want %v", c.n, got, c.want)
		}
	}
}

// A pass with nothing to do ends on its own observation when that shows
// the cluster settled, and waits (asking every node again) otherwise.
func TestSettledIn(t *testing.T) {
	const a, b = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	master := a + " 10.0.0.1:6379@16379 myself,master - 0 0 2 connected 0-16383\n" +
		b + " 10.0.0.2:6379@16379 slave " + a + " 0 0 2 connected\n"
	replica := a + " 10.0.0.1:6379@16379 master - 0 0 2 connected 0-16383\n" +
		b + " 10.0.0.2:6379@16379 myself,slave " + a + " 0 0 2 connected\n"
	pods := []topology.Pod{{Name: "c-0", Ordinal: 0, IP: "10.0.0.1"}, {Name: "c-1", Ordinal: 1, IP: "10.0.0.2"}}
	const ok, fail = "cluster_state:ok\r\n", "cluster_state:fail\r\n"
	const up, down = "role:slave\r\nmaster_link_status:up\r\n", "role:slave\r\nmaster_link_status:down\r\n"
	for _, tc := range []struct {
		name                    string
		replicaView             string
		masterInfo, replicaInfo string
		link                    string
		want                    bool
	}{
		{"settled", replica, ok, ok, up, true},
		{"the replica's state is fail", replica, ok, fail, up, false},
		{"the replica's link is down", replica, ok, ok, down, false},
		{"the replica knows the master at an old address", strings.Replace(replica, "10.0.0.1:", "10.0.0.9:", 1), ok, ok, up, false},
		{"the replica has not heard the master took the slots", strings.Replace(replica, " connected 0-16383", " connected", 1), ok, ok, up, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := topology.Observe(pods, map[string]topology.Reply{
				"c-0": {ClusterNodes: master, ClusterInfo: tc.masterInfo, Replication: "role:master\r\n"},
				"c-1": {ClusterNodes: tc.replicaView, ClusterInfo: tc.replicaInfo, Replication: tc.link},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := settledIn(o); got != tc.want {
				t.Errorf("settledIn = %v, want %v", got, tc.want)
			}
		})
	}
}
