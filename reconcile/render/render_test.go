package render

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/spec"
)

func TestObjects(t *testing.T) {
	objs := mustRender(t, testCluster())
	type ref struct{ apiVersion, kind, namespace, name string }
	var got []ref
	for _, obj := range objs.All() {
		m := generic(t, obj)
		got = append(got, ref{m["apiVersion"].(string), m["kind"].(string), get(m, "metadata", "namespace").(string), get(m, "metadata", "name").(string)})
	}
	want := []ref{ // apply order
		{"v1", "ConfigMap", "prod", "cache-config"},
		{"v1", "Service", "prod", "cache-nodes"},
		{"v1", "Service", "prod", "cache"},
		{"policy/v1", "PodDisruptionBudget", "prod", "cache"},
		{"apps/v1", "StatefulSet", "prod", "cache"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("All() =\n%v\nwant\n%v", got, want)
	}
}

func TestServicesAndPDB(t *testing.T) {
	objs := mustRender(t, testCluster())
	checks := []struct {
		obj  any
		path []any
		want any
	}{
		{objs.HeadlessService, []any{"spec", "clusterIP"}, "None"},
		{objs.HeadlessService, []any{"spec", "publishNotReadyAddresses"}, true},
		{objs.HeadlessService, []any{"spec", "ports"}, []any{
			map[string]any{"name": "client", "port": float64(6379), "protocol": "TCP", "targetPort": "client"},
			map[string]any{"name": "bus", "port": float64(16379), "protocol": "TCP", "targetPort": "bus"},
		}},
		{objs.ClientService, []any{"spec", "type"}, "ClusterIP"},
		{objs.ClientService, []any{"spec", "clusterIP"}, nil},
		{objs.ClientService, []any{"spec", "publishNotReadyAddresses"}, nil},
		{objs.ClientService, []any{"spec", "ports"}, []any{
			map[string]any{"name": "client", "port": float64(6379), "protocol": "TCP", "targetPort": "client"},
		}},
		{objs.PodDisruptionBudget, []any{"spec", "maxUnavailable"}, float64(1)},
		{objs.PodDisruptionBudget, []any{"spec", "minAvailable"}, nil},
		{objs.ConfigMap, []any{"data", "redis.conf"}, objs.ConfigMap.Data["redis.conf"]},
	}
	for _, ck := range checks {
		m := generic(t, ck.obj)
		if got := get(m, ck.path...); !reflect.DeepEqual(got, ck.want) {
			t.Errorf("%s %s: %v = %#v, want %#v", m["kind"], get(m, "metadata", "name"), ck.path, got, ck.want)
		}
	}
}

func TestRenderNeedsDefaultedCluster(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *spec.RedisCluster)
		want   string
	}{
		{"name", func(c *spec.RedisCluster) { c.Metadata.Name = "" }, "metadata.name"},
		{"namespace", func(c *spec.RedisCluster) { c.Metadata.Namespace = "" }, "metadata.namespace"},
		{"masters", func(c *spec.RedisCluster) { c.Spec.Masters = 0 }, "spec.masters"},
		{"replicas", func(c *spec.RedisCluster) { c.Spec.ReplicasPerMaster = ptr(-1) }, "spec.replicasPerMaster"},
		{"image", func(c *spec.RedisCluster) { c.Spec.Redis.Image = "" }, "spec.redis.image"},
		{"node timeout", func(c *spec.RedisCluster) { c.Spec.Redis.NodeTimeout = spec.Duration{} }, "spec.redis.nodeTimeout"},
		{"storage size", func(c *spec.RedisCluster) { c.Spec.Storage.Size = "" }, "spec.storage.size"},
		{"topology key", func(c *spec.RedisCluster) { c.Spec.Placement.TopologyKey = "" }, "spec.placement.topologyKey"},
		{"secret key", func(c *spec.RedisCluster) { c.Spec.Auth = &spec.Auth{SecretRef: spec.SecretRef{Name: "s"}} }, "spec.auth.secretRef.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCluster()
			tt.change(c)
			_, err := Render(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "defaulted") {
				t.Errorf("error = %v, want one naming %s and defaulting", err, tt.want)
			}
		})
	}
	// Every missing field is reported at once.
	_, err := Render(&spec.RedisCluster{Metadata: spec.Metadata{Name: "x", Namespace: "y"}})
	if err == nil || strings.Count(err.Error(), "\n") < 4 {
		t.Errorf("empty spec: error = %v, want one line per missing field", err)
	}
	// With no topology domain to spread over, none is needed.
	c := testCluster()
	c.Spec.Placement = spec.Placement{AntiAffinity: "none"}
	mustRender(t, c)
}

func TestYAMLIsDeterministic(t *testing.T) {
	c := testCluster()
	c.Metadata.Labels = map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}
	c.Spec.Redis.Config = map[string]string{"maxmemory": "1gb", "maxmemory-policy": "noeviction", "hz": "20", "timeout": "0"}
	c.Spec.Resources.Requests = map[string]string{"cpu": "1", "memory": "2Gi"}
	first, err := mustRender(t, c).YAML()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		again, err := mustRender(t, c).YAML()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatalf("render %d differs from the first", i)
		}
	}
	if got, want := bytes.Count(first, []byte("\n---\n")), 4; got != want {
		t.Errorf("YAML has %d separators, want %d", got, want)
	}
	if bytes.HasPrefix(first, []byte("---")) {
		t.Error("YAML starts with a separator")
	}
}

func ExampleManagedSelector() {
	fmt.Println(ManagedSelector("cache"))
	// Output: app.kubernetes.io/managed-by=redis-gitops,redis-gitops.dev/cluster=cache
}
