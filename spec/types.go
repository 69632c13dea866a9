package spec

import "time"

// APIVersion and Kind identify a RedisCluster document.
const (
	APIVersion = "redis-gitops.dev/v1alpha1"
	Kind       = "RedisCluster"
)

// RedisCluster is one Redis Cluster declared in Git.
type RedisCluster struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   Metadata    `json:"metadata"`
	Spec       ClusterSpec `json:"spec"`

	// Source is where the document was read from; not part of the format.
	Source Source `json:"-"`
}

// Source locates a document: its file and the line where it starts.
type Source struct {
	File string
	Line int
}

// Metadata names the cluster. Labels and annotations are copied onto every
// object rendered for it (and onto its pods).
type Metadata struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ClusterSpec is the desired cluster.
type ClusterSpec struct {
	// Masters is the number of shards, each a master owning a share of the
	// 16384 slots. At least 3, as redis-cli requires.
	Masters int `json:"masters"`
	// ReplicasPerMaster is how many replicas follow each master. Default 1.
	ReplicasPerMaster *int `json:"replicasPerMaster,omitempty"`
	Redis             Redis     `json:"redis,omitempty"`
	Resources         Resources `json:"resources,omitempty"`
	Storage           Storage   `json:"storage,omitempty"`
	Placement         Placement `json:"placement,omitempty"`
	Auth              *Auth     `json:"auth,omitempty"`
	Reconcile         Reconcile `json:"reconcile,omitempty"`
	Migration         Migration `json:"migration,omitempty"`
}

// Redis configures the redis-server processes.
type Redis struct {
	// Image is the container image. Default "redis:7.0".
	Image string `json:"image,omitempty"`
	// Config holds redis.conf settings. Keys the project manages (cluster-*,
	// port, bind, dir, requirepass, ...) are rejected.
	Config map[string]string `json:"config,omitempty"`
	// NodeTimeout is cluster-node-timeout, as a duration ("15s"). Default 15s.
	NodeTimeout Duration `json:"nodeTimeout,omitempty"`
}

// Resources are the redis container's requests and limits, as Kubernetes
// quantities keyed by "cpu" and "memory".
type Resources struct {
	Requests map[string]string `json:"requests,omitempty"`
	Limits   map[string]string `json:"limits,omitempty"`
}

// Storage is each node's persistent volume.
type Storage struct {
	// Size of each node's PVC. Default "1Gi".
	Size string `json:"size,omitempty"`
	// StorageClassName; empty uses the cluster's default class.
	StorageClassName string `json:"storageClassName,omitempty"`
	// RetainOnScaleIn keeps the PVCs of removed nodes. Default true.
	RetainOnScaleIn *bool `json:"retainOnScaleIn,omitempty"`
}

// Placement says how pods spread over failure domains.
type Placement struct {
	// TopologyKey is the node label that names a failure domain. Default
	// "kubernetes.io/hostname".
	TopologyKey string `json:"topologyKey,omitempty"`
	// ZoneKey, when set, is a second, wider failure domain (for example
	// "topology.kubernetes.io/zone").
	ZoneKey string `json:"zoneKey,omitempty"`
	// AntiAffinity between the cluster's pods on TopologyKey: "preferred"
	// (default), "required" or "none".
	AntiAffinity string            `json:"antiAffinity,omitempty"`
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	Tolerations  []Toleration      `json:"tolerations,omitempty"`
}

// Toleration mirrors the Kubernetes toleration.
type Toleration struct {
	Key               string `json:"key,omitempty"`
	Operator          string `json:"operator,omitempty"`
	Value             string `json:"value,omitempty"`
	Effect            string `json:"effect,omitempty"`
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
}

// Auth takes the Redis password from a Kubernetes Secret in the cluster's
// namespace; the password itself never appears in Git.
type Auth struct {
	SecretRef SecretRef `json:"secretRef"`
}

// SecretRef names a key of a Secret.
type SecretRef struct {
	Name string `json:"name"`
	// Key in the Secret's data. Default "password".
	Key string `json:"key,omitempty"`
}

// Reconcile tunes how the daemon treats the cluster.
type Reconcile struct {
	// Schedule is a cron expression (robfig/cron, 5 fields or @every) for a
	// full drift scan even when Git has not moved.
	Schedule string `json:"schedule,omitempty"`
	// Drift is "correct" (default: make the cluster match) or "report"
	// (write nothing to Kubernetes or Redis, only report).
	Drift string `json:"drift,omitempty"`
	// Suspend stops all action on the cluster; reports continue.
	Suspend bool `json:"suspend,omitempty"`
}

// Migration tunes slot migration.
type Migration struct {
	// KeysPerBatch is the number of keys per MIGRATE. Default 1000.
	KeysPerBatch int `json:"keysPerBatch,omitempty"`
	// ParallelSlots is how many slots move at once. Default 4.
	ParallelSlots int `json:"parallelSlots,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("15s").
type Duration struct{ time.Duration }
