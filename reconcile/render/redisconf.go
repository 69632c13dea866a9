package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/redis-gitops/redis-gitops/spec"
)

// Paths inside the redis container. The ConfigMap is mounted at /config,
// not under /etc: the sandbox runs containers as host processes and cannot
// create mount points inside host directories such as /etc.
const (
	configDir      = "/config"
	configFile     = "redis.conf"
	dataDir        = "/data"
	authDir        = "/auth"
	authFile       = "auth.conf"
	nodesConfFile  = "nodes.conf"
	configFilePath = configDir + "/" + configFile
	authFilePath   = authDir + "/" + authFile
)

// Ports of every Redis node.
const (
	// ClientPort is where each node serves clients and admin commands.
	ClientPort = 6379
	// BusPort is the cluster bus: the client port + 10000, the offset Redis
	// Cluster uses when cluster-port is not set.
	BusPort = 16379
)

// configKey is what a redis.conf directive name looks like. Anything else,
// and any value with a control character, could smuggle a second directive
// (a newline) past validation's list of managed keys.
var configKey = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// redisConf is the node's redis.conf: the settings the project manages,
// (with spec.tls, its ports and files), then the user's spec.redis.config
// sorted by key, then, with auth, the
// include of the file the init container writes. The text is
// deterministic: the same cluster gives the same bytes, and so the same
// config hash.
func redisConf(c *spec.RedisCluster) (string, error) {
	var b strings.Builder
	line := func(key, value string) { fmt.Fprintf(&b, "%s %s\n", key, value) }

	b.WriteString("# Rendered by redis-gitops; edit the RedisCluster in Git instead.\n")
	if c.Spec.TLS == nil {
		line("port", fmt.Sprint(ClientPort))
	}
	line("cluster-enabled", "yes")
	line("cluster-config-file", dataDir+"/"+nodesConfFile)
	line("cluster-node-timeout", fmt.Sprint(c.Spec.Redis.NodeTimeout.Milliseconds()))
	line("dir", dataDir)
	// Kubernetes (Services, NetworkPolicies) and auth govern who may
	// connect; protected mode would refuse every peer when no password is set.
	line("protected-mode", "no")
	if c.Spec.TLS != nil {
		if err := tlsConf(c, line); err != nil {
			return "", err
		}
		// port, tls-port, tls-cluster and tls-replication: the stage.
		line("include", listenFilePath)
	}

	user := make(map[string]string, len(c.Spec.Redis.Config))
	for k, v := range c.Spec.Redis.Config {
		key := strings.ToLower(k) // Redis matches directive names without case
		if !configKey.MatchString(key) {
			return "", fmt.Errorf("spec.redis.config: key %q is not a redis.conf directive name", k)
		}
		if strings.ContainsFunc(v, isControl) {
			return "", fmt.Errorf("spec.redis.config.%s: value contains a control character", k)
		}
		if _, dup := user[key]; dup {
			return "", fmt.Errorf("spec.redis.config: key %q is given twice (keys are case-insensitive)", k)
		}
		user[key] = v
	}
	if _, ok := user["appendonly"]; !ok {
		// Without an AOF a restarted node comes back with its last RDB
		// snapshot only, losing every write acknowledged since.
		line("appendonly", "yes")
	}
	for _, k := range slices.Sorted(maps.Keys(user)) {
		// A value is the rest of its line, as in redis.conf ("save": "3600
		// 1 300 100" is one directive with four arguments); an empty value
		// is the empty argument.
		v := user[k]
		if v == "" {
			v = `""`
		}
		line(k, v)
	}
	if hasUsers(c) {
		// spec.users as the daemon last wrote them (see users.go).
		line("include", usersInclude)
	}
	if c.Spec.Auth != nil {
		// The readiness probe's user: no password, and PING only.
		line("user", probeUser+" on nopass -@all +ping")
		// Last, so that nothing above can override the password.
		line("include", authFilePath)
	}
	return b.String(), nil
}

// configHash is the value of AnnotationConfigHash for a redis.conf.
func configHash(conf string) string {
	sum := sha256.Sum256([]byte(conf))
	return hex.EncodeToString(sum[:])
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
