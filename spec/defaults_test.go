package spec

import (
	"reflect"
	"testing"
	"time"
)

func TestSetDefaultsFillsWhatIsLeftOut(t *testing.T) {
	c := &RedisCluster{Spec: ClusterSpec{
		Masters:   3,
		Auth:      &Auth{SecretRef: SecretRef{Name: "s"}},
		Placement: Placement{Tolerations: []Toleration{{Key: "k"}}},
	}}
	c.SetDefaults()
	s := c.Spec
	for _, tc := range []struct {
		field     string
		got, want any
	}{
		{"replicasPerMaster", *s.ReplicasPerMaster, 1},
		{"redis.image", s.Redis.Image, "redis:7.0"},
		{"redis.nodeTimeout", s.Redis.NodeTimeout.Duration, 15 * time.Second},
		{"storage.size", s.Storage.Size, "1Gi"},
		{"storage.retainOnScaleIn", *s.Storage.RetainOnScaleIn, true},
		{"storage.storageClassName (none: the cluster's default class)", s.Storage.StorageClassName, ""},
		{"placement.topologyKey", s.Placement.TopologyKey, "kubernetes.io/hostname"},
		{"placement.zoneKey (none)", s.Placement.ZoneKey, ""},
		{"placement.antiAffinity", s.Placement.AntiAffinity, "preferred"},
		{"tolerations[0].operator", s.Placement.Tolerations[0].Operator, "Equal"},
		{"auth.secretRef.key", s.Auth.SecretRef.Key, "password"},
		{"reconcile.schedule (none)", s.Reconcile.Schedule, ""},
		{"reconcile.drift", s.Reconcile.Drift, "correct"},
		{"reconcile.suspend", s.Reconcile.Suspend, false},
		{"migration.keysPerBatch", s.Migration.KeysPerBatch, 1000},
		{"reconcile.destructive.forgetNodes", *s.Reconcile.Destructive.ForgetNodes, true},
		{"reconcile.destructive.takeOverSlots", s.Reconcile.Destructive.TakeOverSlots, false},
		{"migration.parallelSlots", s.Migration.ParallelSlots, 4},
		{"migration.profile", s.Migration.Profile, "gentle"},
		{"migration.latencyBudget", s.Migration.LatencyBudget.Duration, 2 * time.Millisecond},
		{"migration.Budget", s.Migration.Budget(), 2 * time.Millisecond},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.field, tc.got, tc.want)
		}
	}
}

func TestSetDefaultsKeepsWhatIsSet(t *testing.T) {
	c := &RedisCluster{Spec: ClusterSpec{
		Masters:           3,
		ReplicasPerMaster: ptr(0),
		Redis:             Redis{Image: "valkey:8", NodeTimeout: Duration{5 * time.Second}},
		Storage:           Storage{Size: "5Gi", RetainOnScaleIn: ptr(false)},
		Placement:         Placement{TopologyKey: "rack", AntiAffinity: AntiAffinityNone, Tolerations: []Toleration{{Operator: TolerationOpExists}}},
		Auth:              &Auth{SecretRef: SecretRef{Name: "s", Key: "k"}},
		Reconcile:         Reconcile{Drift: DriftReport, Destructive: Destructive{ForgetNodes: ptr(false)}},
		Migration:         Migration{KeysPerBatch: 10, ParallelSlots: 1, Profile: MigrationFast, LatencyBudget: Duration{10 * time.Millisecond}},
	}}
	want := *c
	want.Spec.ReplicasPerMaster = ptr(0)
	c.SetDefaults()
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("SetDefaults changed set fields:\n got %+v\nwant %+v", c.Spec, want.Spec)
	}
}

func TestSetDefaultsTwiceChangesNothing(t *testing.T) {
	c := &RedisCluster{Spec: ClusterSpec{Masters: 3}}
	c.SetDefaults()
	once := *c
	c.SetDefaults()
	if !reflect.DeepEqual(*c, once) {
		t.Errorf("second SetDefaults changed the cluster")
	}
}

func TestAccessorsWithoutDefaults(t *testing.T) {
	var s ClusterSpec
	s.Masters = 3
	if got, want := s.Replicas(), DefaultReplicasPerMaster; got != want {
		t.Errorf("Replicas() = %d, want %d", got, want)
	}
	if got, want := s.TotalNodes(), 6; got != want {
		t.Errorf("TotalNodes() = %d, want %d", got, want)
	}
	if got, want := s.RetainOnScaleIn(), true; got != want {
		t.Errorf("RetainOnScaleIn() = %v, want %v", got, want)
	}
	if got, want := s.ReportOnly(), false; got != want {
		t.Errorf("ReportOnly() = %v, want %v", got, want)
	}
	s.ReplicasPerMaster = ptr(0)
	if got, want := s.TotalNodes(), 3; got != want {
		t.Errorf("TotalNodes() with no replicas = %d, want %d", got, want)
	}
}

func TestDurationText(t *testing.T) {
	d := Duration{90 * time.Second}
	text, err := d.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(text), "1m30s"; got != want {
		t.Errorf("MarshalText = %q, want %q", got, want)
	}
	var back Duration
	if err := back.UnmarshalText(text); err != nil || back != d {
		t.Errorf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, d)
	}
	if err := back.UnmarshalText([]byte("15")); err == nil {
		t.Errorf("UnmarshalText(\"15\") succeeded; a duration needs a unit")
	}
}

func TestSetDefaultsOfMonitoring(t *testing.T) {
	off := &RedisCluster{Spec: ClusterSpec{Masters: 3}}
	off.SetDefaults()
	if got := off.Spec.Monitoring; !reflect.DeepEqual(got, Monitoring{}) {
		t.Errorf("monitoring off = %+v, want nothing defaulted", got)
	}

	on := &RedisCluster{Spec: ClusterSpec{Masters: 3, Monitoring: Monitoring{
		Enabled:   true,
		Resources: Resources{Limits: map[string]string{"memory": "128Mi"}},
	}}}
	on.SetDefaults()
	want := Monitoring{
		Enabled: true,
		Image:   "oliver006/redis_exporter:v1.45.0",
		Port:    9121,
		Resources: Resources{
			Requests: map[string]string{"cpu": "10m", "memory": "32Mi"},
			Limits:   map[string]string{"cpu": "100m", "memory": "128Mi"},
		},
	}
	if got := on.Spec.Monitoring; !reflect.DeepEqual(got, want) {
		t.Errorf("monitoring on =\n %+v\nwant\n %+v", got, want)
	}
	// The defaults are copied, never shared with the cluster.
	on.Spec.Monitoring.Resources.Requests["cpu"] = "1"
	if DefaultExporterRequests["cpu"] != "10m" {
		t.Errorf("DefaultExporterRequests changed through a defaulted cluster")
	}
}
