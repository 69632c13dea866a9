package spec

import (
	"fmt"
	"time"
)

// APIVersion and Kind identify a RedisCluster document.
const (
	APIVersion = "redis-gitops.dev/v1alpha1"
	Kind       = "RedisCluster"
)

// RedisCluster is one Redis Cluster declared in Git.
type RedisCluster struct {
	// APIVersion is always "redis-gitops.dev/v1alpha1" (APIVersion).
	APIVersion string `json:"apiVersion"`
	// Kind is always "RedisCluster" (Kind).
	Kind string `json:"kind"`
	// Metadata names the cluster and labels its objects.
	Metadata Metadata `json:"metadata"`
	// Spec is the desired cluster.
	Spec ClusterSpec `json:"spec"`

	// Source is where the document was read from; not part of the format.
	Source Source `json:"-"`
}

// Source locates a document: its file and the line where it starts.
type Source struct {
	File string
	Line int
	// Fields maps each field path written in the document (as in Error.Path:
	// "spec.masters", "spec.redis.config[\"maxmemory\"]") to where its
	// value starts, or, for a map entry, where its key starts. Parse fills
	// it; Validate uses it to place errors, and reports may use it to point
	// at a line. Nil for a cluster built in Go.
	Fields map[string]Position
}

// Position is a 1-based line and column in a file.
type Position struct {
	Line, Column int
}

// Metadata names the cluster. Labels and annotations are copied onto every
// object rendered for it (and onto its pods).
type Metadata struct {
	// Name of the cluster and of the objects rendered for it: a DNS-1035
	// label of at most MaxNameLength characters.
	Name string `json:"name"`
	// Namespace the cluster's objects live in: a DNS-1123 label.
	Namespace string `json:"namespace"`
	// Labels and Annotations may not use the keys redis-gitops sets itself
	// (see ReservedLabelKeys and ReservedPrefix).
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ClusterSpec is the desired cluster.
type ClusterSpec struct {
	// Masters is the number of shards, each a master owning a share of the
	// 16384 slots. Required; MinMasters (3, as redis-cli requires) to
	// MaxMasters.
	Masters int `json:"masters"`
	// ReplicasPerMaster is how many replicas follow each master, 0 to
	// MaxReplicasPerMaster. Default 1 (DefaultReplicasPerMaster).
	ReplicasPerMaster *int `json:"replicasPerMaster,omitempty"`
	// Redis configures the redis-server processes.
	Redis Redis `json:"redis,omitempty"`
	// Resources of the redis container.
	Resources Resources `json:"resources,omitempty"`
	// Storage is each node's persistent volume.
	Storage Storage `json:"storage,omitempty"`
	// Placement spreads the pods over failure domains.
	Placement Placement `json:"placement,omitempty"`
	// Auth, when set, protects the cluster with a password from a Secret.
	Auth *Auth `json:"auth,omitempty"`
	// TLS, when set, encrypts every connection (clients, replication, the
	// cluster bus) with a certificate from a Secret. Plaintext by default.
	TLS *TLS `json:"tls,omitempty"`
	// Reconcile tunes how the daemon treats the cluster.
	Reconcile Reconcile `json:"reconcile,omitempty"`
	// Migration tunes slot migration.
	Migration Migration `json:"migration,omitempty"`
	// ExternalAccess lets clients outside Kubernetes reach every node at
	// an address it announces. None by default.
	ExternalAccess *ExternalAccess `json:"externalAccess,omitempty"`
	// Monitoring runs a Prometheus exporter next to every Redis node. Off
	// by default.
	Monitoring Monitoring `json:"monitoring,omitempty"`
	// Users are Redis ACL users, each with its rules and its passwords from
	// Secrets, set live on every node (ACL SETUSER, no restart). Git is
	// the truth for them: a user removed here is deleted from every node,
	// and a rule edited by hand is drift. Users a person made by hand and
	// never declared are reported, not deleted. None by default.
	Users []User `json:"users,omitempty"`
	// Adopt takes over a Redis Cluster already running in the cluster's
	// namespace (made by hand, by a Helm chart, by another operator): the
	// daemon joins its own pods to it, makes each the replica of a master
	// there, fails every shard over to its own pod, moves what slots
	// remain, and releases the old nodes once they hold nothing. Clients
	// only follow MOVED. Nothing is written to the old nodes but
	// replication and cluster commands. `redis-gitops adopt` writes a spec
	// with this section for a live cluster. Leave it in Git once the
	// takeover is done: it is then a no-op.
	Adopt *Adopt `json:"adopt,omitempty"`
}

// Adopt names the running cluster to take over. Its nodes must accept the
// password of spec.auth (none without it): give spec.auth the Secret the
// old cluster reads its requirepass from. Once the takeover is done (the
// report's adoption.state is adopted), the old StatefulSet runs empty,
// released nodes: delete it, and its PersistentVolumeClaims, by hand.
type Adopt struct {
	// StatefulSet runs the old cluster's nodes, in the cluster's namespace;
	// its pods (by its selector) are where the daemon first reaches the
	// old cluster. Required; not the cluster's own name.
	StatefulSet string `json:"statefulSet"`
	// Port is the old nodes' client port. Default 6379 (DefaultAdoptPort).
	Port int `json:"port,omitempty"`
}

// User is one Redis ACL user. Its rules start from nothing (ACL SETUSER
// ... reset): it may run only the commands, touch only the keys and
// publish or subscribe only to the channels listed.
type User struct {
	// Name of the user, as clients send it with AUTH: letters, digits and
	// ".", "_", "-" (at most MaxUserNameLength). "default" and
	// "readiness" are the project's own (spec.auth, the readiness probe).
	Name string `json:"name"`
	// Enabled: the user may log in. Default true; false keeps the user
	// and its rules but refuses its logins (ACL SETUSER ... off).
	Enabled *bool `json:"enabled,omitempty"`
	// PasswordSecretRefs name the Secrets (and keys) holding the user's
	// passwords; every one listed is accepted. To rotate, add the new
	// Secret, move the clients, then remove the old one. At least one.
	// Only SHA-256 hashes of the passwords reach Redis (#<hash>).
	PasswordSecretRefs []SecretRef `json:"passwordSecretRefs"`
	// Commands are ACL command rules applied in order, from none: "+get",
	// "-flushall", "+@read", "-@dangerous", "+config|get", "allcommands",
	// "nocommands". At least one.
	Commands []string `json:"commands"`
	// Keys are the key patterns (glob-style, as "app:*") the user may
	// read and write; "*" is every key. None by default: no key.
	Keys []string `json:"keys,omitempty"`
	// Channels are the Pub/Sub channel patterns (glob-style) the user may
	// publish and subscribe to; "*" is every channel. None by default.
	Channels []string `json:"channels,omitempty"`
}

// Monitoring runs a redis_exporter sidecar in every Redis pod, scraping
// its own node over localhost, and publishes it for Prometheus: a metrics
// port on the pods and on the "<name>-metrics" Service, the
// prometheus.io/scrape, port and path pod annotations, and optionally a
// PodMonitor. With auth, the exporter takes the password from the Secret
// (an environment variable the kubelet fills), never from its arguments.
// Turning it on or off changes the pods, which roll one at a time.
type Monitoring struct {
	// Enabled runs the exporter. Default false; the fields below are
	// defaulted only when it is true.
	Enabled bool `json:"enabled,omitempty"`
	// Image is the exporter's container image. Default
	// "oliver006/redis_exporter:v1.45.0" (DefaultExporterImage).
	Image string `json:"image,omitempty"`
	// Resources of the exporter container, counted in the pod's. Each of
	// requests.cpu, requests.memory, limits.cpu and limits.memory left out
	// takes its default: requests 10m and 32Mi, limits 100m and 64Mi
	// (DefaultExporterRequests, DefaultExporterLimits), so the exporter is
	// always bounded.
	Resources Resources `json:"resources,omitempty"`
	// Port the exporter serves /metrics on, in the pod: 1024 to 65535,
	// not the Redis client or bus port. Default 9121 (DefaultMetricsPort).
	Port int `json:"port,omitempty"`
	// PodMonitor renders a monitoring.coreos.com/v1 PodMonitor for
	// clusters whose Prometheus runs under the Prometheus Operator. Its
	// CRD must be installed; the daemon does not apply it (yet):
	// `redis-gitops render` prints it for you to apply. Default false.
	PodMonitor bool `json:"podMonitor,omitempty"`
}

// Redis configures the redis-server processes.
type Redis struct {
	// Image is the container image. Default "redis:7.0" (DefaultImage).
	Image string `json:"image,omitempty"`
	// Config holds redis.conf settings, one value per lowercase directive
	// ("maxmemory-policy": "allkeys-lru"). Directives the project manages
	// (cluster-enabled, port, bind, dir, requirepass, ...: ManagedRedisConfig)
	// are rejected with the reason.
	Config map[string]string `json:"config,omitempty"`
	// NodeTimeout is cluster-node-timeout, as a Go duration ("15s"), at
	// least 1s. Default 15s (DefaultNodeTimeout).
	NodeTimeout Duration `json:"nodeTimeout,omitempty"`
}

// Resources are the redis container's requests and limits, as Kubernetes
// quantities keyed by "cpu" and "memory"; a request may not exceed its
// limit. None by default.
type Resources struct {
	// Requests are what the scheduler reserves for each node.
	Requests map[string]string `json:"requests,omitempty"`
	// Limits are the most each node may use; Redis is killed above the
	// memory limit, so leave room above maxmemory.
	Limits map[string]string `json:"limits,omitempty"`
}

// Storage is each node's persistent volume.
type Storage struct {
	// Size of each node's PVC, a Kubernetes quantity. Default "1Gi"
	// (DefaultStorageSize).
	Size string `json:"size,omitempty"`
	// StorageClassName; empty uses the cluster's default class.
	StorageClassName string `json:"storageClassName,omitempty"`
	// RetainOnScaleIn keeps the PVCs of removed nodes. Default true; read it
	// with ClusterSpec.RetainOnScaleIn.
	RetainOnScaleIn *bool `json:"retainOnScaleIn,omitempty"`
}

// Placement says how pods spread over failure domains.
type Placement struct {
	// TopologyKey is the node label that names a failure domain. Default
	// "kubernetes.io/hostname" (DefaultTopologyKey).
	TopologyKey string `json:"topologyKey,omitempty"`
	// ZoneKey, when set, is a second, wider failure domain (for example
	// "topology.kubernetes.io/zone"). It must differ from TopologyKey. No
	// default.
	ZoneKey string `json:"zoneKey,omitempty"`
	// AntiAffinity between the cluster's pods on TopologyKey: "preferred"
	// (default), "required" or "none" (AntiAffinityPreferred, ...).
	AntiAffinity string `json:"antiAffinity,omitempty"`
	// NodeSelector restricts the cluster's pods to nodes with these labels.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Tolerations let the cluster's pods run on tainted nodes.
	Tolerations []Toleration `json:"tolerations,omitempty"`
}

// Toleration mirrors the Kubernetes toleration, with its rules: an empty
// Key needs Operator "Exists", "Exists" takes no Value, and
// TolerationSeconds goes only with Effect "NoExecute".
type Toleration struct {
	// Key is the taint's key; empty with operator Exists tolerates every
	// taint.
	Key string `json:"key,omitempty"`
	// Operator is "Equal" (default) or "Exists".
	Operator string `json:"operator,omitempty"`
	// Value is the taint's value to match with operator Equal.
	Value string `json:"value,omitempty"`
	// Effect is "NoSchedule", "PreferNoSchedule", "NoExecute" or empty (all).
	Effect string `json:"effect,omitempty"`
	// TolerationSeconds, with effect NoExecute, is how long the pod stays
	// on a node after the taint appears; unset, forever.
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
}

// Auth takes the Redis password from a Kubernetes Secret in the cluster's
// namespace; the password itself never appears in Git. Without Auth the
// cluster has no password.
type Auth struct {
	// SecretRef names the Secret and key holding the password.
	SecretRef SecretRef `json:"secretRef"`
	// RotationGracePeriod is how long, after a change of the password in
	// the Secret, every node accepts both the old and the new password,
	// so that clients can move to the new one without an auth error.
	// Default 1m (DefaultRotationGracePeriod); at most 24h.
	RotationGracePeriod Duration `json:"rotationGracePeriod,omitempty"`
}

// TLS serves Redis over TLS only (tls-port, tls-replication, tls-cluster)
// with the certificate, key and CA of a Secret in the shape cert-manager
// writes, so a cert-manager Certificate (or any issuer) plugs in
// unchanged. Clients connect to the TLS port, 6380; the plaintext port,
// 6379, is closed unless PlaintextPort keeps it. The certificate must
// carry each pod's DNS name through the headless Service,
// <pod>.<name>-nodes.<namespace>.svc (a wildcard *.<name>-nodes.<namespace>.svc
// covers them all; `redis-gitops render` lists the names), and be valid
// for both server and client auth: Redis presents it to its peers on the
// cluster bus and to its master.
type TLS struct {
	// SecretRef names a Secret (type kubernetes.io/tls) in the cluster's
	// namespace holding tls.crt, tls.key and ca.crt. Required.
	SecretRef TLSSecretRef `json:"secretRef"`
	// PlaintextPort keeps the plaintext port 6379 open beside the TLS
	// port, for clients that have not moved to TLS yet (a migration
	// window). Replication and the cluster bus use TLS either way.
	// Default false.
	PlaintextPort bool `json:"plaintextPort,omitempty"`
	// ClientAuth is whether clients must present a certificate signed by
	// ca.crt (tls-auth-clients): "none" (default: any client that trusts
	// the CA may connect, and authenticates with a password if auth is
	// set), "optional" (a certificate, if presented, must be valid) or
	// "required". Nodes always present theirs to each other.
	ClientAuth string `json:"clientAuth,omitempty"`
	// ExpiryWarning is how long before the certificate expires the report
	// starts warning about it. Default 720h (30 days;
	// DefaultTLSExpiryWarning); cert-manager renews at two thirds of a
	// certificate's life.
	ExpiryWarning Duration `json:"expiryWarning,omitempty"`
	// SwitchingOff is not part of the spec: the reconciler sets it on its
	// own copy of a cluster whose spec.tls was removed while its nodes
	// still run TLS, so that the pods keep their certificate and the
	// daemon reaches them until they are all back on plaintext.
	SwitchingOff bool `json:"-"`
}

// TLSSecretRef names the Secret holding a cluster's certificate.
type TLSSecretRef struct {
	// Name of the Secret, in the cluster's namespace. Required.
	Name string `json:"name"`
}

// ExternalAccess makes every Redis node reachable from outside the
// Kubernetes cluster, and makes it announce that address (in MOVED, ASK,
// CLUSTER SLOTS and CLUSTER SHARDS), so a cluster client outside follows
// redirections to addresses it can reach.
type ExternalAccess struct {
	// Type: "NodePort" (one NodePort Service per pod; each node announces
	// its Kubernetes node's address and the Service's node ports),
	// "LoadBalancer" (one LoadBalancer Service per pod; each node
	// announces its load balancer's IP) or "Hostname" (each node announces
	// a DNS name, for setups where external DNS points those names at the
	// nodes). Required.
	Type string `json:"type"`
	// AddressType is which Kubernetes node address a NodePort node
	// announces: "ExternalIP" (default; InternalIP when a node has none)
	// or "InternalIP".
	AddressType string `json:"addressType,omitempty"`
	// Hostname is the name each node announces with type Hostname; it must
	// contain {pod} (the pod name, e.g. cache-3) and may contain
	// {namespace} and {cluster}. Example: "{pod}.redis.example.com".
	Hostname string `json:"hostname,omitempty"`
	// ServiceAnnotations go on every per-pod Service (a cloud's load
	// balancer settings, for example).
	ServiceAnnotations map[string]string `json:"serviceAnnotations,omitempty"`
}

// SecretRef names a key of a Secret.
type SecretRef struct {
	// Name of the Secret, in the cluster's namespace. Required.
	Name string `json:"name"`
	// Key in the Secret's data. Default "password" (DefaultSecretKey).
	Key string `json:"key,omitempty"`
}

// Reconcile tunes how the daemon treats the cluster.
type Reconcile struct {
	// Schedule is a cron expression (5 fields, a descriptor such as @hourly,
	// or @every 10m; read by ParseSchedule) for a full drift scan even when
	// Git has not moved. Empty: no scheduled scan.
	Schedule string `json:"schedule,omitempty"`
	// Drift is "correct" (default: make the cluster match) or "report"
	// (write nothing to Kubernetes or Redis, only report): DriftCorrect,
	// DriftReport.
	Drift string `json:"drift,omitempty"`
	// Suspend stops all action on the cluster; reports continue. Default
	// false.
	Suspend bool `json:"suspend,omitempty"`
	// DriftPullRequests proposes drift back to Git: when a scan finds
	// drift that lasts (seen on two consecutive scans), the daemon opens
	// one pull request for the cluster, from a branch of its own, that
	// edits this spec to match the live cluster where the spec can say it
	// (a redis.config value, masters, replicasPerMaster) and lists the
	// rest; it keeps that pull request current and closes it, saying why,
	// when the drift is gone. Needs the daemon's --forge. Default false.
	DriftPullRequests bool `json:"driftPullRequests,omitempty"`
	// Destructive says which steps that forget something the daemon may
	// take by itself. A step the policy does not allow stays in the plan
	// and the report, marked blocked with what a person can do, and does
	// not run.
	Destructive Destructive `json:"destructive,omitempty"`
}

// Destructive is the policy for steps that forget or give up something.
// Deleting the volumes of removed pods is storage.retainOnScaleIn's.
type Destructive struct {
	// ForgetNodes lets the daemon CLUSTER FORGET a node that no pod of the
	// cluster runs any more and that owns no slot (the old ID of a pod that
	// lost its volume, the nodes of a finished scale-in): no key is lost by
	// it. Default true (DefaultForgetNodes); false keeps such nodes in
	// every node's table, flagged failed, until a person forgets them.
	ForgetNodes *bool `json:"forgetNodes,omitempty"`
	// TakeOverSlots lets the daemon give slots that no live node serves
	// (their master and every replica of it are gone) to the live masters,
	// forgetting the gone owner first, so that the cluster serves every
	// slot again: the keys those slots held are lost for good. Default
	// false: the slots are reported, and the cluster stays degraded until
	// a person restores the node or allows this.
	TakeOverSlots bool `json:"takeOverSlots,omitempty"`
}

// Migration tunes slot migration.
type Migration struct {
	// KeysPerBatch is the number of keys per MIGRATE, 1 to MaxKeysPerBatch.
	// Default 1000 (DefaultKeysPerBatch).
	KeysPerBatch int `json:"keysPerBatch,omitempty"`
	// ParallelSlots is how many rounds of slots move at once, 1 to
	// MaxParallelSlots. Default 4 (DefaultParallelSlots).
	ParallelSlots int `json:"parallelSlots,omitempty"`
	// Profile is "gentle" (default: the move paces itself by what clients
	// feel, within latencyBudget) or "fast" (as fast as keysPerBatch and
	// parallelSlots allow, with large rounds of slots: fewer nodes.conf
	// fsyncs, and client latency of tens of milliseconds while it moves):
	// MigrationGentle, MigrationFast.
	Profile string `json:"profile,omitempty"`
	// LatencyBudget is, with the gentle profile, how long one batch of
	// keys may keep the source or the target master from its clients, as
	// a Go duration ("2ms"), MinLatencyBudget to MaxLatencyBudget. The
	// engine times each batch (MIGRATE is synchronous: neither node serves
	// anyone else meanwhile) and sizes the next one, and the rounds in
	// flight (up to keysPerBatch and parallelSlots), to keep within it.
	// Default 2ms (DefaultLatencyBudget).
	LatencyBudget Duration `json:"latencyBudget,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("15s").
// A bare number is not a Duration: its unit would be a guess.
type Duration struct{ time.Duration }

// MarshalText writes d as a Go duration string, so JSON and YAML output
// reads "15s", as the spec is written.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Go duration string.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("duration %q: want a Go duration such as \"15s\" or \"1m30s\"", text)
	}
	d.Duration = v
	return nil
}
