package adopt

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// TestSpecWalkthrough: the blog's cluster, found through its pod, becomes
// a spec of 3 masters with 1 replica each, the pod's image, the settings
// its redis.conf changed (and the persistence and memory settings, always),
// its volume size, and an adopt section naming its StatefulSet; the
// announce address, which the project decides, is a note.
func TestSpecWalkthrough(t *testing.T) {
	c, notes, err := Spec(withPod(fixture(t, "walkthrough.txt", nil)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Metadata, (spec.Metadata{Name: "redis-cluster-gitops", Namespace: "shop"}); !reflect.DeepEqual(got, want) {
		t.Errorf("metadata = %+v, want %+v", got, want)
	}
	if got, want := *c.Spec.Adopt, (spec.Adopt{StatefulSet: "redis-cluster", Port: 6379}); got != want {
		t.Errorf("adopt = %+v, want %+v", got, want)
	}
	if c.Spec.Masters != 3 || *c.Spec.ReplicasPerMaster != 1 {
		t.Errorf("masters %d, replicasPerMaster %d; want 3 and 1", c.Spec.Masters, *c.Spec.ReplicasPerMaster)
	}
	if got, want := c.Spec.Redis.Image, "redis:6.0.9"; got != want {
		t.Errorf("image = %q, want the pod's %q", got, want)
	}
	if got, want := c.Spec.Redis.NodeTimeout.Duration, 15*time.Second; got != want {
		t.Errorf("nodeTimeout = %s, want %s", got, want)
	}
	wantConfig := map[string]string{
		"appendonly":                    "yes",
		"appendfsync":                   "everysec",
		"save":                          "3600 1 300 100 60 10000",
		"maxmemory":                     "0",
		"maxmemory-policy":              "noeviction",
		"cluster-require-full-coverage": "no",
	}
	if got := c.Spec.Redis.Config; !reflect.DeepEqual(got, wantConfig) {
		t.Errorf("config = %v\nwant %v", got, wantConfig)
	}
	if got, want := c.Spec.Storage.Size, "200Mi"; got != want {
		t.Errorf("storage.size = %q, want %q", got, want)
	}
	if c.Spec.Auth != nil {
		t.Errorf("auth = %+v, want none: the cluster has no password", c.Spec.Auth)
	}
	if got, want := noteSubjects(notes), []string{"setting cluster-announce-ip"}; !reflect.DeepEqual(got, want) {
		t.Errorf("notes = %v, want %v", notes, want)
	}
	c.SetDefaults()
	if errs := c.Validate(); len(errs) > 0 {
		t.Errorf("the spec does not validate: %v", errs)
	}
}

// TestSpecChoices: what Spec carries over and what it says it could not,
// case by case.
func TestSpecChoices(t *testing.T) {
	tests := []struct {
		name string
		live Live
		opts Options
		// check looks at the spec; notes are the subjects of the notes.
		check func(t *testing.T, c *spec.RedisCluster)
		notes []string
	}{{
		name: "password Secret",
		live: func() Live {
			l := withPod(fixture(t, "walkthrough.txt", func(_ int, n *Node) { n.Config["requirepass"], n.Config["masterauth"] = "s3cret", "s3cret" }))
			l.Auth = &spec.SecretRef{Name: "redis-auth", Key: "password"}
			return l
		}(),
		check: func(t *testing.T, c *spec.RedisCluster) {
			if c.Spec.Auth == nil || c.Spec.Auth.SecretRef != (spec.SecretRef{Name: "redis-auth", Key: "password"}) {
				t.Errorf("auth = %+v, want the Secret redis-auth/password", c.Spec.Auth)
			}
		},
		notes: []string{"setting cluster-announce-ip"},
	}, {
		name: "no pod: image from INFO, names from the options",
		live: fixture(t, "walkthrough.txt", nil),
		opts: Options{Name: "cache", Namespace: "prod", StatefulSet: "old-redis"},
		check: func(t *testing.T, c *spec.RedisCluster) {
			if c.Spec.Redis.Image != "redis:7.0.15" || c.Metadata.Name != "cache" || c.Metadata.Namespace != "prod" || c.Spec.Adopt.StatefulSet != "old-redis" {
				t.Errorf("image %q, cluster %s, adopt %+v", c.Spec.Redis.Image, c.Key(), c.Spec.Adopt)
			}
			if c.Spec.Storage.Size != "" {
				t.Errorf("storage.size = %q, want the default (unset)", c.Spec.Storage.Size)
			}
		},
		notes: []string{"setting cluster-announce-ip", "pod"},
	}, {
		name: "uneven replicas: the most common count",
		live: fixture(t, "uneven.txt", nil),
		opts: Options{StatefulSet: "redis-cluster"},
		check: func(t *testing.T, c *spec.RedisCluster) {
			if c.Spec.Masters != 4 || *c.Spec.ReplicasPerMaster != 1 {
				t.Errorf("masters %d, replicas %d; want 4 and 1", c.Spec.Masters, *c.Spec.ReplicasPerMaster)
			}
		},
		notes: []string{"replicas", "node redis-cluster-8 (10.244.0.17:6379)", "setting cluster-announce-ip", "pod"},
	}, {
		name: "settings: units, aliases, unknown, unsafe paths; no password anywhere",
		live: withPod(fixture(t, "walkthrough.txt", func(i int, n *Node) {
			n.Config["maxmemory"] = "1073741824"
			n.Config["maxmemory-policy"] = "allkeys-lru"
			n.Config["hash-max-listpack-entries"], n.Config["hash-max-ziplist-entries"] = "1024", "1024"
			n.Config["some-future-setting"] = "on"
			n.Config["aclfile"] = "/conf/users.acl"
			n.Config["requirepass"] = "hunter2"
			n.Config["cluster-node-timeout"] = "5000"
			if i == 2 {
				n.Config["maxmemory-policy"] = "volatile-lru"
			}
		})),
		check: func(t *testing.T, c *spec.RedisCluster) {
			cfg := c.Spec.Redis.Config
			if cfg["maxmemory"] != "1gb" || cfg["maxmemory-policy"] != "allkeys-lru" || cfg["hash-max-listpack-entries"] != "1024" {
				t.Errorf("config = %v", cfg)
			}
			for _, k := range []string{"hash-max-ziplist-entries", "some-future-setting", "aclfile", "requirepass"} {
				if _, ok := cfg[k]; ok {
					t.Errorf("config has %s", k)
				}
			}
			if c.Spec.Redis.NodeTimeout.Duration != 5*time.Second {
				t.Errorf("nodeTimeout = %s, want 5s", c.Spec.Redis.NodeTimeout)
			}
		},
		notes: []string{"setting aclfile", "setting cluster-announce-ip", "settings some-future-setting", "setting maxmemory-policy"},
	}, {
		name: "modules and versions",
		live: fixture(t, "walkthrough.txt", func(i int, n *Node) {
			n.Modules = []string{"search"}
			if i == 1 {
				n.Version = "7.0.11"
			}
		}),
		opts:  Options{StatefulSet: "redis-cluster"},
		notes: []string{"setting cluster-announce-ip", "version", "module search", "pod"},
	}, {
		name: "resources from the container",
		live: func() Live {
			l := withPod(fixture(t, "walkthrough.txt", nil))
			l.Pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi"), "nvidia.com/gpu": resource.MustParse("1")},
			}
			return l
		}(),
		check: func(t *testing.T, c *spec.RedisCluster) {
			want := spec.Resources{Requests: map[string]string{"cpu": "500m", "memory": "1Gi"}, Limits: map[string]string{"memory": "2Gi"}}
			if !reflect.DeepEqual(c.Spec.Resources, want) {
				t.Errorf("resources = %+v, want %+v", c.Spec.Resources, want)
			}
		},
		notes: []string{"setting cluster-announce-ip", "resources"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, notes, err := Spec(tt.live, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
			if got := noteSubjects(notes); !reflect.DeepEqual(got, tt.notes) {
				t.Errorf("notes:\n%s\nwant subjects %q", joinNotes(notes), tt.notes)
			}
			for _, n := range notes {
				if strings.Contains(n.String(), "hunter2") || strings.Contains(n.String(), "s3cret") {
					t.Errorf("a note shows the password: %s", n)
				}
			}
			c.SetDefaults()
			if errs := c.Validate(); len(errs) > 0 {
				t.Errorf("the spec does not validate: %v", errs)
			}
		})
	}
}

// TestSpecRefuses: a cluster that cannot be adopted is refused with the
// node and the reason, and no spec.
func TestSpecRefuses(t *testing.T) {
	tests := []struct {
		name string
		live Live
		want []string // each in the error, in order
		// settling: every problem passes once gossip has spread
		settling bool
	}{{
		name: "a node answers nothing",
		live: fixture(t, "walkthrough.txt", func(i int, n *Node) {
			if i == 4 {
				*n = Node{Addr: n.Addr, Pod: n.Pod, Err: errors.New("dial tcp 10.244.0.15:6379: connect: connection refused")}
			}
		}),
		want: []string{"node redis-cluster-4 (10.244.0.15:6379): does not answer: dial tcp"},
	}, {
		name: "slots not covered",
		live: fixture(t, "uncovered.txt", nil),
		want: []string{"slots 5461-5560 are served by no master"},
	}, {
		name: "an open slot",
		live: fixture(t, "migrating.txt", nil),
		want: []string{"node redis-cluster-0 (10.244.0.11:6379): slot 100 is open (migrating to a1e2d3c4)", "node redis-cluster-1 (10.244.0.12:6379): slot 100 is open (importing from e7d1eecc)"},
	}, {
		name: "a failed node",
		live: fixture(t, "failed.txt", nil),
		want: []string{"node redis-cluster-5 (10.244.0.16:6379): is flagged fail by redis-cluster-0 (10.244.0.11:6379)"},
	}, {
		name: "Redis 5",
		live: fixture(t, "walkthrough.txt", func(i int, n *Node) { n.Version = "5.0.14" }),
		want: []string{"node redis-cluster-0 (10.244.0.11:6379): runs Redis \"5.0.14\"; adoption needs Redis 6 or later"},
	}, {
		name: "cluster mode off",
		live: Live{Port: 6379, Nodes: []Node{{Addr: "10.0.0.1:6379", Version: "7.0.15", Config: map[string]string{"cluster-enabled": "no"}}}},
		want: []string{"node 10.0.0.1:6379: cluster mode is off"},
	}, {
		name: "TLS",
		live: fixture(t, "walkthrough.txt", func(i int, n *Node) { n.Config["tls-port"] = "6380" }),
		want: []string{"node redis-cluster-0 (10.244.0.11:6379): serves TLS (tls-port 6380", "adopting a TLS cluster is out of scope"},
	}, {
		name: "two masters",
		live: fixture(t, "two.txt", nil),
		want: []string{"has 2 master(s) owning slots; a RedisCluster has at least 3"},
	}, {
		name: "nodes disagree on slot owners",
		live: fixture(t, "walkthrough.txt", func(i int, n *Node) {
			if i == 2 {
				n.View[0].Slots = []topology.SlotRange{{Start: 0, End: 5459}}
				n.View[1].Slots = []topology.SlotRange{{Start: 5460, End: 10922}}
			}
		}),
		want:     []string{"node redis-cluster-2 (10.244.0.13:6379): disagrees with redis-cluster-0 (10.244.0.11:6379) on who owns slot 5460"},
		settling: true,
	}, {
		name: "a replica's role not known everywhere yet",
		live: fixture(t, "walkthrough.txt", func(i int, n *Node) {
			if i == 1 {
				n.View[3].Flags, n.View[3].MasterID = []string{"master"}, ""
			}
		}),
		want:     []string{"node redis-cluster-1 (10.244.0.12:6379): disagrees with redis-cluster-0 (10.244.0.11:6379): node redis-cluster-3 (10.244.0.14:6379) is a replica of redis-cluster-2 (10.244.0.13:6379) here, a master there"},
		settling: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Spec(tt.live, Options{StatefulSet: "redis-cluster"})
			var refused *RefusedError
			if !errors.As(err, &refused) || c != nil {
				t.Fatalf("Spec = %v, %v; want a refusal", c, err)
			}
			if got := refused.Settling(); got != tt.settling {
				t.Errorf("Settling() = %v, want %v", got, tt.settling)
			}
			msg := err.Error()
			at := 0
			for _, w := range tt.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error:\n%s\nlacks (in order) %q", msg, w)
				}
				at += i + len(w)
			}
		})
	}
}

func noteSubjects(notes []Note) []string {
	var out []string
	for _, n := range notes {
		out = append(out, n.Subject)
	}
	return out
}

func joinNotes(notes []Note) string {
	var b strings.Builder
	for _, n := range notes {
		b.WriteString("  " + n.String() + "\n")
	}
	return b.String()
}
