package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/internal/clustertest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// writer is clustertest.Writer, read back through the harness's pods.
type writer struct{ *clustertest.Writer }

func (h *harness) startWriter(keySpace int) *writer {
	return startWriterOn(h.data(), keySpace)
}

// startWriterOn is startWriter with its own client (a cluster the harness
// does not manage yet, as in a takeover).
func startWriterOn(c *redis.ClusterClient, keySpace int) *writer {
	return &writer{clustertest.StartWriter(c, keySpace)}
}

func (w *writer) finish(t *testing.T, h *harness) {
	t.Helper()
	c := h.data()
	defer c.Close()
	w.Finish(t, c)
}

// pass runs what the daemon runs on a push: objects (with the scale-in
// hold), then the topology.
func (h *harness) pass() reconcile.ClusterOutcome {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	p := reconcile.Pass{Applier: &kube.Applier{Client: h.client, Dynamic: sandboxtest.Dynamic(h.t)}, Redis: h.redis, Log: h.redis.Log}
	res := p.Run(ctx, []*spec.RedisCluster{h.c}, nil)
	oc := res.Clusters[0]
	if oc.Topology != nil {
		for _, a := range oc.Topology.Executed {
			h.t.Logf("executed: %s", a)
		}
	}
	if err := oc.Err(); err != nil {
		h.t.Fatalf("pass: %v", err)
	}
	return oc
}

// passUntil is pass for a pass that must end with want.
func (h *harness) passUntil(want error) reconcile.ClusterOutcome {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	p := reconcile.Pass{Applier: &kube.Applier{Client: h.client, Dynamic: sandboxtest.Dynamic(h.t)}, Redis: h.redis, Log: h.redis.Log}
	oc := p.Run(ctx, []*spec.RedisCluster{h.c}, nil).Clusters[0]
	if err := oc.Err(); !errors.Is(err, want) {
		h.t.Fatalf("pass: %v, want %v", err, want)
	}
	return oc
}

// evenSlots checks that every master holds an even share, within 2%.
func (h *harness) evenSlots() {
	h.t.Helper()
	o, err := (&reconcileObserver{h}).observe()
	if err != nil {
		h.t.Fatal(err)
	}
	share := float64(topology.SlotCount) / float64(h.c.Spec.Masters)
	for _, id := range o.NodeIDs() {
		n := o.Nodes[id]
		if !n.IsMaster() {
			continue
		}
		if d := float64(n.SlotCount()) - share; d > 0.02*share || d < -0.02*share {
			h.t.Errorf("%s holds %d slots, an even share is %.0f", n.Pod.Name, n.SlotCount(), share)
		}
	}
}

func (h *harness) statefulSetReplicas() int32 {
	h.t.Helper()
	sts, err := h.client.AppsV1().StatefulSets(h.ns).Get(context.Background(), h.c.Metadata.Name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return *sts.Spec.Replicas
}

// TestScaleOutAndIn: 3x1 -> 4x1 -> 3x1, then replicas 1 -> 2 -> 1, while a
// client writes all along. Every step is judged by redis-cli --cluster
// check, the placement rule and an even slot share; at the end every
// acknowledged write reads back.
func TestScaleOutAndIn(t *testing.T) {
	h := newHarness(t, "scale")
	h.pass()
	h.check()
	h.writeKeys(5000)
	w := h.startWriter(20000)

	t.Run("3x1 to 4x1", func(t *testing.T) {
		h.t = t
		h.c.Spec.Masters = 4
		oc := h.pass()
		moved := 0
		for _, a := range oc.Topology.Executed {
			if a.Kind == topology.MoveSlots {
				moved += a.SlotCount()
			}
		}
		if moved != 4096 {
			t.Errorf("moved %d slots, want 4096 (an even share for the new master)", moved)
		}
		h.check()
		h.evenSlots()
	})
	t.Run("4x1 to 3x1", func(t *testing.T) {
		h.t = t
		h.c.Spec.Masters = 3
		h.pass()
		if got := h.statefulSetReplicas(); got != 6 {
			t.Errorf("StatefulSet has %d replicas, want 6", got)
		}
		sandboxtest.Eventually(t, 2*time.Minute, "pods 6 and 7 gone", func() error {
			for _, name := range []string{"-6", "-7"} {
				_, err := h.client.CoreV1().Pods(h.ns).Get(context.Background(), h.c.Metadata.Name+name, metav1.GetOptions{})
				if !apierrors.IsNotFound(err) {
					return errors.New(name + " still there")
				}
			}
			return nil
		})
		h.converge() // the forgotten nodes' pods are gone now
		h.check()
		h.evenSlots()
		// storage.retainOnScaleIn defaults to true: the claims stay.
		for _, name := range []string{"-6", "-7"} {
			if _, err := h.client.CoreV1().PersistentVolumeClaims(h.ns).Get(context.Background(), "data-"+h.c.Metadata.Name+name, metav1.GetOptions{}); err != nil {
				t.Errorf("PVC of removed pod %s: %v", name, err)
			}
		}
	})
	t.Run("replicas 1 to 2 to 1", func(t *testing.T) {
		h.t = t
		two := 2
		h.c.Spec.ReplicasPerMaster = &two
		h.pass()
		h.check()
		one := 1
		h.c.Spec.ReplicasPerMaster = &one
		h.pass()
		sandboxtest.Eventually(t, 2*time.Minute, "6 pods", func() error {
			if n := len(h.pods()); n != 6 {
				return fmt.Errorf("%d pods", n)
			}
			return nil
		})
		h.converge()
		h.check()
	})
	h.t = t
	w.finish(t, h)
	h.readKeysOrAcked(w, 5000)
}

// readKeysOrAcked reads the first n preloaded keys: each has its preloaded
// value, or the last value the writer got acknowledged for it.
func (h *harness) readKeysOrAcked(w *writer, n int) {
	h.t.Helper()
	c := h.data()
	defer c.Close()
	w.ReadAllOrAcked(h.t, c, n)
}

// TestSourceMasterKilledDuringMigration: a scale-out whose source master
// dies half-way. The pass stops with an error and leaves the slot open;
// after the failover, the next passes finish the open slot and the rest of
// the rebalance, and every key reads back.
func TestSourceMasterKilledDuringMigration(t *testing.T) {
	h := newHarness(t, "srckill")
	h.pass()
	const keys = 40000
	h.fill(keys)
	h.waitReplicasCaughtUp()

	// One slot at a time, small batches: slow enough to be caught.
	h.c.Spec.Migration.KeysPerBatch, h.c.Spec.Migration.ParallelSlots = 5, 1
	h.c.Spec.Masters = 4
	o, err := (&reconcileObserver{h}).observe()
	if err != nil {
		t.Fatal(err)
	}
	victim := o.Nodes[o.ByPod[h.c.Metadata.Name+"-0"]]
	if !victim.IsMaster() {
		victim = nil
		for _, id := range o.NodeIDs() {
			if o.Nodes[id].IsMaster() {
				victim = o.Nodes[id]
				break
			}
		}
	}
	var once sync.Once
	killed := make(chan struct{})
	h.redis.Progress = func(_ string, p migrate.Progress) {
		if p.SlotsDone >= 30 {
			once.Do(func() {
				// A crash: no graceful shutdown, no failover asked for.
				sandboxtest.Kubectl(t, nil, "-n", h.ns, "delete", "pod", victim.Pod.Name, "--grace-period=0", "--force", "--wait=false")
				close(killed)
			})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	p := reconcile.Pass{Applier: &kube.Applier{Client: h.client, Dynamic: sandboxtest.Dynamic(t)}, Redis: h.redis, Log: h.redis.Log}
	first := p.Run(ctx, []*spec.RedisCluster{h.c}, nil).Clusters[0]
	h.redis.Progress = nil
	select {
	case <-killed:
	default:
		t.Fatal("the migration ended before the source master was killed: the test proves nothing")
	}
	if first.TopologyErr == nil {
		t.Logf("the first pass converged despite the kill (its remaining slots came from the other masters)")
	} else {
		t.Logf("the first pass stopped: %v", first.TopologyErr)
	}
	sandboxtest.Eventually(t, 3*time.Minute, "8 pods running", func() error {
		running := 0
		for _, pod := range h.pods() {
			if pod.Status.PodIP != "" && pod.DeletionTimestamp == nil {
				running++
			}
		}
		if running != 8 {
			return fmt.Errorf("%d of 8", running)
		}
		return nil
	})
	// The passes that follow finish the open slot and the rebalance.
	var last reconcile.ClusterOutcome
	for i := 0; i < 4; i++ {
		last = p.Run(ctx, []*spec.RedisCluster{h.c}, nil).Clusters[0]
		if last.Err() == nil {
			break
		}
		t.Logf("pass %d: %v", i+2, last.Err())
		time.Sleep(3 * time.Second)
	}
	if err := last.Err(); err != nil {
		t.Fatalf("not converged after the failover: %v", err)
	}
	h.check()
	h.evenSlots()
	h.readAll(keys)
}

func (h *harness) fill(n int) {
	h.t.Helper()
	c := h.data()
	defer c.Close()
	clustertest.Fill(h.t, c, n)
}

func (h *harness) readAll(n int) {
	h.t.Helper()
	c := h.data()
	defer c.Close()
	clustertest.ReadAll(h.t, c, n)
}

// waitReplicasCaughtUp waits until every replica's offset equals its
// master's: a failover from then on loses no write made before.
func (h *harness) waitReplicasCaughtUp() {
	h.t.Helper()
	sandboxtest.Eventually(h.t, time.Minute, "replicas caught up", func() error {
		for name := range h.pods() {
			info := h.exec(name, "redis-cli", "info", "replication")
			if !strings.Contains(info, "role:master") {
				continue
			}
			var offset string
			for _, line := range strings.Split(info, "\n") {
				line = strings.TrimSpace(line)
				if v, ok := strings.CutPrefix(line, "master_repl_offset:"); ok {
					offset = v
				}
			}
			for _, line := range strings.Split(info, "\n") {
				if strings.HasPrefix(line, "slave") && strings.Contains(line, "offset=") && !strings.Contains(line, "offset="+offset+",") {
					return fmt.Errorf("%s: replica behind: %s (master at %s)", name, strings.TrimSpace(line), offset)
				}
			}
		}
		return nil
	})
}

// TestRollingImageChange: a new image tag (the sandbox maps every redis tag
// to the same local binary) restarts every pod, one at a time, replicas
// first and each master after a planned failover (a suspend seen between
// two steps pauses the roll; the next pass finishes it), while a client
// writes:
// no acknowledged write lost, no write failed after retries, and no
// automatic failover in any node's log.
func TestRollingImageChange(t *testing.T) {
	h := newHarness(t, "roll")
	h.pass()
	h.writeKeys(2000)
	before := h.pods()
	w := h.startWriter(10000)

	h.c.Spec.Redis.Image = "redis:7.0.15"
	// reconcile.suspend pushed to Git in the middle: the roll stops
	// between two steps (here, before the third), and the next pass goes on.
	asked := 0
	h.redis.Paused = func(context.Context, string) bool { asked++; return asked > 2 }
	paused := h.passUntil(reconcile.ErrPaused)
	pausedRestarts := 0
	for _, a := range paused.Topology.Executed {
		if a.Kind == topology.Restart {
			pausedRestarts++
		}
	}
	if pausedRestarts != 2 {
		t.Errorf("the paused roll restarted %d pods, want 2 before the pause", pausedRestarts)
	}
	if y, _ := paused.Report.YAML(); !strings.Contains(string(y), "reconcile.suspend") {
		t.Errorf("the report does not say the roll paused:\n%s", y)
	}
	h.check()
	h.redis.Paused = nil
	oc := h.pass()
	oc.Topology.Executed = append(paused.Topology.Executed, oc.Topology.Executed...)
	restarts, failovers := 0, 0
	for _, a := range oc.Topology.Executed {
		switch a.Kind {
		case topology.Restart:
			restarts++
		case topology.Failover:
			failovers++
		}
	}
	// Each master hands over before it restarts; placement may ask for one
	// more planned failover when a restarted pod lands on another node.
	if restarts != 6 || failovers < 3 {
		t.Errorf("%d restarts and %d planned failovers, want 6 and at least 3", restarts, failovers)
	}
	for name, p := range h.pods() {
		if p.UID == before[name].UID {
			t.Errorf("%s was not restarted", name)
		}
		if img := p.Spec.Containers[0].Image; img != "redis:7.0.15" {
			t.Errorf("%s runs %s", name, img)
		}
		// Every election a node started followed a manual failover request.
		logs := sandboxtest.Kubectl(t, nil, "-n", h.ns, "logs", name)
		if e, m := strings.Count(logs, "Starting a failover election"), strings.Count(logs, "Manual failover user request accepted"); e != m {
			t.Errorf("%s started %d failover elections, %d of them manual:\n%s", name, e, m, logs)
		}
	}
	h.check()
	w.finish(t, h)
	h.readKeysOrAcked(w, 2000)
	if again := h.pass(); len(again.Topology.Executed) != 0 {
		t.Errorf("a second pass restarted again: %v", again.Topology.Executed)
	}
}
