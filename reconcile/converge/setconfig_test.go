package converge

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/redis-gitops/redis-gitops/internal/redistest"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// loopbackCluster is six real, empty redis-server nodes on one port, each
// on a loopback address of its own, standing for the pods cache-0..5 on
// three Kubernetes nodes, with an observer and executor reaching them as
// they reach pods. The nodes run Redis's default repl-diskless-sync-delay
// and redistest's cluster-node-timeout, 5000.
type loopbackCluster struct {
	nodes []*redistest.Node
	ob    *Observer
	ex    *Executor
	t     Target
	d     topology.Desired
}

func newLoopbackCluster(t *testing.T) *loopbackCluster {
	nodes := redistest.StartOnePort(t, 6)
	var objs []any
	for i, n := range nodes {
		objs = append(objs, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: fmt.Sprintf("cache-%d", i), Labels: map[string]string{"app": "cache"}},
			Spec:       corev1.PodSpec{NodeName: fmt.Sprintf("worker-%d", i%3)},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: n.IP},
		})
	}
	client := fake.NewClientset()
	for _, o := range objs {
		if _, err := client.CoreV1().Pods("prod").Create(t.Context(), o.(*corev1.Pod), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	port := nodes[0].Port
	dial := RedisDialer("", nil)
	return &loopbackCluster{
		nodes: nodes,
		ob:    &Observer{Client: client, Dial: dial},
		ex:    &Executor{Dial: dial, Port: port},
		t:     Target{Namespace: "prod", Name: "cache", Selector: "app=cache", TopologyKey: "kubernetes.io/hostname", Port: port},
		d:     topology.Desired{Masters: 3, ReplicasPerMaster: 1, ClientPort: port, BusPort: port + 10000, NodeTimeout: "5000"},
	}
}

// settings is each node's live repl-diskless-sync-delay and
// cluster-node-timeout, "delay/timeout", in pod order.
func (c *loopbackCluster) settings(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, n := range c.nodes {
		v, err := n.Client.ConfigGet(t.Context(), "cluster-*").Result()
		if err != nil {
			t.Fatal(err)
		}
		d, err := n.Client.ConfigGet(t.Context(), topology.DisklessSyncDelay).Result()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d[topology.DisklessSyncDelay]+"/"+v[topology.NodeTimeout])
	}
	return out
}

// declared is what the nodes run outside a bootstrap.
var declared = slices.Repeat([]string{"5/5000"}, 6)

// TestBootstrapSkipsSyncDelay: a bootstrap of empty nodes does not wait out
// repl-diskless-sync-delay (5 s here) before its replicas' first sync, nor
// the masters' rejoin delay of cluster-node-timeout (5 s) before they say
// cluster_state:ok, and leaves every node at the declared values; a second
// pass runs nothing.
func TestBootstrapSkipsSyncDelay(t *testing.T) {
	c := newLoopbackCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := Converge(ctx, c.ob, c.ex, c.t, c.d, Options{})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("converge: %v", err)
	}
	t.Logf("bootstrap of 3x1 on loopback, every replica linked: %s", elapsed.Round(time.Millisecond))
	var lowered, restored int
	for _, a := range res.Executed {
		switch {
		case a.Kind == topology.SetConfig && (a.AfterReplicas == 1 || a.AfterSettled):
			restored++
		case a.Kind == topology.SetConfig:
			lowered++
		}
	}
	if lowered != 9 || restored != 9 {
		t.Errorf("executed %d lowering and %d restoring steps, want 9 and 9 (the sync delay on three masters, the node timeout on six nodes): %v", lowered, restored, res.Executed)
	}
	if got := c.settings(t); !slices.Equal(got, declared) {
		t.Errorf("repl-diskless-sync-delay/cluster-node-timeout after the bootstrap: %v, want %v", got, declared)
	}
	// Each wait alone is 5 s; the whole bootstrap takes less.
	if elapsed >= 5*time.Second {
		t.Errorf("bootstrap took %s: it waited for the diskless sync delay", elapsed)
	}
	again, err := Converge(ctx, c.ob, c.ex, c.t, c.d, Options{})
	if err != nil || len(again.Executed) != 0 {
		t.Errorf("second pass: executed %v, err %v; want nothing", again.Executed, err)
	}
}

// TestBootstrapStoppedBeforeRestore: a bootstrap that stops after its
// replicas attached but before the settings came back (a crash) leaves
// them lowered on the masters. The next pass plans no lowering again (the
// cluster is formed), and its settings step, with the values
// ManagedSettings gives, sets them back on those masters and nothing
// else; a pass after that changes nothing.
func TestBootstrapStoppedBeforeRestore(t *testing.T) {
	c := newLoopbackCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	o, err := c.ob.Observe(ctx, c.t)
	if err != nil {
		t.Fatal(err)
	}
	p := topology.PlanTopology(c.d, o)
	crashed := slices.DeleteFunc(p.Runnable(), func(a topology.Action) bool {
		return a.Kind == topology.SetConfig && (a.AfterReplicas > 0 || a.AfterSettled)
	})
	if err := c.ex.Run(ctx, o, crashed); err != nil {
		t.Fatal(err)
	}
	if got := c.settings(t); slices.Index(got, "0/1000") < 0 {
		t.Fatalf("the bootstrap lowered no setting: %v", got)
	}

	// The next pass: converge, then the settings step.
	res, err := Converge(ctx, c.ob, c.ex, c.t, c.d, Options{})
	if err != nil {
		t.Fatalf("converge: %v", err)
	}
	for _, a := range res.Executed {
		if a.Kind == topology.SetConfig {
			t.Errorf("a formed cluster's pass ran %s", a)
		}
	}
	managed := map[string]string{topology.DisklessSyncDelay: c.d.SyncDelay(), topology.NodeTimeout: c.d.NodeTimeout}
	settle := func() []SettingDiff {
		t.Helper()
		diffs, err := ApplySettings(ctx, c.ex.Dial, c.t.Port, 7, res.Final, managed, false)
		if err != nil {
			t.Fatal(err)
		}
		return diffs
	}
	diffs := settle()
	var got []string
	for _, d := range diffs {
		if !d.Applied {
			t.Errorf("settings step: %+v not applied", d)
		}
		got = append(got, fmt.Sprintf("%s %s %s->%s", d.Pod, d.Key, d.Live, d.Declared))
	}
	slices.Sort(got)
	var want []string
	for _, m := range p.Placement.Masters {
		want = append(want, m+" repl-diskless-sync-delay 0->5")
	}
	for i := range c.nodes { // the node timeout: on every node
		want = append(want, fmt.Sprintf("cache-%d cluster-node-timeout 1000->5000", i))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("settings step:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := c.settings(t); !slices.Equal(got, declared) {
		t.Errorf("repl-diskless-sync-delay/cluster-node-timeout after the next pass: %v, want %v", got, declared)
	}
	if again := settle(); len(again) != 0 {
		t.Errorf("a pass after the restore changes settings: %+v", again)
	}
}

func TestOnlineReplicas(t *testing.T) {
	for _, tc := range []struct {
		info string
		want int
	}{
		{"# Replication\r\nrole:master\r\nconnected_slaves:0\r\n", 0},
		{"role:master\r\nconnected_slaves:2\r\nslave0:ip=10.0.0.4,port=6379,state=online,offset=14,lag=0\r\nslave1:ip=10.0.0.5,port=6379,state=wait_bgsave,offset=0,lag=0\r\n", 1},
		{"role:master\r\nslave0:ip=a,port=1,state=online,offset=1,lag=0\r\nslave1:ip=b,port=1,state=online,offset=1,lag=1\r\n", 2},
		{"role:slave\r\nmaster_link_status:up\r\nslave_read_repl_offset:14\r\nslave_priority:100\r\nslave_read_only:1\r\nconnected_slaves:0\r\n", 0},
	} {
		if got := onlineReplicas(tc.info); got != tc.want {
			t.Errorf("onlineReplicas(%q) = %d, want %d", tc.info, got, tc.want)
		}
	}
}

// TestRunOf: the steps that may go at once are a run of one concurrent
// kind, none blocked; any other step runs alone.
func TestRunOf(t *testing.T) {
	steps := func(kinds ...topology.ActionKind) []topology.Action {
		var out []topology.Action
		for i, k := range kinds {
			out = append(out, topology.Action{Kind: k, Pod: "cache-" + strconv.Itoa(i)})
		}
		return out
	}
	meets := steps(topology.Meet, topology.Meet, topology.Meet, topology.AddSlots, topology.Replicate, topology.Replicate)
	blocked := steps(topology.Replicate, topology.Replicate, topology.Replicate)
	blocked[1].Blocked = "policy"
	for _, tc := range []struct {
		name    string
		actions []topology.Action
		i, want int
	}{
		{"three meets", meets, 0, 3},
		{"a lone add-slots", meets, 3, 4},
		{"two replicates to the end", meets, 4, 6},
		{"failovers one at a time", steps(topology.Failover, topology.Failover), 0, 1},
		{"forgets one at a time", steps(topology.Forget, topology.Forget), 0, 1},
		{"a blocked step ends the run", blocked, 0, 1},
	} {
		if got := runOf(tc.actions, tc.i); got != tc.want {
			t.Errorf("%s: runOf(%d) = %d, want %d", tc.name, tc.i, got, tc.want)
		}
	}
}
