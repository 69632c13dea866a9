package render

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/redis-gitops/redis-gitops/spec"
)

func TestAntiAffinity(t *testing.T) {
	wantTerm := map[string]any{
		"labelSelector": map[string]any{"matchLabels": map[string]any{LabelCluster: "cache"}},
		"topologyKey":   "topology.kubernetes.io/rack",
	}
	tests := []struct {
		policy string
		want   any // spec.template.spec.affinity
	}{
		{"preferred", map[string]any{"podAntiAffinity": map[string]any{
			"preferredDuringSchedulingIgnoredDuringExecution": []any{
				map[string]any{"weight": float64(100), "podAffinityTerm": wantTerm},
			},
		}}},
		{"required", map[string]any{"podAntiAffinity": map[string]any{
			"requiredDuringSchedulingIgnoredDuringExecution": []any{wantTerm},
		}}},
		{"none", nil},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			c := testCluster()
			c.Spec.Placement.AntiAffinity = tt.policy
			c.Spec.Placement.TopologyKey = "topology.kubernetes.io/rack"
			sts := generic(t, mustRender(t, c).StatefulSet)
			if got := get(sts, "spec", "template", "spec", "affinity"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("affinity = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestAntiAffinityUnknownPolicy(t *testing.T) {
	for _, policy := range []string{"", "soft"} {
		c := testCluster()
		c.Spec.Placement.AntiAffinity = policy
		if _, err := Render(c); err == nil || !strings.Contains(err.Error(), "spec.placement.antiAffinity") {
			t.Errorf("antiAffinity %q: error = %v, want one about spec.placement.antiAffinity", policy, err)
		}
	}
}

func TestZoneSpread(t *testing.T) {
	c := testCluster()
	if got := mustRender(t, c).StatefulSet.Spec.Template.Spec.TopologySpreadConstraints; got != nil {
		t.Errorf("no zoneKey: topologySpreadConstraints = %v, want none", got)
	}
	c.Spec.Placement.ZoneKey = "topology.kubernetes.io/zone"
	sts := generic(t, mustRender(t, c).StatefulSet)
	want := []any{map[string]any{
		"maxSkew":           float64(1),
		"topologyKey":       "topology.kubernetes.io/zone",
		"whenUnsatisfiable": "ScheduleAnyway",
		"labelSelector":     map[string]any{"matchLabels": map[string]any{LabelCluster: "cache"}},
	}}
	if got := get(sts, "spec", "template", "spec", "topologySpreadConstraints"); !reflect.DeepEqual(got, want) {
		t.Errorf("topologySpreadConstraints = %#v\nwant %#v", got, want)
	}
}

func TestStatefulSet(t *testing.T) {
	c := testCluster()
	two := 2
	c.Spec.ReplicasPerMaster = &two
	c.Spec.Masters = 4
	s := mustRender(t, c).StatefulSet
	if got, want := *s.Name, "cache"; got != want {
		t.Errorf("name = %q, want %q", got, want)
	}
	if got, want := *s.Namespace, "prod"; got != want {
		t.Errorf("namespace = %q, want %q", got, want)
	}
	spec := s.Spec
	if got, want := *spec.Replicas, int32(12); got != want {
		t.Errorf("replicas = %d, want %d (4 masters × 3)", got, want)
	}
	if got, want := *spec.ServiceName, "cache-nodes"; got != want {
		t.Errorf("serviceName = %q, want %q", got, want)
	}
	if got, want := spec.Selector.MatchLabels, Selector("cache"); !reflect.DeepEqual(got, want) {
		t.Errorf("selector = %v, want %v", got, want)
	}
	if got, want := *spec.PodManagementPolicy, appsv1.ParallelPodManagement; got != want {
		t.Errorf("podManagementPolicy = %q, want %q", got, want)
	}
	if got, want := *spec.UpdateStrategy.Type, appsv1.OnDeleteStatefulSetStrategyType; got != want {
		t.Errorf("updateStrategy = %q, want %q", got, want)
	}
	if got, want := *spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted, appsv1.RetainPersistentVolumeClaimRetentionPolicyType; got != want {
		t.Errorf("whenDeleted = %q, want %q", got, want)
	}
	for k, v := range spec.Selector.MatchLabels {
		if spec.Template.Labels[k] != v {
			t.Errorf("pod template lacks selector label %s=%s", k, v)
		}
	}

	pod := spec.Template.Spec
	if got, want := *pod.TerminationGracePeriodSeconds, int64(30); got != want {
		t.Errorf("terminationGracePeriodSeconds = %d, want %d", got, want)
	}
	if len(pod.Containers) != 1 || *pod.Containers[0].Name != ContainerName {
		t.Fatalf("containers = %v, want one named %q", pod.Containers, ContainerName)
	}
	if len(pod.InitContainers) != 0 {
		t.Errorf("init containers without auth: %v", pod.InitContainers)
	}
	ctr := pod.Containers[0]
	if got, want := ctr.Command, []string{"redis-server"}; !slices.Equal(got, want) {
		t.Errorf("command = %q, want %q", got, want)
	}
	if got, want := ctr.Args, []string{"/config/redis.conf", "--cluster-announce-ip", "$(POD_IP)"}; !slices.Equal(got, want) {
		t.Errorf("args = %q, want %q", got, want)
	}
	if len(ctr.Env) != 1 || *ctr.Env[0].Name != "POD_IP" || *ctr.Env[0].ValueFrom.FieldRef.FieldPath != "status.podIP" {
		t.Errorf("env = %v, want POD_IP from status.podIP", ctr.Env)
	}
	mounts := map[string]string{}
	for _, m := range ctr.VolumeMounts {
		mounts[*m.Name] = *m.MountPath
	}
	if want := map[string]string{"config": "/config", "data": "/data"}; !reflect.DeepEqual(mounts, want) {
		t.Errorf("mounts = %v, want %v", mounts, want)
	}
	ports := map[string]int32{}
	for _, p := range ctr.Ports {
		ports[*p.Name] = *p.ContainerPort
	}
	if want := map[string]int32{"client": 6379, "bus": 16379}; !reflect.DeepEqual(ports, want) {
		t.Errorf("ports = %v, want %v", ports, want)
	}
	if got, want := ctr.ReadinessProbe.Exec.Command, []string{"sh", "-c", `test "$(redis-cli -h 127.0.0.1 -p 6379 ping)" = PONG`}; !slices.Equal(got, want) {
		t.Errorf("readiness = %q, want %q", got, want)
	}
	if ctr.LivenessProbe.TCPSocket == nil || ctr.LivenessProbe.TCPSocket.Port.StrVal != portClient {
		t.Errorf("liveness = %+v, want tcpSocket on the client port", ctr.LivenessProbe)
	}
	if p := ctr.LivenessProbe; *p.PeriodSeconds**p.FailureThreshold < 60 {
		t.Errorf("liveness gives up after %ds; a node loading a large dataset needs more", *p.PeriodSeconds**p.FailureThreshold)
	}
	if ctr.Resources != nil {
		t.Errorf("resources = %v, want none when the spec has none", ctr.Resources)
	}

	vcts := spec.VolumeClaimTemplates
	if len(vcts) != 1 || *vcts[0].Name != "data" {
		t.Fatalf("volumeClaimTemplates = %v, want one named data", vcts)
	}
	if vcts[0].Kind != nil || vcts[0].APIVersion != nil {
		t.Error("volume claim template carries kind/apiVersion")
	}
	if got, want := vcts[0].Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}; !slices.Equal(got, want) {
		t.Errorf("accessModes = %v, want %v", got, want)
	}
	if got := (*vcts[0].Spec.Resources.Requests)[corev1.ResourceStorage]; got.String() != "1Gi" {
		t.Errorf("storage = %s, want 1Gi", got.String())
	}
	if vcts[0].Spec.StorageClassName != nil {
		t.Errorf("storageClassName = %q, want unset", *vcts[0].Spec.StorageClassName)
	}
}

func TestStatefulSetFromSpec(t *testing.T) {
	c := testCluster()
	retain := false
	secs := int64(300)
	c.Spec.Storage = spec.Storage{Size: "20Gi", StorageClassName: "fast", RetainOnScaleIn: &retain}
	c.Spec.Resources = spec.Resources{
		Requests: map[string]string{"cpu": "500m", "memory": "1Gi"},
		Limits:   map[string]string{"memory": "1Gi"},
	}
	c.Spec.Redis.Image = "redis:7.2"
	c.Spec.Placement.NodeSelector = map[string]string{"pool": "redis"}
	c.Spec.Placement.Tolerations = []spec.Toleration{
		{Key: "dedicated", Operator: "Equal", Value: "redis", Effect: "NoSchedule"},
		{Operator: "Exists", Effect: "NoExecute", TolerationSeconds: &secs},
	}
	sts := generic(t, mustRender(t, c).StatefulSet)
	checks := []struct {
		path []any
		want any
	}{
		{[]any{"spec", "persistentVolumeClaimRetentionPolicy", "whenScaled"}, "Delete"},
		{[]any{"spec", "volumeClaimTemplates", 0, "spec", "storageClassName"}, "fast"},
		{[]any{"spec", "volumeClaimTemplates", 0, "spec", "resources", "requests", "storage"}, "20Gi"},
		{[]any{"spec", "template", "spec", "containers", 0, "image"}, "redis:7.2"},
		{[]any{"spec", "template", "spec", "containers", 0, "resources"}, map[string]any{
			"requests": map[string]any{"cpu": "500m", "memory": "1Gi"},
			"limits":   map[string]any{"memory": "1Gi"},
		}},
		{[]any{"spec", "template", "spec", "nodeSelector"}, map[string]any{"pool": "redis"}},
		{[]any{"spec", "template", "spec", "tolerations"}, []any{
			map[string]any{"key": "dedicated", "operator": "Equal", "value": "redis", "effect": "NoSchedule"},
			map[string]any{"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": float64(300)},
		}},
	}
	for _, ck := range checks {
		if got := get(sts, ck.path...); !reflect.DeepEqual(got, ck.want) {
			t.Errorf("%v = %#v, want %#v", ck.path, got, ck.want)
		}
	}
}

func TestBadQuantities(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *spec.RedisCluster)
		want   string
	}{
		{"storage", func(c *spec.RedisCluster) { c.Spec.Storage.Size = "lots" }, "spec.storage.size"},
		{"request", func(c *spec.RedisCluster) { c.Spec.Resources.Requests = map[string]string{"cpu": "fast"} }, "spec.resources.requests.cpu"},
		{"limit", func(c *spec.RedisCluster) { c.Spec.Resources.Limits = map[string]string{"memory": "1 GB"} }, "spec.resources.limits.memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCluster()
			tt.change(c)
			if _, err := Render(c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one about %s", err, tt.want)
			}
		})
	}
}
