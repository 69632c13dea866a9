package spec

import (
	"strings"
	"testing"
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
