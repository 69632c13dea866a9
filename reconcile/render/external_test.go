package render

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/redis-gitops/redis-gitops/spec"
)

func TestExternalServices(t *testing.T) {
	for _, tt := range []struct {
		access *spec.ExternalAccess
		want   corev1.ServiceType
		n      int
	}{
		{nil, "", 0},
		{&spec.ExternalAccess{Type: spec.ExternalHostname, Hostname: "{pod}.example.com"}, "", 0},
		{&spec.ExternalAccess{Type: spec.ExternalNodePort, AddressType: spec.AddressExternalIP}, corev1.ServiceTypeNodePort, 6},
		{&spec.ExternalAccess{Type: spec.ExternalLoadBalancer, ServiceAnnotations: map[string]string{"lb.example.com/internal": "true"}}, corev1.ServiceTypeLoadBalancer, 6},
	} {
		c := testCluster()
		c.Spec.ExternalAccess = tt.access
		objs, err := Render(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs.ExternalServices) != tt.n {
			t.Fatalf("%+v: %d external Services, want %d (one per pod)", tt.access, len(objs.ExternalServices), tt.n)
		}
		for i, s := range objs.ExternalServices {
			pod := c.Metadata.Name + "-" + string(rune('0'+i))
			if *s.Name != pod+"-external" || *s.Spec.Type != tt.want {
				t.Errorf("%s: %s %s", pod, *s.Name, *s.Spec.Type)
			}
			if s.Spec.Selector[LabelPodName] != pod || s.Spec.Selector[LabelCluster] != c.Metadata.Name {
				t.Errorf("%s: selector %v selects more than its pod", pod, s.Spec.Selector)
			}
			if s.Spec.PublishNotReadyAddresses == nil || !*s.Spec.PublishNotReadyAddresses {
				t.Errorf("%s: not-ready addresses unpublished: the bus could not reach a starting node", pod)
			}
			if len(s.Spec.Ports) != 2 || *s.Spec.Ports[0].Name != "client" || *s.Spec.Ports[1].Name != "bus" {
				t.Errorf("%s: ports %v", pod, s.Spec.Ports)
			}
			if tt.access.ServiceAnnotations != nil && s.Annotations["lb.example.com/internal"] != "true" {
				t.Errorf("%s: annotations %v", pod, s.Annotations)
			}
		}
	}
}
