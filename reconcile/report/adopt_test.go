package report

import (
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

func TestAdoptionState(t *testing.T) {
	a := &spec.Adopt{StatefulSet: "redis-cluster", Port: 6379}
	master := &topology.Node{ID: "m", Pod: topology.Pod{Name: "cache-0"}, Self: topology.ClusterNode{ID: "m", Flags: []string{"myself", "master"}, Slots: []topology.SlotRange{{Start: 0, End: 5460}}}}
	oldMaster := &topology.Node{ID: "o", Pod: topology.Pod{Name: "redis-cluster-1"}, Foreign: true, Self: topology.ClusterNode{ID: "o", Flags: []string{"myself", "master"}, Slots: []topology.SlotRange{{Start: 5461, End: 10922}}}}
	oldReplica := &topology.Node{ID: "r", Pod: topology.Pod{Name: "redis-cluster-0"}, Foreign: true, Self: topology.ClusterNode{ID: "r", Flags: []string{"myself", "slave"}, MasterID: "m"}}
	for _, tc := range []struct {
		name    string
		o       *topology.Observed
		blocked string
		want    string // state
		oldWant []string
	}{
		{"taking over", &topology.Observed{Nodes: map[string]*topology.Node{"m": master}, Foreign: map[string]*topology.Node{"o": oldMaster, "r": oldReplica}}, "", AdoptionTakingOver,
			[]string{"redis-cluster-0 (replica of cache-0)", "redis-cluster-1 (master, slots 5461-10922)"}},
		{"adopted", &topology.Observed{Nodes: map[string]*topology.Node{"m": master}, Released: []string{"redis-cluster-0", "redis-cluster-1"}}, "", AdoptionAdopted, nil},
		{"refused", &topology.Observed{Nodes: map[string]*topology.Node{"m": master}, ForeignUnreachable: map[string]string{"redis-cluster-2": "connection refused"}},
			"adopt: a node of the cluster to take over answers nothing", AdoptionRefused, []string{"redis-cluster-2 (not answering)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := buildAdoption(a, tc.o, topology.Plan{Blocked: tc.blocked})
			if got.State != tc.want || strings.Join(got.OldNodes, ";") != strings.Join(tc.oldWant, ";") {
				t.Errorf("got %+v, want state %s, old nodes %v", got, tc.want, tc.oldWant)
			}
			md := string(Report{Adoption: got}.Markdown())
			if !strings.Contains(md, "### Adoption of `redis-cluster`\n\n"+tc.want) {
				t.Errorf("markdown lacks the adoption state:\n%s", md)
			}
		})
	}
	if got := buildAdoption(nil, &topology.Observed{}, topology.Plan{}); got != nil {
		t.Errorf("a spec without adopt: %+v, want no adoption block", got)
	}
}
