package converge

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// Only NotFound means a pod's Kubernetes node is gone (the pod then stands
// in a domain of its own); any other error reading the node fails the
// observation, so no replica move is planned on a passing API error.
func TestPodsNodeLookup(t *testing.T) {
	nodes := schema.GroupResource{Resource: "nodes"}
	for _, tc := range []struct {
		name       string
		getErr     error // returned for every node get; nil reads the node
		wantErr    string
		wantDomain string
	}{
		{"node read", nil, "", "rack-a"},
		{"node deleted", apierrors.NewNotFound(nodes, "n1"), "", "n1"},
		{"API unavailable", apierrors.NewServiceUnavailable("etcd leader changed"), "node n1 of pod prod/cache-0: etcd leader changed", ""},
		{"timeout", apierrors.NewTimeoutError("request timed out", 1), "node n1 of pod prod/cache-0", ""},
		{"forbidden", apierrors.NewForbidden(nodes, "n1", errors.New("rbac")), "node n1 of pod prod/cache-0", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(
				&corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "cache-0", Labels: map[string]string{"app": "cache"}},
					Spec:       corev1.PodSpec{NodeName: "n1"},
					Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"},
				},
				&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"topology.kubernetes.io/rack": "rack-a"}}},
			)
			if tc.getErr != nil {
				client.PrependReactor("get", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.getErr
				})
			}
			ob := &Observer{Client: client}
			pods, err := ob.Pods(t.Context(), Target{Namespace: "prod", Name: "cache", Selector: "app=cache", TopologyKey: "topology.kubernetes.io/rack"})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Pods: err %v, pods %+v; want an error with %q", err, pods, tc.wantErr)
				}
				if !errors.Is(err, tc.getErr) {
					t.Errorf("Pods: %v does not wrap the API error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pods: %v", err)
			}
			if len(pods) != 1 || pods[0].Domain != tc.wantDomain {
				t.Errorf("pods %+v, want cache-0 in domain %q", pods, tc.wantDomain)
			}
		})
	}
}

// A pass that observed every node just before (and changed nothing since)
// hands that observation to Converge, which plans its first round from it
// instead of asking every node the same questions again; without one,
// Converge observes for itself.
func TestConvergePlansFromTheGivenObservation(t *testing.T) {
	for _, tc := range []struct {
		name      string
		given     *topology.Observed
		wantLists int
	}{
		{"given", &topology.Observed{Nodes: map[string]*topology.Node{}}, 0},
		{"none", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			lists := 0
			client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
				lists++
				return false, nil, nil
			})
			ob := &Observer{Client: client, Dial: func(addr string) Admin {
				t.Fatalf("dialed %s: no pod runs", addr)
				return nil
			}}
			res, err := Converge(t.Context(), ob, &Executor{}, Target{Namespace: "prod", Name: "cache", Selector: "app=cache"},
				topology.Desired{}, Options{DryRun: true, Observed: tc.given})
			if err != nil {
				t.Fatal(err)
			}
			if lists != tc.wantLists {
				t.Errorf("pods listed %d times, want %d", lists, tc.wantLists)
			}
			if tc.given != nil && res.Final != tc.given {
				t.Errorf("the plan's observation is not the one given")
			}
		})
	}
}
