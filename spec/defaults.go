package spec

import (
	"reflect"
	"time"
)

// Defaults. SetDefaults is the one place they are applied; the accessors
// below fall back to the same values for a cluster that was never defaulted.
const (
	DefaultReplicasPerMaster   = 1
	DefaultImage               = "redis:7.0"
	DefaultNodeTimeout         = 15 * time.Second
	DefaultStorageSize         = "1Gi"
	DefaultRetainOnScaleIn     = true
	DefaultForgetNodes         = true
	DefaultTopologyKey         = "kubernetes.io/hostname"
	DefaultAntiAffinity        = AntiAffinityPreferred
	DefaultTolerationOp        = TolerationOpEqual
	DefaultSecretKey           = "password"
	DefaultRotationGracePeriod = time.Minute
	DefaultDrift               = DriftCorrect
	DefaultKeysPerBatch        = 1000
	DefaultParallelSlots       = 4
	// DefaultLatencyBudget is spec.migration.latencyBudget's default:
	// measured on a 2-core machine (README, Scaling), it keeps a writer's
	// p99 within a few milliseconds during a scale-out.
	DefaultLatencyBudget = 2 * time.Millisecond
	DefaultExporterImage = "oliver006/redis_exporter:v1.45.0"
	DefaultMetricsPort   = 9121
	DefaultAdoptPort     = 6379
)

// DefaultExporterRequests and DefaultExporterLimits bound the monitoring
// exporter: it holds one connection and a few hundred series, well under
// these (Debian's 1.45 uses about 10 MiB).
var (
	DefaultExporterRequests = map[string]string{"cpu": "10m", "memory": "32Mi"}
	DefaultExporterLimits   = map[string]string{"cpu": "100m", "memory": "64Mi"}
)

// Values of Placement.AntiAffinity.
const (
	// AntiAffinityPreferred asks the scheduler to spread the cluster's pods
	// over TopologyKey domains, and lets it stack them when it cannot.
	AntiAffinityPreferred = "preferred"
	// AntiAffinityRequired never puts two of the cluster's pods in one
	// TopologyKey domain: pods stay Pending rather than share one.
	AntiAffinityRequired = "required"
	// AntiAffinityNone sets no anti-affinity.
	AntiAffinityNone = "none"
)

// Values of ExternalAccess.Type and ExternalAccess.AddressType.
const (
	ExternalNodePort     = "NodePort"
	ExternalLoadBalancer = "LoadBalancer"
	ExternalHostname     = "Hostname"
	AddressExternalIP    = "ExternalIP"
	AddressInternalIP    = "InternalIP"
)

// Values of Migration.Profile.
const (
	// MigrationGentle paces a migration within Migration.LatencyBudget.
	MigrationGentle = "gentle"
	// MigrationFast moves as fast as Migration.KeysPerBatch and
	// ParallelSlots allow.
	MigrationFast = "fast"
)

// Values of Reconcile.Drift.
const (
	// DriftCorrect makes Kubernetes and Redis match the spec.
	DriftCorrect = "correct"
	// DriftReport only reports differences and writes nothing to
	// Kubernetes or Redis.
	DriftReport = "report"
)

// Values of Toleration.Operator and Toleration.Effect, as in Kubernetes.
const (
	TolerationOpEqual  = "Equal"
	TolerationOpExists = "Exists"

	EffectNoSchedule       = "NoSchedule"
	EffectPreferNoSchedule = "PreferNoSchedule"
	EffectNoExecute        = "NoExecute"
)

// SetDefaults fills every field left empty with its default. It is the one
// place defaults are applied: Parse calls it before Validate, and code that
// builds a RedisCluster in Go calls it too. Calling it again changes nothing.
//
// The defaults: replicasPerMaster 1, redis.image "redis:7.0",
// redis.nodeTimeout 15s, storage.size "1Gi", storage.retainOnScaleIn true,
// reconcile.destructive.forgetNodes true,
// placement.topologyKey "kubernetes.io/hostname", placement.antiAffinity
// "preferred", each toleration's operator "Equal", auth.secretRef.key
// "password" and auth.rotationGracePeriod 1m (when auth is set), each
// user's enabled true and each of its passwordSecretRefs' key "password",
// tls.clientAuth "none" and tls.expiryWarning 720h (when tls is set),
// externalAccess.addressType "ExternalIP" (with type NodePort),
// reconcile.drift "correct", migration.keysPerBatch 1000,
// migration.parallelSlots 4, migration.profile "gentle",
// migration.latencyBudget 2ms, and with monitoring.enabled: monitoring.image
// "oliver006/redis_exporter:v1.45.0", monitoring.port 9121 and the
// exporter's requests (10m, 32Mi) and limits (100m, 64Mi), key by key.
// Everything else stays empty: masters and
// metadata are required, and resources, storageClassName, zoneKey,
// nodeSelector, tolerations, auth, tls, externalAccess and the schedule have no
// default.
func (c *RedisCluster) SetDefaults() {
	s := &c.Spec
	if s.ReplicasPerMaster == nil {
		s.ReplicasPerMaster = ptr(DefaultReplicasPerMaster)
	}
	if s.Redis.Image == "" {
		s.Redis.Image = DefaultImage
	}
	if s.Redis.NodeTimeout.Duration == 0 {
		s.Redis.NodeTimeout.Duration = DefaultNodeTimeout
	}
	if s.Storage.Size == "" {
		s.Storage.Size = DefaultStorageSize
	}
	if s.Storage.RetainOnScaleIn == nil {
		s.Storage.RetainOnScaleIn = ptr(DefaultRetainOnScaleIn)
	}
	if s.Placement.TopologyKey == "" {
		s.Placement.TopologyKey = DefaultTopologyKey
	}
	if s.Placement.AntiAffinity == "" {
		s.Placement.AntiAffinity = DefaultAntiAffinity
	}
	for i := range s.Placement.Tolerations {
		if s.Placement.Tolerations[i].Operator == "" {
			s.Placement.Tolerations[i].Operator = DefaultTolerationOp
		}
	}
	if e := s.ExternalAccess; e != nil && e.Type == ExternalNodePort && e.AddressType == "" {
		e.AddressType = AddressExternalIP
	}
	if s.Adopt != nil && s.Adopt.Port == 0 {
		s.Adopt.Port = DefaultAdoptPort
	}
	if s.Auth != nil && s.Auth.RotationGracePeriod.Duration == 0 {
		s.Auth.RotationGracePeriod.Duration = DefaultRotationGracePeriod
	}
	if s.Auth != nil && s.Auth.SecretRef.Key == "" {
		s.Auth.SecretRef.Key = DefaultSecretKey
	}
	for i := range s.Users {
		u := &s.Users[i]
		if u.Enabled == nil {
			u.Enabled = ptr(true)
		}
		for j := range u.PasswordSecretRefs {
			if u.PasswordSecretRefs[j].Key == "" {
				u.PasswordSecretRefs[j].Key = DefaultSecretKey
			}
		}
	}
	s.setTLSDefaults()
	if s.Reconcile.Drift == "" {
		s.Reconcile.Drift = DefaultDrift
	}
	if s.Reconcile.Destructive.ForgetNodes == nil {
		s.Reconcile.Destructive.ForgetNodes = ptr(DefaultForgetNodes)
	}
	if s.Migration.KeysPerBatch == 0 {
		s.Migration.KeysPerBatch = DefaultKeysPerBatch
	}
	if s.Migration.ParallelSlots == 0 {
		s.Migration.ParallelSlots = DefaultParallelSlots
	}
	if s.Migration.Profile == "" {
		s.Migration.Profile = MigrationGentle
	}
	if s.Migration.LatencyBudget.Duration == 0 {
		s.Migration.LatencyBudget.Duration = DefaultLatencyBudget
	}
	if m := &s.Monitoring; m.Enabled {
		if m.Image == "" {
			m.Image = DefaultExporterImage
		}
		if m.Port == 0 {
			m.Port = DefaultMetricsPort
		}
		m.Resources.Requests = withDefaultKeys(m.Resources.Requests, DefaultExporterRequests)
		m.Resources.Limits = withDefaultKeys(m.Resources.Limits, DefaultExporterLimits)
	}
}

// withDefaultKeys returns m with every key of defaults it lacks, leaving m
// as it is when it has them all.
func withDefaultKeys(m, defaults map[string]string) map[string]string {
	for k, v := range defaults {
		if _, ok := m[k]; ok {
			continue
		}
		if m == nil {
			m = make(map[string]string, len(defaults))
		}
		m[k] = v
	}
	return m
}

// Key returns "namespace/name", the cluster's identity across the repo.
func (c RedisCluster) Key() string {
	return c.Metadata.Namespace + "/" + c.Metadata.Name
}

// Replicas returns the number of replicas per master, the default when
// ReplicasPerMaster is unset.
func (s ClusterSpec) Replicas() int {
	if s.ReplicasPerMaster == nil {
		return DefaultReplicasPerMaster
	}
	return *s.ReplicasPerMaster
}

// TotalNodes returns the number of Redis nodes (pods): every master and its
// replicas.
func (s ClusterSpec) TotalNodes() int {
	return s.Masters * (1 + s.Replicas())
}

// RetainOnScaleIn reports whether the PVCs of removed nodes are kept; the
// default, true, when Storage.RetainOnScaleIn is unset.
func (s ClusterSpec) RetainOnScaleIn() bool {
	if s.Storage.RetainOnScaleIn == nil {
		return DefaultRetainOnScaleIn
	}
	return *s.Storage.RetainOnScaleIn
}

// ForgetNodes reports whether the daemon may forget nodes no pod runs
// (reconcile.destructive.forgetNodes, default DefaultForgetNodes).
func (s ClusterSpec) ForgetNodes() bool {
	if s.Reconcile.Destructive.ForgetNodes == nil {
		return DefaultForgetNodes
	}
	return *s.Reconcile.Destructive.ForgetNodes
}

// Budget is the latency budget the migration engine paces itself by:
// Migration.LatencyBudget (default DefaultLatencyBudget) with the gentle
// profile, 0 (unpaced) with the fast one.
func (m Migration) Budget() time.Duration {
	switch {
	case m.Profile == MigrationFast:
		return 0
	case m.LatencyBudget.Duration == 0:
		return DefaultLatencyBudget
	}
	return m.LatencyBudget.Duration
}

// ReportOnly reports whether the daemon must write nothing to Kubernetes or
// Redis for this cluster: drift "report".
func (s ClusterSpec) ReportOnly() bool {
	return s.Reconcile.Drift == DriftReport
}

func ptr[T any](v T) *T { return &v }

// Same tells whether two clusters declare the same thing, wherever each
// was read from (a comment added above a spec, or a file renamed, moves
// its Source and changes nothing).
func (c *RedisCluster) Same(o *RedisCluster) bool {
	if c == nil || o == nil {
		return c == o
	}
	a, b := *c, *o
	a.Source, b.Source = Source{}, Source{}
	return reflect.DeepEqual(a, b)
}
