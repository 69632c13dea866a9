package adopt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/redis-gitops/redis-gitops/internal/redistest"
	"github.com/redis-gitops/redis-gitops/spec"
)

// TestReadCluster: Read asks every node of a real 3×1 cluster of
// redis-server processes, and Spec makes of it 3 masters with 1 replica,
// the server's version, its settings (no AOF, no snapshots, 5 s node
// timeout) and notes on the port and log file the project sets itself.
func TestReadCluster(t *testing.T) {
	nodes := redistest.Start(t, 6, "maxmemory 64mb", "maxmemory-policy allkeys-lru")
	redistest.Cluster(t, nodes, 3)
	waitReplicas(t, nodes, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	live, err := Read(ctx, ReadOptions{From: nodes[2].Addr()})
	if err != nil {
		t.Fatal(err)
	}
	if len(live.Nodes) != 6 {
		t.Fatalf("read %d nodes, want 6", len(live.Nodes))
	}
	for _, n := range live.Nodes {
		if n.Err != nil {
			t.Errorf("node %s: %v", n.Name(), n.Err)
		}
	}
	if live.Nodes[0].Addr != nodes[2].Addr() || live.Port != nodes[2].Port {
		t.Errorf("first node %s, port %d; want the one --from names, %s", live.Nodes[0].Addr, live.Port, nodes[2].Addr())
	}
	c, notes, err := Spec(live, Options{Namespace: "default", StatefulSet: "redis-cluster"})
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimPrefix(c.Spec.Redis.Image, "redis:")
	if c.Spec.Masters != 3 || *c.Spec.ReplicasPerMaster != 1 || version != live.Nodes[0].Version || !strings.HasPrefix(version, "7.") {
		t.Errorf("masters %d, replicas %d, image %s", c.Spec.Masters, *c.Spec.ReplicasPerMaster, c.Spec.Redis.Image)
	}
	for k, want := range map[string]string{"appendonly": "no", "save": "", "maxmemory": "64mb", "maxmemory-policy": "allkeys-lru"} {
		if got, ok := c.Spec.Redis.Config[k]; !ok || got != want {
			t.Errorf("config %s = %q, want %q", k, got, want)
		}
	}
	if got := c.Spec.Redis.NodeTimeout.Duration; got != 5*time.Second {
		t.Errorf("nodeTimeout = %s, want 5s (cluster-node-timeout 5000)", got)
	}
	subjects := strings.Join(noteSubjects(notes), ", ")
	for _, want := range []string{"setting port", "setting logfile"} {
		if !strings.Contains(subjects, want) {
			t.Errorf("notes %q lack %q", subjects, want)
		}
	}
	var b bytes.Buffer
	if err := Write(&b, c, nodes[2].Addr(), notes); err != nil {
		t.Fatal(err)
	}
	if _, errs := spec.Parse("adopted.yaml", b.Bytes()); len(errs) > 0 {
		t.Errorf("the written spec does not parse:\n%s\n%v", b.String(), errs)
	}
}

// TestReadRefusesDeadNode: a node that died is still in CLUSTER NODES;
// Read asks it, and Spec refuses the cluster naming its address.
func TestReadRefusesDeadNode(t *testing.T) {
	nodes := redistest.Start(t, 6)
	redistest.Cluster(t, nodes, 3)
	nodes[4].Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	live, err := Read(ctx, ReadOptions{From: nodes[0].Addr()})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Spec(live, Options{Namespace: "default", StatefulSet: "redis-cluster"})
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("Spec: %v; want a refusal", err)
	}
	if want := "node " + nodes[4].Addr() + ": does not answer"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
}

// TestReadPassword: a cluster with a password, found through its pod,
// whose container passes requirepass from a Secret: Read takes the
// password from that Secret and the spec names it in spec.auth. Without
// the Secret, Read says the node wants a password. The password appears
// in no error and no output.
func TestReadPassword(t *testing.T) {
	const password = "correct-horse-battery"
	nodes := redistest.Start(t, 6)
	redistest.Cluster(t, nodes, 3)
	waitReplicas(t, nodes, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range nodes {
		if err := n.Client.ConfigSet(ctx, "masterauth", password).Err(); err != nil {
			t.Fatal(err)
		}
		if err := n.Client.ConfigSet(ctx, "requirepass", password).Err(); err != nil {
			t.Fatal(err)
		}
	}

	_, err := Read(ctx, ReadOptions{From: nodes[0].Addr()})
	if !errors.Is(err, ErrPasswordRequired) {
		t.Fatalf("Read without a password: %v; want ErrPasswordRequired", err)
	}

	client := fake.NewClientset(
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "redis-cluster", Namespace: "shop", UID: "sts-uid"},
			Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "redis-cluster"}}}},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "redis-cluster-0", Namespace: "shop", Labels: map[string]string{"app": "redis-cluster"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "redis-cluster", UID: "sts-uid", Controller: ptr(true)}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "redis", Image: "redis:7.0.15",
				Command: []string{"redis-server"},
				Args:    []string{"/conf/redis.conf", "--requirepass", "$(REDIS_PASSWORD)"},
				Ports:   []corev1.ContainerPort{{Name: "client", ContainerPort: int32(nodes[0].Port)}},
				Env: []corev1.EnvVar{{Name: "REDIS_PASSWORD", ValueFrom: &corev1.EnvVarSource{
					SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "redis-auth"}, Key: "redis-password"}}}},
			}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1"},
		},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "redis-auth", Namespace: "shop"}, Data: map[string][]byte{"redis-password": []byte(password)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "wrong", Namespace: "shop"}, Data: map[string][]byte{"password": []byte("nope")}},
	)
	live, err := Read(ctx, ReadOptions{From: "pod/redis-cluster-0", Namespace: "shop", Port: nodes[0].Port, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	if live.Pod == nil || live.StatefulSet == nil || live.StatefulSet.Name != "redis-cluster" {
		t.Fatalf("pod %v, StatefulSet %v; want redis-cluster-0 and redis-cluster", live.Pod != nil, live.StatefulSet)
	}
	if s := fmt.Sprintf("%+v", live); strings.Contains(s, password) {
		t.Errorf("what Read returns holds the password: %s", s)
	}
	c, notes, err := Spec(live, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec.Auth == nil || c.Spec.Auth.SecretRef != (spec.SecretRef{Name: "redis-auth", Key: "redis-password"}) {
		t.Errorf("auth = %+v, want the pod's Secret redis-auth, key redis-password", c.Spec.Auth)
	}
	if c.Metadata.Name != "redis-cluster-gitops" || c.Metadata.Namespace != "shop" || c.Spec.Adopt.StatefulSet != "redis-cluster" || c.Spec.Adopt.Port != nodes[0].Port {
		t.Errorf("cluster %s, adopt %+v", c.Key(), c.Spec.Adopt)
	}
	var b bytes.Buffer
	if err := Write(&b, c, "pod/redis-cluster-0", notes); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), password) {
		t.Errorf("the written spec holds the password:\n%s", b.String())
	}

	_, err = Read(ctx, ReadOptions{From: nodes[0].Addr(), Namespace: "shop", Client: client, PasswordSecret: &spec.SecretRef{Name: "wrong"}})
	if err == nil || !strings.Contains(err.Error(), "Secret shop/wrong (key password) is not accepted") || strings.Contains(err.Error(), "nope") {
		t.Errorf("Read with the wrong password: %v", err)
	}
}

// waitReplicas waits until every node's CLUSTER NODES shows want
// replicas: redistest.Cluster returns once slot owners agree, and the
// replicas' new role may still be on its way through gossip.
func waitReplicas(t *testing.T, nodes []*redistest.Node, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range nodes {
		for {
			text, err := n.Client.ClusterNodes(context.Background()).Result()
			if err == nil && strings.Count(text, "slave") == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s: replicas not known after 30s: %v\n%s", n.Addr(), err, text)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func ptr[T any](v T) *T { return &v }
