package spec

import (
	"strings"
	"testing"
	"time"
)

// valid returns a defaulted cluster that validates.
func valid() *RedisCluster {
	c := &RedisCluster{
		APIVersion: APIVersion,
		Kind:       Kind,
		Metadata:   Metadata{Name: "cache", Namespace: "default"},
		Spec:       ClusterSpec{Masters: 3},
	}
	c.SetDefaults()
	return c
}

func TestValidateAcceptsAValidCluster(t *testing.T) {
	if errs := valid().Validate(); errs != nil {
		t.Errorf("Validate: %v", errs)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *RedisCluster)
		want   string // "path: message" prefix; "" for valid
	}{
		{"the longest name", func(c *RedisCluster) { c.Metadata.Name = strings.Repeat("a", MaxNameLength) }, ""},
		{"a name one too long", func(c *RedisCluster) { c.Metadata.Name = strings.Repeat("a", MaxNameLength+1) }, "metadata.name: is 41 characters; at most 40"},
		{"a name ending in a dash", func(c *RedisCluster) { c.Metadata.Name = "cache-" }, `metadata.name: "cache-" is not a valid name`},
		{"a namespace with a dot", func(c *RedisCluster) { c.Metadata.Namespace = "a.b" }, `metadata.namespace: "a.b" is not a valid namespace`},
		{"a label of our own", func(c *RedisCluster) { c.Metadata.Labels = map[string]string{"redis-gitops.dev/cluster": "x"} }, `metadata.labels["redis-gitops.dev/cluster"]: redis-gitops sets this label`},
		{"a label the project does not set", func(c *RedisCluster) { c.Metadata.Labels = map[string]string{"app.kubernetes.io/part-of": "shop"} }, ""},
		{"a label value too long", func(c *RedisCluster) { c.Metadata.Labels = map[string]string{"a": strings.Repeat("x", 64)} }, `metadata.labels["a"]: "xxx`},
		{"annotations over 256 KiB", func(c *RedisCluster) { c.Metadata.Annotations = map[string]string{"a": strings.Repeat("x", 256*1024)} }, "metadata.annotations: hold 262145 bytes; Kubernetes allows at most 262144"},
		{"an annotation key with capitals", func(c *RedisCluster) { c.Metadata.Annotations = map[string]string{"Example.com/Owner": "x"} }, ""},
		{"wrong apiVersion", func(c *RedisCluster) { c.APIVersion = "v1" }, `apiVersion: "v1" is not supported`},
		{"no kind", func(c *RedisCluster) { c.Kind = "" }, "kind: is required: write kind: RedisCluster"},
		{"1000 masters without replicas", func(c *RedisCluster) { c.Spec.Masters, c.Spec.ReplicasPerMaster = 1000, ptr(0) }, ""},
		{"1000 masters with replicas", func(c *RedisCluster) { c.Spec.Masters = 1000 }, "spec.replicasPerMaster: makes 2000 nodes"},
		{"no masters", func(c *RedisCluster) { c.Spec.Masters = 0 }, "spec.masters: is required"},
		{"adopt a StatefulSet", func(c *RedisCluster) { c.Spec.Adopt = &Adopt{StatefulSet: "redis-cluster", Port: 6379} }, ""},
		{"adopt without a StatefulSet", func(c *RedisCluster) { c.Spec.Adopt = &Adopt{Port: 6379} }, "spec.adopt.statefulSet: is required"},
		{"adopt the cluster's own StatefulSet", func(c *RedisCluster) { c.Spec.Adopt = &Adopt{StatefulSet: "cache", Port: 6379} }, `spec.adopt.statefulSet: "cache" is the cluster's own StatefulSet`},
		{"adopt on a port out of range", func(c *RedisCluster) { c.Spec.Adopt = &Adopt{StatefulSet: "old", Port: 70000} }, "spec.adopt.port: must be between 1 and 65535; got 70000"},
		{"adopt with TLS", func(c *RedisCluster) {
			c.Spec.Adopt = &Adopt{StatefulSet: "old", Port: 6379}
			c.Spec.TLS = &TLS{SecretRef: TLSSecretRef{Name: "tls"}}
			c.SetDefaults()
		}, "spec.adopt: cannot be combined with spec.tls"},
		{"5 replicas", func(c *RedisCluster) { c.Spec.ReplicasPerMaster = ptr(5) }, ""},
		{"an image with a space", func(c *RedisCluster) { c.Spec.Redis.Image = "redis 7" }, `spec.redis.image: "redis 7" is not an image reference`},
		{"a known setting", func(c *RedisCluster) { c.Spec.Redis.Config = map[string]string{"maxmemory-policy": "allkeys-lru"} }, ""},
		{"a setting with an underscore", func(c *RedisCluster) { c.Spec.Redis.Config = map[string]string{"server_cpulist": "0-1"} }, ""},
		{"a setting from a newer Redis", func(c *RedisCluster) { c.Spec.Redis.Config = map[string]string{"some-future-setting": "yes"} }, ""},
		{"a value with a tab", func(c *RedisCluster) { c.Spec.Redis.Config = map[string]string{"save": "3600\t1"} }, `spec.redis.config["save"]: must be a single line`},
		{"nodeTimeout 1.5s", func(c *RedisCluster) { c.Spec.Redis.NodeTimeout = Duration{1500 * time.Millisecond} }, ""},
		{"nodeTimeout in µs", func(c *RedisCluster) { c.Spec.Redis.NodeTimeout = Duration{time.Second + time.Microsecond} }, "spec.redis.nodeTimeout: must be a whole number of milliseconds"},
		{"cpu request equal to its limit", func(c *RedisCluster) {
			c.Spec.Resources = Resources{Requests: map[string]string{"cpu": "1000m"}, Limits: map[string]string{"cpu": "1"}}
		}, ""},
		{"cpu request over its limit", func(c *RedisCluster) {
			c.Spec.Resources = Resources{Requests: map[string]string{"cpu": "1001m"}, Limits: map[string]string{"cpu": "1"}}
		}, `spec.resources.requests["cpu"]: 1001m is more than the limit 1`},
		{"a request with no limit", func(c *RedisCluster) { c.Spec.Resources.Requests = map[string]string{"memory": "64Gi"} }, ""},
		{"no size", func(c *RedisCluster) { c.Spec.Storage.Size = "" }, `spec.storage.size: "" is not a Kubernetes quantity`},
		{"no topology key", func(c *RedisCluster) { c.Spec.Placement.TopologyKey = "" }, "spec.placement.topologyKey: must not be empty"},
		{"a zone key", func(c *RedisCluster) { c.Spec.Placement.ZoneKey = "topology.kubernetes.io/zone" }, ""},
		{"no anti-affinity", func(c *RedisCluster) { c.Spec.Placement.AntiAffinity = "" }, `spec.placement.antiAffinity: must be preferred, required or none; got ""`},
		{"tolerate everything", func(c *RedisCluster) { c.Spec.Placement.Tolerations = []Toleration{{Operator: TolerationOpExists}} }, ""},
		{"tolerationSeconds with NoExecute", func(c *RedisCluster) {
			c.Spec.Placement.Tolerations = []Toleration{{Key: "k", Operator: TolerationOpExists, Effect: EffectNoExecute, TolerationSeconds: ptr[int64](30)}}
		}, ""},
		{"negative tolerationSeconds", func(c *RedisCluster) {
			c.Spec.Placement.Tolerations = []Toleration{{Key: "k", Operator: TolerationOpExists, Effect: EffectNoExecute, TolerationSeconds: ptr[int64](-1)}}
		}, "spec.placement.tolerations[0].tolerationSeconds: must not be negative"},
		{"a secret name with capitals", func(c *RedisCluster) { c.Spec.Auth = &Auth{SecretRef: SecretRef{Name: "Auth", Key: "password"}} }, `spec.auth.secretRef.name: "Auth" is not a valid Secret name`},
		{"external access without a type", func(c *RedisCluster) { c.Spec.ExternalAccess = &ExternalAccess{} },
			"spec.externalAccess.type: is required: NodePort, LoadBalancer or Hostname"},
		{"external access of an unknown type", func(c *RedisCluster) { c.Spec.ExternalAccess = &ExternalAccess{Type: "Ingress"} },
			`spec.externalAccess.type: must be NodePort, LoadBalancer or Hostname; got "Ingress"`},
		{"a hostname without {pod}", func(c *RedisCluster) {
			c.Spec.ExternalAccess = &ExternalAccess{Type: ExternalHostname, Hostname: "redis.example.com"}
		}, `spec.externalAccess.hostname: "redis.example.com" must contain {pod}`},
		{"type Hostname without a hostname", func(c *RedisCluster) { c.Spec.ExternalAccess = &ExternalAccess{Type: ExternalHostname} },
			"spec.externalAccess.hostname: is required with type Hostname"},
		{"a hostname that is no DNS name", func(c *RedisCluster) {
			c.Spec.ExternalAccess = &ExternalAccess{Type: ExternalHostname, Hostname: "{pod}_redis.example.com"}
		}, `spec.externalAccess.hostname: "{pod}_redis.example.com" does not make a valid DNS name`},
		{"addressType with LoadBalancer", func(c *RedisCluster) {
			c.Spec.ExternalAccess = &ExternalAccess{Type: ExternalLoadBalancer, AddressType: AddressInternalIP}
		}, "spec.externalAccess.addressType: applies only to type NodePort"},
		{"an unknown addressType", func(c *RedisCluster) {
			c.Spec.ExternalAccess = &ExternalAccess{Type: ExternalNodePort, AddressType: "Hostname"}
		}, `spec.externalAccess.addressType: must be ExternalIP or InternalIP; got "Hostname"`},
		{"a rotation grace of a week", func(c *RedisCluster) {
			c.Spec.Auth = &Auth{SecretRef: SecretRef{Name: "auth", Key: "password"}, RotationGracePeriod: Duration{7 * 24 * time.Hour}}
		}, "spec.auth.rotationGracePeriod: must be at most 24h; got 168h"},
		{"a negative rotation grace", func(c *RedisCluster) {
			c.Spec.Auth = &Auth{SecretRef: SecretRef{Name: "auth", Key: "password"}, RotationGracePeriod: Duration{-time.Second}}
		}, "spec.auth.rotationGracePeriod: must not be negative; got -1s"},
		{"a secret key with a slash", func(c *RedisCluster) { c.Spec.Auth = &Auth{SecretRef: SecretRef{Name: "auth", Key: "a/b"}} }, `spec.auth.secretRef.key: "a/b" is not a valid Secret key`},
		{"monitoring with its defaults", func(c *RedisCluster) { c.Spec.Monitoring.Enabled = true; c.SetDefaults() }, ""},
		{"monitoring off ignores its fields", func(c *RedisCluster) { c.Spec.Monitoring = Monitoring{Port: 80} }, ""},
		{"a metrics port of Redis's", func(c *RedisCluster) { c.Spec.Monitoring = Monitoring{Enabled: true, Port: 6379}; c.SetDefaults() },
			"spec.monitoring.port: 6379 is Redis's own"},
		{"a privileged metrics port", func(c *RedisCluster) { c.Spec.Monitoring = Monitoring{Enabled: true, Port: 80}; c.SetDefaults() },
			"spec.monitoring.port: must be between 1024 and 65535; got 80"},
		{"an exporter image with a space", func(c *RedisCluster) { c.Spec.Monitoring = Monitoring{Enabled: true, Image: "a b"}; c.SetDefaults() },
			`spec.monitoring.image: "a b" is not an image reference`},
		{"an exporter limit under the default request", func(c *RedisCluster) {
			c.Spec.Monitoring = Monitoring{Enabled: true, Resources: Resources{Limits: map[string]string{"memory": "16Mi"}}}
			c.SetDefaults()
		}, `spec.monitoring.resources.requests["memory"]: 32Mi is more than the limit 16Mi`},
		{"an exporter resource other than cpu and memory", func(c *RedisCluster) {
			c.Spec.Monitoring = Monitoring{Enabled: true, Resources: Resources{Limits: map[string]string{"gpu": "1"}}}
			c.SetDefaults()
		}, `spec.monitoring.resources.limits["gpu"]: unknown resource`},
		{"a cron schedule", func(c *RedisCluster) { c.Spec.Reconcile.Schedule = "*/5 * * * *" }, ""},
		{"a descriptor", func(c *RedisCluster) { c.Spec.Reconcile.Schedule = "@hourly" }, ""},
		{"every minute", func(c *RedisCluster) { c.Spec.Reconcile.Schedule = "@every 1m" }, ""},
		{"a time zone", func(c *RedisCluster) { c.Spec.Reconcile.Schedule = "CRON_TZ=UTC 0 3 * * *" }, ""},
		{"six fields", func(c *RedisCluster) { c.Spec.Reconcile.Schedule = "0 */5 * * * *" }, `spec.reconcile.schedule: "0 */5 * * * *" is not a cron expression`},
		{"no drift", func(c *RedisCluster) { c.Spec.Reconcile.Drift = "" }, `spec.reconcile.drift: must be correct or report; got ""`},
		{"64 parallel slots", func(c *RedisCluster) { c.Spec.Migration.ParallelSlots = 64 }, ""},
		{"100000 keys per batch", func(c *RedisCluster) { c.Spec.Migration.KeysPerBatch = 100_000 }, ""},
		{"negative parallel slots", func(c *RedisCluster) { c.Spec.Migration.ParallelSlots = -1 }, "spec.migration.parallelSlots: must be between 1 and 64; got -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.change(c)
			errs := c.Validate()
			switch {
			case tc.want == "" && errs != nil:
				t.Errorf("Validate: %v; want no error", errs)
			case tc.want != "" && !strings.HasPrefix(errs.Error(), tc.want):
				t.Errorf("Validate:\n%v\nwant an error starting %q", errs, tc.want)
			}
		})
	}
}

func TestValidateRedisConfig(t *testing.T) {
	for _, tc := range []struct {
		key, want string // want: the start of the message; "" for valid
	}{
		{"maxmemory", ""},
		{"appendonly", ""},
		{"save", ""},
		{"cluster-require-full-coverage", ""},
		{"cluster-enabled", "cannot be set: redis-gitops always runs Redis in cluster mode"},
		{"cluster-config-file", "cannot be set: redis-gitops keeps each node's nodes.conf"},
		{"port", "cannot be set: redis-gitops sets the ports"},
		{"cluster-port", "cannot be set: redis-gitops sets the ports"},
		{"bind", "cannot be set: redis-gitops binds Redis"},
		{"dir", "cannot be set: the data directory"},
		{"cluster-announce-ip", "cannot be set: redis-gitops decides the address"},
		{"cluster-announce-port", "cannot be set: redis-gitops decides the address"},
		{"cluster-announce-bus-port", "cannot be set: redis-gitops decides the address"},
		{"cluster-announce-hostname", "cannot be set: redis-gitops decides the address"},
		{"requirepass", "cannot be set: passwords must not be written in Git: put the password in a Secret and reference it with spec.auth.secretRef"},
		{"masterauth", "cannot be set: passwords must not be written in Git"},
		{"user", "cannot be set: passwords must not be written in Git"},
		{"cluster-node-timeout", "cannot be set: set it with spec.redis.nodeTimeout"},
		{"daemonize", "cannot be set: Redis must stay in the foreground"},
		{"logfile", "cannot be set: Redis logs to stdout"},
		{"include", "cannot be set: redis.conf is rendered from this spec"},
		{"replicaof", "cannot be set: in a Redis Cluster, redis-gitops assigns replicas"},
		{"rename-command", "cannot be set: the daemon needs CLUSTER"},
		{"protected-mode", "cannot be set: redis-gitops turns it off"},
		{"REQUIREPASS", "cannot be set: passwords must not be written in Git"},
		{"Maxmemory", `write Redis settings in lowercase: "maxmemory"`},
		{"maxmemory-polic", `is not a Redis setting; did you mean "maxmemory-policy"?`},
		{"apendonly", `is not a Redis setting; did you mean "appendonly"?`},
		{"-x", "is not a redis.conf directive name"},
		{"", "is not a redis.conf directive name"},
	} {
		c := valid()
		c.Spec.Redis.Config = map[string]string{tc.key: "v"}
		errs := c.Validate()
		switch {
		case tc.want == "" && errs != nil:
			t.Errorf("config[%q]: %v; want no error", tc.key, errs)
		case tc.want != "" && (len(errs) != 1 || !strings.HasPrefix(errs[0].Message, tc.want)):
			t.Errorf("config[%q]: %v; want one error starting %q", tc.key, errs, tc.want)
		}
	}
}

func TestValidatePlacesErrorsOfAClusterBuiltInGo(t *testing.T) {
	c := valid()
	c.Spec.Masters = 1
	errs := c.Validate()
	if got, want := errs.Error(), "spec.masters: must be at least 3"; !strings.HasPrefix(got, want) {
		t.Errorf("Validate = %q, want it to start %q (no file, no position)", got, want)
	}
	if got, want := errs[0].Cluster, "default/cache"; got != want {
		t.Errorf("Cluster = %q, want %q", got, want)
	}
}

func TestParseSchedule(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		expr string
		next time.Time
	}{
		{"CRON_TZ=UTC */10 * * * *", from.Add(10 * time.Minute)},
		{"CRON_TZ=UTC @hourly", from.Add(time.Hour)},
		{"@every 15m", from.Add(15 * time.Minute)},
	} {
		s, err := ParseSchedule(tc.expr)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", tc.expr, err)
			continue
		}
		if got := s.Next(from); !got.Equal(tc.next) {
			t.Errorf("ParseSchedule(%q).Next(%s) = %s, want %s", tc.expr, from, got, tc.next)
		}
	}
	for _, expr := range []string{"", "TZ=UTC", "CRON_TZ=", "* * * *", "@yearly-ish", "CRON_TZ=Nowhere/Else 0 3 * * *"} {
		if _, err := ParseSchedule(expr); err == nil {
			t.Errorf("ParseSchedule(%q) succeeded, want an error", expr)
		}
	}
}
