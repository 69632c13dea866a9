package announce

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

func TestFor(t *testing.T) {
	pods := []topology.Pod{
		{Name: "cache-0", IP: "10.244.0.5", Node: "node-a"},
		{Name: "cache-1", IP: "10.244.0.6", Node: "node-b"},
		{Name: "cache-2", Node: "node-c"}, // not running: nothing to set
	}
	svc := func(pod string, client, bus int32, lbIP string) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: pod + "-external"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "client", Port: 6379, NodePort: client}, {Name: "bus", Port: 16379, NodePort: bus},
		}}}
		if lbIP != "" {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: lbIP}}
		}
		return s
	}
	node := func(name string, addrs ...string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for i := 0; i+1 < len(addrs); i += 2 {
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeAddressType(addrs[i]), Address: addrs[i+1]})
		}
		return n
	}
	services := map[string]*corev1.Service{
		"cache-0-external": svc("cache-0", 30001, 30002, "192.0.2.10"),
		"cache-1-external": svc("cache-1", 30003, 30004, ""),
	}
	nodes := map[string]*corev1.Node{
		"node-a": node("node-a", "InternalIP", "172.16.0.1", "ExternalIP", "198.51.100.1"),
		"node-b": node("node-b", "InternalIP", "172.16.0.2"),
	}
	internal := func(ip string) map[string]string {
		return map[string]string{IP: ip, Port: "0", BusPort: "0", Hostname: "", PreferredEndpointType: "ip"}
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name    string
		access  *spec.ExternalAccess
		want    map[string]map[string]string
		waiting []string
		tls     bool
	}{
		{"none: the pod IP on the standard ports", nil, map[string]map[string]string{
			"cache-0": internal("10.244.0.5"), "cache-1": internal("10.244.0.6"),
		}, nil, false},
		{"NodePort, ExternalIP falling back to InternalIP", &spec.ExternalAccess{Type: spec.ExternalNodePort, AddressType: spec.AddressExternalIP}, map[string]map[string]string{
			"cache-0": with(internal(""), IP, "198.51.100.1", Port, "30001", BusPort, "30002"),
			"cache-1": with(internal(""), IP, "172.16.0.2", Port, "30003", BusPort, "30004"),
		}, nil, false},
		{"NodePort, InternalIP", &spec.ExternalAccess{Type: spec.ExternalNodePort, AddressType: spec.AddressInternalIP}, map[string]map[string]string{
			"cache-0": with(internal(""), IP, "172.16.0.1", Port, "30001", BusPort, "30002"),
			"cache-1": with(internal(""), IP, "172.16.0.2", Port, "30003", BusPort, "30004"),
		}, nil, false},
		{"LoadBalancer: the ingress IP on the Service ports; a pending one waits", &spec.ExternalAccess{Type: spec.ExternalLoadBalancer}, map[string]map[string]string{
			"cache-0": with(internal(""), IP, "192.0.2.10", Port, "6379", BusPort, "16379"),
		}, []string{"cache-1: its load balancer has no IP yet"}, false},
		{"Hostname: a name of its own, preferred", &spec.ExternalAccess{Type: spec.ExternalHostname, Hostname: "{pod}.{namespace}.redis.example.com"}, map[string]map[string]string{
			"cache-0": with(internal("10.244.0.5"), Hostname, "cache-0.prod.redis.example.com", PreferredEndpointType, "hostname"),
			"cache-1": with(internal("10.244.0.6"), Hostname, "cache-1.prod.redis.example.com", PreferredEndpointType, "hostname"),
		}, nil, false},
		{"TLS: the pod's DNS name, which the certificate carries, preferred", nil, map[string]map[string]string{
			"cache-0": with(internal("10.244.0.5"), Hostname, "cache-0.cache-nodes.prod.svc", PreferredEndpointType, "hostname"),
			"cache-1": with(internal("10.244.0.6"), Hostname, "cache-1.cache-nodes.prod.svc", PreferredEndpointType, "hostname"),
		}, nil, true},
		{"TLS and Hostname: the external name", &spec.ExternalAccess{Type: spec.ExternalHostname, Hostname: "{pod}.redis.example.com"}, map[string]map[string]string{
			"cache-0": with(internal("10.244.0.5"), Hostname, "cache-0.redis.example.com", PreferredEndpointType, "hostname"),
			"cache-1": with(internal("10.244.0.6"), Hostname, "cache-1.redis.example.com", PreferredEndpointType, "hostname"),
		}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &spec.RedisCluster{Metadata: spec.Metadata{Name: "cache", Namespace: "prod"}}
			c.Spec.ExternalAccess = tt.access
			if tt.tls {
				c.Spec.TLS = &spec.TLS{SecretRef: spec.TLSSecretRef{Name: "cache-tls"}}
			}
			got, waiting := For(c, pods, services, nodes)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
			if strings.Join(waiting, "|") != strings.Join(tt.waiting, "|") {
				t.Errorf("waiting %q, want %q", waiting, tt.waiting)
			}
		})
	}
	t.Run("a pod whose Service is missing waits", func(t *testing.T) {
		c := &spec.RedisCluster{Metadata: spec.Metadata{Name: "cache", Namespace: "prod"}}
		c.Spec.ExternalAccess = &spec.ExternalAccess{Type: spec.ExternalNodePort, AddressType: spec.AddressExternalIP}
		got, waiting := For(c, pods, map[string]*corev1.Service{}, nodes)
		if len(got) != 0 || len(waiting) != 2 || !strings.Contains(waiting[0], "cache-0-external does not exist yet") {
			t.Errorf("got %v, waiting %q", got, waiting)
		}
	})
}
