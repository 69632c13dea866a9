package render

import (
	"strings"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/spec"
)

const managedConf = `# Rendered by redis-gitops; edit the RedisCluster in Git instead.
port 6379
cluster-enabled yes
cluster-config-file /data/nodes.conf
cluster-node-timeout 15000
dir /data
protected-mode no
`

func TestRedisConf(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *spec.RedisCluster)
		want   string
	}{{
		name: "defaults",
		want: managedConf + "appendonly yes\n",
	}, {
		name: "node timeout in milliseconds",
		change: func(c *spec.RedisCluster) {
			c.Spec.Redis.NodeTimeout = spec.Duration{Duration: 2500 * time.Millisecond}
		},
		want: strings.Replace(managedConf, "15000", "2500", 1) + "appendonly yes\n",
	}, {
		name: "user config sorted after the managed settings",
		change: func(c *spec.RedisCluster) {
			c.Spec.Redis.Config = map[string]string{
				"maxmemory-policy": "allkeys-lru",
				"maxmemory":        "1gb",
				"save":             "3600 1 300 100",
			}
		},
		want: managedConf + "appendonly yes\nmaxmemory 1gb\nmaxmemory-policy allkeys-lru\nsave 3600 1 300 100\n",
	}, {
		name:   "appendonly set by the user",
		change: func(c *spec.RedisCluster) { c.Spec.Redis.Config = map[string]string{"appendonly": "no", "save": ""} },
		want:   managedConf + "appendonly no\nsave \"\"\n",
	}, {
		name: "auth include last",
		change: func(c *spec.RedisCluster) {
			c.Spec.Auth = &spec.Auth{SecretRef: spec.SecretRef{Name: "redis", Key: "password"}}
		},
		want: managedConf + "appendonly yes\nuser readiness on nopass -@all +ping\ninclude /auth/auth.conf\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCluster()
			if tt.change != nil {
				tt.change(c)
			}
			got, err := redisConf(c)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("redis.conf:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestRedisConfRejectsInjection(t *testing.T) {
	tests := []struct {
		name   string
		config map[string]string
		want   string
	}{
		{"newline in value", map[string]string{"maxmemory": "1gb\nrequirepass x"}, "control character"},
		{"carriage return in value", map[string]string{"maxmemory": "1gb\rport 1"}, "control character"},
		{"space in key", map[string]string{"maxmemory 1gb\nport": "1"}, "not a redis.conf directive name"},
		{"empty key", map[string]string{"": "x"}, "not a redis.conf directive name"},
		{"same key twice by case", map[string]string{"maxmemory": "1gb", "MAXMEMORY": "2gb"}, "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCluster()
			c.Spec.Redis.Config = tt.config
			_, err := redisConf(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("redisConf error = %v, want one containing %q", err, tt.want)
			}
			if _, err := Render(c); err == nil {
				t.Error("Render succeeded, want the same error")
			}
		})
	}
}

func TestConfigHashFollowsRedisConf(t *testing.T) {
	hash := func(c *spec.RedisCluster) string {
		objs := mustRender(t, c)
		if _, onTemplate := objs.StatefulSet.Spec.Template.Annotations[AnnotationConfigHash]; onTemplate {
			t.Fatal("the config hash is on the pod template: every setting change would roll the pods")
		}
		got := objs.StatefulSet.Annotations[AnnotationConfigHash]
		conf := objs.ConfigMap.Data[configFile]
		if want := configHash(conf); got != want {
			t.Fatalf("config hash %q is not the hash of the ConfigMap's redis.conf (%q)", got, want)
		}
		return got
	}
	c := testCluster()
	before := hash(c)
	if again := hash(testCluster()); again != before {
		t.Errorf("same cluster, different hash: %s, %s", before, again)
	}
	c.Spec.Redis.Config = map[string]string{"maxmemory": "1gb"}
	if after := hash(c); after == before {
		t.Error("config hash did not change with redis.conf")
	}
}
