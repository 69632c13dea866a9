package render

import (
	"testing"

	"k8s.io/apimachinery/pkg/labels"
)

// A daemon prunes only what its own source applied; the CLI only what no
// daemon applied.
func TestSourceSelectors(t *testing.T) {
	obj := func(cluster, source string) labels.Set {
		l := labels.Set{LabelManagedBy: ManagedByValue, LabelCluster: cluster}
		if source != "" {
			l[LabelSource] = source
		}
		return l
	}
	cases := []struct {
		selector string
		obj      labels.Set
		match    bool
	}{
		{SourceSelector("repo-a"), obj("cache", "repo-a"), true},
		{SourceSelector("repo-a"), obj("cache", "repo-b"), false},
		{SourceSelector("repo-a"), obj("cache", ""), false},
		{SourceSelector(""), obj("cache", ""), true},
		{SourceSelector(""), obj("cache", "repo-a"), false},
		{SourceSelector("repo-a"), labels.Set{LabelSource: "repo-a", LabelCluster: "cache"}, false},
		{ClusterSourceSelector("cache", "repo-a"), obj("cache", "repo-a"), true},
		{ClusterSourceSelector("cache", "repo-a"), obj("other", "repo-a"), false},
		{ClusterSourceSelector("cache", "repo-a"), obj("cache", "repo-b"), false},
		{ClusterSourceSelector("cache", ""), obj("cache", ""), true},
	}
	for _, tc := range cases {
		sel, err := labels.Parse(tc.selector)
		if err != nil {
			t.Fatalf("%s: %v", tc.selector, err)
		}
		if got := sel.Matches(tc.obj); got != tc.match {
			t.Errorf("%s matches %v = %v, want %v", tc.selector, tc.obj, got, tc.match)
		}
	}
}
