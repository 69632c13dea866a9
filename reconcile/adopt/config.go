package adopt

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis-gitops/redis-gitops/spec"
)

// carried are the settings every adopted spec states, default or not: the
// ones that decide whether an acknowledged write survives a restart and
// what Redis does when memory runs out. appendonly especially: without it
// in spec.redis.config the project writes "appendonly yes", which is not
// Redis's default.
var carried = []string{"appendonly", "appendfsync", "save", "maxmemory", "maxmemory-policy"}

// redisDefaults are the values CONFIG GET * returns on a redis-server
// 7.0.15 started with no configuration (save, bind, port and
// protected-mode as Redis sets them without arguments; dir is the working
// directory, managed anyway). A setting whose value differs is carried
// into spec.redis.config, unless the project manages it.
var redisDefaults = map[string]string{
	"acl-pubsub-default":                  "resetchannels",
	"aclfile":                             "",
	"acllog-max-len":                      "128",
	"active-defrag-cycle-max":             "25",
	"active-defrag-cycle-min":             "1",
	"active-defrag-ignore-bytes":          "104857600",
	"active-defrag-max-scan-fields":       "1000",
	"active-defrag-threshold-lower":       "10",
	"active-defrag-threshold-upper":       "100",
	"active-expire-effort":                "1",
	"activedefrag":                        "no",
	"activerehashing":                     "yes",
	"always-show-logo":                    "no",
	"aof-disable-auto-gc":                 "no",
	"aof-load-truncated":                  "yes",
	"aof-rewrite-incremental-fsync":       "yes",
	"aof-timestamp-enabled":               "no",
	"aof-use-rdb-preamble":                "yes",
	"aof_rewrite_cpulist":                 "",
	"appenddirname":                       "appendonlydir",
	"appendfilename":                      "appendonly.aof",
	"appendfsync":                         "everysec",
	"appendonly":                          "no",
	"auto-aof-rewrite-min-size":           "67108864",
	"auto-aof-rewrite-percentage":         "100",
	"bgsave_cpulist":                      "",
	"bind":                                "* -::*",
	"bind-source-addr":                    "",
	"bio_cpulist":                         "",
	"busy-reply-threshold":                "5000",
	"client-output-buffer-limit":          "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
	"client-query-buffer-limit":           "1073741824",
	"cluster-allow-pubsubshard-when-down": "yes",
	"cluster-allow-reads-when-down":       "no",
	"cluster-allow-replica-migration":     "yes",
	"cluster-announce-bus-port":           "0",
	"cluster-announce-hostname":           "",
	"cluster-announce-ip":                 "",
	"cluster-announce-port":               "0",
	"cluster-announce-tls-port":           "0",
	"cluster-config-file":                 "nodes.conf",
	"cluster-enabled":                     "no",
	"cluster-link-sendbuf-limit":          "0",
	"cluster-migration-barrier":           "1",
	"cluster-node-timeout":                "15000",
	"cluster-port":                        "0",
	"cluster-preferred-endpoint-type":     "ip",
	"cluster-replica-no-failover":         "no",
	"cluster-replica-validity-factor":     "10",
	"cluster-require-full-coverage":       "yes",
	"cluster-slave-no-failover":           "no",
	"cluster-slave-validity-factor":       "10",
	"crash-log-enabled":                   "yes",
	"crash-memcheck-enabled":              "yes",
	"daemonize":                           "no",
	"databases":                           "16",
	"dbfilename":                          "dump.rdb",
	"dir":                                 "",
	"disable-thp":                         "yes",
	"dynamic-hz":                          "yes",
	"enable-debug-command":                "no",
	"enable-module-command":               "no",
	"enable-protected-configs":            "no",
	"hash-max-listpack-entries":           "512",
	"hash-max-listpack-value":             "64",
	"hash-max-ziplist-entries":            "512",
	"hash-max-ziplist-value":              "64",
	"hll-sparse-max-bytes":                "3000",
	"hz":                                  "10",
	"ignore-warnings":                     "",
	"io-threads":                          "1",
	"io-threads-do-reads":                 "no",
	"jemalloc-bg-thread":                  "yes",
	"latency-monitor-threshold":           "0",
	"latency-tracking":                    "yes",
	"latency-tracking-info-percentiles":   "50 99 99.9",
	"lazyfree-lazy-eviction":              "no",
	"lazyfree-lazy-expire":                "no",
	"lazyfree-lazy-server-del":            "no",
	"lazyfree-lazy-user-del":              "no",
	"lazyfree-lazy-user-flush":            "no",
	"lfu-decay-time":                      "1",
	"lfu-log-factor":                      "10",
	"list-compress-depth":                 "0",
	"list-max-listpack-size":              "-2",
	"list-max-ziplist-size":               "-2",
	"logfile":                             "",
	"loglevel":                            "notice",
	"lua-time-limit":                      "5000",
	"masterauth":                          "",
	"masteruser":                          "",
	"maxclients":                          "10000",
	"maxmemory":                           "0",
	"maxmemory-clients":                   "0",
	"maxmemory-eviction-tenacity":         "10",
	"maxmemory-policy":                    "noeviction",
	"maxmemory-samples":                   "5",
	"min-replicas-max-lag":                "10",
	"min-replicas-to-write":               "0",
	"min-slaves-max-lag":                  "10",
	"min-slaves-to-write":                 "0",
	"no-appendfsync-on-rewrite":           "no",
	"notify-keyspace-events":              "",
	"oom-score-adj":                       "no",
	"oom-score-adj-values":                "0 200 800",
	"pidfile":                             "",
	"port":                                "6379",
	"proc-title-template":                 "{title} {listen-addr} {server-mode}",
	"propagation-error-behavior":          "ignore",
	"protected-mode":                      "yes",
	"proto-max-bulk-len":                  "536870912",
	"rdb-del-sync-files":                  "no",
	"rdb-save-incremental-fsync":          "yes",
	"rdbchecksum":                         "yes",
	"rdbcompression":                      "yes",
	"repl-backlog-size":                   "1048576",
	"repl-backlog-ttl":                    "3600",
	"repl-disable-tcp-nodelay":            "no",
	"repl-diskless-load":                  "disabled",
	"repl-diskless-sync":                  "yes",
	"repl-diskless-sync-delay":            "5",
	"repl-diskless-sync-max-replicas":     "0",
	"repl-ping-replica-period":            "10",
	"repl-ping-slave-period":              "10",
	"repl-timeout":                        "60",
	"replica-announce-ip":                 "",
	"replica-announce-port":               "0",
	"replica-announced":                   "yes",
	"replica-ignore-disk-write-errors":    "no",
	"replica-ignore-maxmemory":            "yes",
	"replica-lazy-flush":                  "no",
	"replica-priority":                    "100",
	"replica-read-only":                   "yes",
	"replica-serve-stale-data":            "yes",
	"replicaof":                           "",
	"requirepass":                         "",
	"sanitize-dump-payload":               "no",
	"save":                                "3600 1 300 100 60 10000",
	"server_cpulist":                      "",
	"set-max-intset-entries":              "512",
	"set-proc-title":                      "yes",
	"shutdown-on-sigint":                  "default",
	"shutdown-on-sigterm":                 "default",
	"shutdown-timeout":                    "10",
	"slave-announce-ip":                   "",
	"slave-announce-port":                 "0",
	"slave-ignore-maxmemory":              "yes",
	"slave-lazy-flush":                    "no",
	"slave-priority":                      "100",
	"slave-read-only":                     "yes",
	"slave-serve-stale-data":              "yes",
	"slaveof":                             "",
	"slowlog-log-slower-than":             "10000",
	"slowlog-max-len":                     "128",
	"socket-mark-id":                      "0",
	"stop-writes-on-bgsave-error":         "yes",
	"stream-node-max-bytes":               "4096",
	"stream-node-max-entries":             "100",
	"supervised":                          "no",
	"syslog-enabled":                      "no",
	"syslog-facility":                     "local0",
	"syslog-ident":                        "redis",
	"tcp-backlog":                         "511",
	"tcp-keepalive":                       "300",
	"timeout":                             "0",
	"tls-auth-clients":                    "yes",
	"tls-ca-cert-dir":                     "",
	"tls-ca-cert-file":                    "",
	"tls-cert-file":                       "",
	"tls-ciphers":                         "",
	"tls-ciphersuites":                    "",
	"tls-client-cert-file":                "",
	"tls-client-key-file":                 "",
	"tls-client-key-file-pass":            "",
	"tls-cluster":                         "no",
	"tls-dh-params-file":                  "",
	"tls-key-file":                        "",
	"tls-key-file-pass":                   "",
	"tls-port":                            "0",
	"tls-prefer-server-ciphers":           "no",
	"tls-protocols":                       "",
	"tls-replication":                     "no",
	"tls-session-cache-size":              "20480",
	"tls-session-cache-timeout":           "300",
	"tls-session-caching":                 "yes",
	"tracking-table-max-keys":             "1000000",
	"unixsocket":                          "",
	"unixsocketperm":                      "0",
	"zset-max-listpack-entries":           "128",
	"zset-max-listpack-value":             "64",
	"zset-max-ziplist-entries":            "128",
	"zset-max-ziplist-value":              "64",
}

// aliases map the old names Redis still answers CONFIG GET * with to the
// name that replaced them. An alias is left out when its new name was read
// too (Redis 7 lists both, with the same value); Redis 6 knows only the
// ziplist names, which are then carried as they are.
var aliases = map[string]string{
	"slave-announce-ip":             "replica-announce-ip",
	"slave-announce-port":           "replica-announce-port",
	"slave-ignore-maxmemory":        "replica-ignore-maxmemory",
	"slave-lazy-flush":              "replica-lazy-flush",
	"slave-priority":                "replica-priority",
	"slave-read-only":               "replica-read-only",
	"slave-serve-stale-data":        "replica-serve-stale-data",
	"slaveof":                       "replicaof",
	"min-slaves-max-lag":            "min-replicas-max-lag",
	"min-slaves-to-write":           "min-replicas-to-write",
	"repl-ping-slave-period":        "repl-ping-replica-period",
	"cluster-slave-no-failover":     "cluster-replica-no-failover",
	"cluster-slave-validity-factor": "cluster-replica-validity-factor",
	"hash-max-ziplist-entries":      "hash-max-listpack-entries",
	"hash-max-ziplist-value":        "hash-max-listpack-value",
	"list-max-ziplist-size":         "list-max-listpack-size",
	"zset-max-ziplist-entries":      "zset-max-listpack-entries",
	"zset-max-ziplist-value":        "zset-max-listpack-value",
}

// silent are managed settings left out without a note: the project sets
// them to what an adopted cluster needs whatever the old value (dir,
// cluster-config-file, bind), they are carried another way
// (cluster-node-timeout; the password, through spec.auth), or the cluster
// was refused over them (cluster-enabled, TLS). Passwords are never
// copied, not even into a note (DESIGN.md, invariant 8).
var silent = []string{
	"dir", "cluster-config-file", "bind", "cluster-node-timeout", "cluster-enabled",
	"requirepass", "masterauth", "user", "replicaof", "slaveof",
}

// projectValues are what the project writes in every node's redis.conf
// for managed settings (reconcile/render's redisConf): an old value equal
// to it loses nothing and needs no note.
var projectValues = map[string]string{
	"port":           "6379",
	"protected-mode": "no",
	"daemonize":      "no",
	"logfile":        "",
	"cluster-port":   "0",
}

// notCarried are settings spec.redis.config would take but that would not
// work on the new pods.
var notCarried = map[string]string{
	"aclfile":        "the ACL file is on the old pods' disks, not in Git; declare the users in spec.users",
	"unixsocket":     "a path on the old pods' filesystem; Redis does not start where it cannot create the socket",
	"unixsocketperm": "goes with unixsocket, which is not carried over",
	"pidfile":        "a path on the old pods' filesystem",
	// With "hostname", MOVED would name hostnames the new nodes do not
	// announce (cluster-announce-hostname is the project's to set).
	"cluster-preferred-endpoint-type": "goes with cluster-announce-hostname, which redis-gitops decides",
}

// settings turns one node's CONFIG GET * into spec.redis.config and notes
// on what it left out. nodeTimeout is cluster-node-timeout.
func settings(config map[string]string) (out map[string]string, nodeTimeout spec.Duration, notes []Note) {
	out = map[string]string{}
	var unknown []string
	for _, k := range sortedKeys(config) {
		v := config[k]
		if canonical, ok := aliases[k]; ok {
			if _, both := config[canonical]; both {
				continue
			}
		}
		if strings.HasPrefix(k, "tls-") || slices.Contains(silent, k) {
			continue
		}
		if why := spec.ManagedRedisConfig(k); why != "" {
			if v == redisDefaults[k] || v == projectValues[k] {
				continue
			}
			notes = append(notes, Note{Subject: "setting " + k, Detail: fmt.Sprintf("%q is not carried over: %s", v, why)})
			continue
		}
		def, known := redisDefaults[k]
		if !known {
			def, known = redisDefaults[aliases[k]]
		}
		switch {
		case notCarried[k] != "":
			if v != def {
				notes = append(notes, Note{Subject: "setting " + k, Detail: fmt.Sprintf("%q is not carried over: %s", v, notCarried[k])})
			}
		case slices.Contains(carried, k):
			out[k] = v
		case !known:
			unknown = append(unknown, k)
		case v != def:
			out[k] = v
		}
	}
	if v, ok := out["maxmemory"]; ok {
		out["maxmemory"] = bytesValue(v)
	}
	ms, err := strconv.ParseInt(config["cluster-node-timeout"], 10, 64)
	switch {
	case err != nil:
		notes = append(notes, Note{Subject: "setting cluster-node-timeout", Detail: fmt.Sprintf("%q is not a number of milliseconds; the spec keeps the default %s", config["cluster-node-timeout"], spec.DefaultNodeTimeout)})
	case ms < spec.MinNodeTimeout.Milliseconds():
		nodeTimeout.Duration = spec.MinNodeTimeout
		notes = append(notes, Note{Subject: "setting cluster-node-timeout", Detail: fmt.Sprintf("%dms is below the least spec.redis.nodeTimeout takes; the spec says %s", ms, spec.MinNodeTimeout)})
	default:
		nodeTimeout.Duration = time.Duration(ms) * time.Millisecond
	}
	if len(unknown) > 0 {
		notes = append(notes, Note{Subject: "settings " + strings.Join(unknown, ", "),
			Detail: "not carried over: this version of redis-gitops does not know their Redis defaults, so it cannot tell whether they were set; add those that were to spec.redis.config"})
	}
	return out, nodeTimeout, notes
}

// bytesValue writes a byte count as people write it in redis.conf ("3gb")
// when it is a whole number of gigabytes, megabytes or kilobytes.
func bytesValue(v string) string {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return v
	}
	for _, u := range []struct {
		size int64
		unit string
	}{{1 << 30, "gb"}, {1 << 20, "mb"}, {1 << 10, "kb"}} {
		if n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.unit
		}
	}
	return v
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
