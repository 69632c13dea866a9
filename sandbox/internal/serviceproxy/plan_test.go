package serviceproxy

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func service(name string, typ corev1.ServiceType, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec:       corev1.ServiceSpec{Type: typ, Ports: ports},
	}
}

func TestListeners(t *testing.T) {
	ap := netip.MustParseAddrPort
	nodes := []Node{
		{Name: "a", Addrs: []netip.Addr{netip.MustParseAddr("10.244.255.1"), netip.MustParseAddr("127.0.1.1")}},
		{Name: "b", Addrs: []netip.Addr{netip.MustParseAddr("10.244.255.2")}},
	}
	svcA := types.NamespacedName{Namespace: "ns", Name: "a"}
	svcLB := types.NamespacedName{Namespace: "ns", Name: "lb"}
	local := service("local", corev1.ServiceTypeNodePort, corev1.ServicePort{Name: "redis", Port: 6379, NodePort: 30003})
	local.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	tests := []struct {
		name     string
		services []*corev1.Service
		nodes    []Node
		lb       map[types.NamespacedName]netip.Addr
		want     map[netip.AddrPort]Target
	}{
		{
			name:     "ClusterIP Services get nothing",
			services: []*corev1.Service{service("c", corev1.ServiceTypeClusterIP, corev1.ServicePort{Port: 80})},
			nodes:    nodes,
			want:     map[netip.AddrPort]Target{},
		},
		{
			name: "a NodePort Service listens on every address of every node, TCP only",
			services: []*corev1.Service{service("a", corev1.ServiceTypeNodePort,
				corev1.ServicePort{Name: "redis", Port: 6379, NodePort: 30001},
				corev1.ServicePort{Name: "bus", Port: 16379, NodePort: 30002, Protocol: corev1.ProtocolTCP},
				corev1.ServicePort{Name: "dns", Port: 53, NodePort: 30009, Protocol: corev1.ProtocolUDP},
			)},
			nodes: nodes,
			want: map[netip.AddrPort]Target{
				ap("10.244.255.1:30001"): {Service: svcA, Port: "redis"},
				ap("127.0.1.1:30001"):    {Service: svcA, Port: "redis"},
				ap("10.244.255.2:30001"): {Service: svcA, Port: "redis"},
				ap("10.244.255.1:30002"): {Service: svcA, Port: "bus"},
				ap("127.0.1.1:30002"):    {Service: svcA, Port: "bus"},
				ap("10.244.255.2:30002"): {Service: svcA, Port: "bus"},
			},
		},
		{
			name:     "a stopped node (left out of nodes) gets no listener",
			services: []*corev1.Service{service("a", corev1.ServiceTypeNodePort, corev1.ServicePort{Name: "redis", Port: 6379, NodePort: 30001})},
			nodes:    nodes[1:],
			want:     map[netip.AddrPort]Target{ap("10.244.255.2:30001"): {Service: svcA, Port: "redis"}},
		},
		{
			name:     "externalTrafficPolicy Local pins each node's listener to its endpoints",
			services: []*corev1.Service{local},
			nodes:    nodes[1:],
			want: map[netip.AddrPort]Target{
				ap("10.244.255.2:30003"): {Service: types.NamespacedName{Namespace: "ns", Name: "local"}, Port: "redis", Node: "b"},
			},
		},
		{
			name:     "a LoadBalancer Service listens on its address at the port, and on nodePorts",
			services: []*corev1.Service{service("lb", corev1.ServiceTypeLoadBalancer, corev1.ServicePort{Port: 6379, NodePort: 30004})},
			nodes:    nodes[1:],
			lb:       map[types.NamespacedName]netip.Addr{svcLB: netip.MustParseAddr("10.244.254.1")},
			want: map[netip.AddrPort]Target{
				ap("10.244.254.1:6379"):  {Service: svcLB},
				ap("10.244.255.2:30004"): {Service: svcLB},
			},
		},
		{
			name:     "a LoadBalancer Service without an address yet, or without nodePorts",
			services: []*corev1.Service{service("lb", corev1.ServiceTypeLoadBalancer, corev1.ServicePort{Port: 6379})},
			nodes:    nodes,
			want:     map[netip.AddrPort]Target{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Listeners(tt.services, tt.nodes, tt.lb)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Listeners (-want +got):\n%s", diff)
			}
		})
	}
}

type ep struct {
	addr                      string
	node                      string
	ready, serving, terminate *bool
}

func slice(portName string, port int32, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{e.addr},
			NodeName:   ptr.To(e.node),
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: e.terminate},
		})
	}
	return s
}

func TestEndpoints(t *testing.T) {
	yes, no := ptr.To(true), ptr.To(false)
	svc := types.NamespacedName{Namespace: "ns", Name: "s"}
	tests := []struct {
		name   string
		slices []*discoveryv1.EndpointSlice
		target Target
		want   []string
	}{
		{
			name:   "ready endpoints in address order; unknown readiness counts as ready",
			slices: []*discoveryv1.EndpointSlice{slice("redis", 6379, ep{addr: "10.244.0.9", ready: yes}, ep{addr: "10.244.0.3"}, ep{addr: "10.244.0.5", ready: no})},
			target: Target{Service: svc, Port: "redis"},
			want:   []string{"10.244.0.3:6379", "10.244.0.9:6379"},
		},
		{
			name:   "the port comes from the slice (a resolved named targetPort), per slice",
			slices: []*discoveryv1.EndpointSlice{slice("", 7000, ep{addr: "10.244.0.3"}), slice("", 7001, ep{addr: "10.244.0.4"}), slice("other", 1, ep{addr: "10.244.0.5"})},
			target: Target{Service: svc},
			want:   []string{"10.244.0.3:7000", "10.244.0.4:7001"},
		},
		{
			name: "terminating endpoints only when none is ready",
			slices: []*discoveryv1.EndpointSlice{slice("", 6379,
				ep{addr: "10.244.0.3", ready: no, serving: yes, terminate: yes},
				ep{addr: "10.244.0.4", ready: no, serving: no, terminate: yes},
			)},
			target: Target{Service: svc},
			want:   []string{"10.244.0.3:6379"},
		},
		{
			name: "a ready endpoint beats a terminating one",
			slices: []*discoveryv1.EndpointSlice{slice("", 6379,
				ep{addr: "10.244.0.3", ready: no, serving: yes, terminate: yes},
				ep{addr: "10.244.0.7", ready: yes},
			)},
			target: Target{Service: svc},
			want:   []string{"10.244.0.7:6379"},
		},
		{
			name:   "a node-local target takes that node's endpoints only",
			slices: []*discoveryv1.EndpointSlice{slice("", 6379, ep{addr: "10.244.0.3", node: "a"}, ep{addr: "10.244.0.4", node: "b"})},
			target: Target{Service: svc, Node: "b"},
			want:   []string{"10.244.0.4:6379"},
		},
		{
			name:   "no endpoints",
			slices: []*discoveryv1.EndpointSlice{slice("", 6379)},
			target: Target{Service: svc},
			want:   nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range Endpoints(tt.slices, tt.target) {
				got = append(got, e.Addr.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Endpoints (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	eps := []Endpoint{{Node: "a"}, {Node: "b"}, {Node: "c"}}
	for n, want := range map[uint64]string{0: "abc", 1: "bca", 2: "cab", 3: "abc", 7: "bca"} {
		got := ""
		for _, e := range Rotate(eps, n) {
			got += e.Node
		}
		if got != want {
			t.Errorf("Rotate(abc, %d) = %s, want %s", n, got, want)
		}
	}
	if got := Rotate(nil, 3); got != nil {
		t.Errorf("Rotate(nil) = %v", got)
	}
}

func TestCut(t *testing.T) {
	partitioned := map[string]bool{"a": true}
	tests := []struct {
		from, to string
		want     bool
	}{
		{from: "", to: "a", want: false},  // the host reaches a partitioned node's pods
		{from: "b", to: "a", want: true},  // into the partition
		{from: "a", to: "b", want: true},  // out of it
		{from: "a", to: "a", want: false}, // within the partitioned node
		{from: "b", to: "c", want: false}, // elsewhere
		{from: "a", to: "", want: true},   // to an endpoint of unknown node
	}
	for _, tt := range tests {
		if got := Cut(tt.from, tt.to, partitioned); got != tt.want {
			t.Errorf("Cut(%q, %q) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}
