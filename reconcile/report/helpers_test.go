package report

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// The helpers below follow reconcile/topology/plan_test.go: hand-written
// CLUSTER NODES lines for a 3×1 cluster on Kubernetes nodes a, b, c.

var desired = topology.Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: 6379, BusPort: 16379}

func cacheSpec() *spec.RedisCluster {
	one := 1
	return &spec.RedisCluster{
		APIVersion: spec.APIVersion, Kind: spec.Kind,
		Metadata: spec.Metadata{Namespace: "prod", Name: "cache"},
		Spec:     spec.ClusterSpec{Masters: 3, ReplicasPerMaster: &one},
	}
}

// id is node n's 40-hex-digit ID, with a distinct 8-digit prefix as real
// IDs have, so shortened IDs in the Markdown stay apart.
func id(n int) string { return fmt.Sprintf("%08x%032x", uint32(n)*2654435761, n) }

// line renders one CLUSTER NODES line for node n.
func line(n int, ip string, flags string, master int, slots string) string {
	m := "-"
	if master > 0 {
		m = id(master)
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s:6379@16379 %s %s 0 0 1 connected %s", id(n), ip, flags, m, slots))
}

// podsOn places pod cache-i on Kubernetes node nodes[i], in zone "zone-<node>".
func podsOn(nodes ...string) []topology.Pod {
	var out []topology.Pod
	for i, n := range nodes {
		out = append(out, topology.Pod{Name: fmt.Sprintf("cache-%d", i), Ordinal: i, IP: fmt.Sprintf("10.0.0.%d", i+1),
			Ready: true, Node: n, Domain: n, Zone: "zone-" + n})
	}
	return out
}

// healthy is a converged 3×1 cluster: masters 1-3 on pods 0-2, replicas 4-6
// on pods 3-5 following masters 2, 3, 1; override replaces node lines.
func healthy(viewer int, override map[int]string) string {
	lines := []string{
		line(1, "10.0.0.1", "master", 0, "0-5460"),
		line(2, "10.0.0.2", "master", 0, "5461-10922"),
		line(3, "10.0.0.3", "master", 0, "10923-16383"),
		line(4, "10.0.0.4", "slave", 2, ""),
		line(5, "10.0.0.5", "slave", 3, ""),
		line(6, "10.0.0.6", "slave", 1, ""),
	}
	for n, l := range override {
		lines[n-1] = l
	}
	lines[viewer-1] = strings.Replace(lines[viewer-1], " master ", " myself,master ", 1)
	lines[viewer-1] = strings.Replace(lines[viewer-1], " slave ", " myself,slave ", 1)
	return strings.Join(lines, "\n") + "\n"
}

// observe builds an Observed in which the pods in views answered (with
// keys), and the others failed with the reason in down.
func observe(t *testing.T, pods []topology.Pod, views map[string]string, keys map[string]int64, down map[string]string) *topology.Observed {
	t.Helper()
	replies := map[string]topology.Reply{}
	for _, p := range pods {
		if why, ok := down[p.Name]; ok {
			replies[p.Name] = topology.Reply{Err: errors.New(why)}
			continue
		}
		replies[p.Name] = topology.Reply{ClusterNodes: views[p.Name], Keys: keys[p.Name], Replication: "master_link_status:up"}
	}
	o, err := topology.Observe(pods, replies)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func healthyViews(override map[int]string) map[string]string {
	views := map[string]string{}
	for i := range 6 {
		views[fmt.Sprintf("cache-%d", i)] = healthy(i+1, override)
	}
	return views
}

var cacheKeys = map[string]int64{"cache-0": 1200, "cache-1": 1187, "cache-2": 1213}

// converged is a pass over a healthy cluster: one round, nothing to do.
func converged(t *testing.T) *converge.Result {
	o := observe(t, podsOn("a", "b", "c", "a", "b", "c"), healthyViews(nil), cacheKeys, nil)
	return &converge.Result{Rounds: []topology.Plan{topology.PlanTopology(desired, o)}, Final: o}
}

// rendered are the objects the project renders for prod/cache.
func rendered() []kube.ObjectRef {
	return []kube.ObjectRef{
		{Kind: "ConfigMap", Namespace: "prod", Name: "cache-config"},
		{Kind: "Service", Namespace: "prod", Name: "cache"},
		{Kind: "Service", Namespace: "prod", Name: "cache-headless"},
		{Kind: "PodDisruptionBudget", Namespace: "prod", Name: "cache"},
		{Kind: "StatefulSet", Namespace: "prod", Name: "cache"},
	}
}

func unchanged() *kube.Result {
	var r kube.Result
	for _, o := range rendered() {
		r.Changes = append(r.Changes, kube.Change{Object: o, Action: kube.Unchanged})
	}
	return &r
}
