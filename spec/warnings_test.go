package spec

import (
	"strings"
	"testing"
	"time"
)

func TestWarnings(t *testing.T) {
	const head = "apiVersion: redis-gitops.dev/v1alpha1\nkind: RedisCluster\nmetadata:\n  name: big\n  namespace: default\nspec:\n"
	for _, tc := range []struct {
		name string
		spec string
		want []string // each warning's "file:line:col: path: " and a part of its message; none: no warning
	}{
		{"3 masters", "  masters: 3\n", nil},
		{"500 nodes: at the threshold", "  masters: 250\n  replicasPerMaster: 1\n", nil},
		{"502 nodes", "  masters: 251\n  replicasPerMaster: 1\n", []string{
			"big.yaml:8:22: spec.replicasPerMaster: makes 502 nodes (251 masters × (1 + 1 replicas)), more than 500: "}},
		{"600 nodes by the default replica", "  masters: 300\n", []string{"big.yaml:7:12: spec.masters: makes 600 nodes (300 masters × (1 + 1 replicas))"}},
		{"600 nodes because of the replicas", "  masters: 200\n  replicasPerMaster: 2\n", []string{"big.yaml:8:22: spec.replicasPerMaster: makes 600 nodes"}},
		{"the figures and the sources", "  masters: 500\n", []string{
			"spec.masters: makes 1000 nodes",
			"Redis's cluster spec designs for up to ~1000 nodes",
			"redis/redis#14282", "valkey-io/valkey#384",
			"within cluster-node-timeout/2 with about 12.7 KB per message",
			"grows with the square of the node count",
			"Consider splitting it into several clusters of at most 500 nodes"}},
		{"600 masters without replicas", "  masters: 600\n  replicasPerMaster: 0\n", []string{"spec.masters: makes 600 nodes (600 masters × (1 + 0 replicas))", "about 8.5 KB per message"}},
		{"1001 nodes: an error, no warning", "  masters: 1001\n  replicasPerMaster: 0\n", nil},
		{"the traffic with the declared node timeout", "  masters: 300\n  redis:\n    nodeTimeout: 30s\n", []string{
			// 600 nodes: 2256+104×60 = 8496 B a message; (2×599/30 + 2) of them a second
			"about 8.5 KB per message", "about 356 KB/s a node and 213.8 MB/s over the cluster with nodeTimeout 30s",
			"39 KB/s at 90"}},
		{"150 nodes, nodeTimeout 1s: the bus", "  masters: 75\n  redis:\n    nodeTimeout: 1s\n", []string{
			// 2256+104×15 = 3816 B a message; 2×149/1 + 2 = 300 of them a second
			"big.yaml:9:18: spec.redis.nodeTimeout: 1s with 150 nodes makes each node send about 1.1 MB/s of cluster-bus messages (a ping to every other node every 500ms, and the answers to theirs), 171.7 MB/s over the cluster.",
			"Raise nodeTimeout"}},
		{"140 nodes, nodeTimeout 1s: under the line", "  masters: 70\n  redis:\n    nodeTimeout: 1s\n", nil},
		{"90 nodes at the default 15s", "  masters: 45\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clusters, errs := Parse("big.yaml", []byte(head+tc.spec))
			if tc.want == nil && len(clusters) == 0 {
				return // invalid: Validate's errors are its tests'
			}
			if len(errs) > 0 || len(clusters) != 1 {
				t.Fatalf("Parse: %d clusters, errors %v", len(clusters), errs)
			}
			warns := clusters[0].Warnings()
			if tc.want == nil {
				if len(warns) > 0 {
					t.Errorf("warnings %v, want none", warns)
				}
				return
			}
			if len(warns) != 1 {
				t.Fatalf("%d warnings, want 1: %v", len(warns), warns)
			}
			for _, w := range tc.want {
				if !strings.Contains(warns[0].Error(), w) {
					t.Errorf("warning %q\ndoes not contain %q", warns[0].Error(), w)
				}
			}
			if strings.HasPrefix(tc.want[0], "big.yaml") && !strings.HasPrefix(warns[0].Error(), tc.want[0]) {
				t.Errorf("warning %q\ndoes not start with %q", warns[0].Error(), tc.want[0])
			}
		})
	}
}

// TestBusBytesPerNodeFitsTheMeasurements: the estimate the warnings give is
// within 15% of the cluster-bus bytes a node sent at rest in
// BenchmarkLargeCluster (2026-12-05 and 06, nodeTimeout 15s, the means of
// three runs measuredBus cites: 6086, 6087, 6202 at 6 nodes; 13343, 15763,
// 14086 at 30; 39560, 45813, 30505 at 90), and grows with the square of
// the node count over the cluster.
func TestBusBytesPerNodeFitsTheMeasurements(t *testing.T) {
	for _, m := range []struct {
		nodes    int
		measured float64
	}{{6, (6086 + 6087 + 6202) / 3}, {30, (13343 + 15763 + 14086) / 3}, {90, (39560 + 45813 + 30505) / 3}} {
		got := BusBytesPerNode(m.nodes, 15*time.Second)
		if ratio := got / m.measured; ratio < 0.85 || ratio > 1.15 {
			t.Errorf("%d nodes: estimate %.0f B/s, measured %.0f (ratio %.2f)", m.nodes, got, m.measured, ratio)
		}
	}
	small, large := 100*BusBytesPerNode(100, 15*time.Second), 1000*BusBytesPerNode(1000, 15*time.Second)
	if r := large / small; r < 100 {
		t.Errorf("cluster traffic at 1000 nodes is %.0f× that at 100, want at least 100×", r)
	}
}
