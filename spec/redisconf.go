package spec

import (
	"slices"
	"strings"
)

// Why each redis.conf directive that redis-gitops manages may not be set in
// spec.redis.config. Keys are lowercase directive names; a name ending in
// "*" covers every directive with that prefix.
var managedRedisConfig = map[string]string{
	"cluster-enabled":          "redis-gitops always runs Redis in cluster mode",
	"cluster-config-file":      "redis-gitops keeps each node's nodes.conf on its data volume",
	"cluster-node-timeout":     "set it with spec.redis.nodeTimeout",
	"port":                     "redis-gitops sets the ports the pods, probes and Services use",
	"cluster-port":             "redis-gitops sets the ports the pods, probes and Services use",
	"bind":                     "redis-gitops binds Redis to the pod's addresses",
	"dir":                      "the data directory is the node's persistent volume",
	"protected-mode":           "redis-gitops turns it off: Kubernetes and spec.auth decide who may connect, and protected mode would refuse the other nodes when there is no password",
	"cluster-announce-*":       "redis-gitops decides the address each node announces",
	"replica-announce-ip":      "redis-gitops decides the address each node announces",
	"replica-announce-port":    "redis-gitops decides the address each node announces",
	"slave-announce-ip":        "redis-gitops decides the address each node announces",
	"slave-announce-port":      "redis-gitops decides the address each node announces",
	"replicaof":                "in a Redis Cluster, redis-gitops assigns replicas with CLUSTER REPLICATE",
	"slaveof":                  "in a Redis Cluster, redis-gitops assigns replicas with CLUSTER REPLICATE",
	"requirepass":              secretsMessage,
	"masterauth":               secretsMessage,
	"masteruser":               "replicas authenticate with the password from spec.auth.secretRef",
	"user":                     secretsMessage,
	"tls-key-file-pass":        secretsMessage,
	"tls-client-key-file-pass": secretsMessage,
	"tls-port":                 tlsMessage,
	"tls-cluster":              tlsMessage,
	"tls-replication":          tlsMessage,
	"tls-cert-file":            tlsMessage,
	"tls-key-file":             tlsMessage,
	"tls-ca-cert-file":         tlsMessage,
	"tls-ca-cert-dir":          tlsMessage,
	"tls-auth-clients":         "set it with spec.tls.clientAuth",
	"tls-client-cert-file":     tlsMessage,
	"tls-client-key-file":      tlsMessage,
	"daemonize":                "Redis must stay in the foreground as the container's main process",
	"logfile":                  "Redis logs to stdout, where Kubernetes collects them; a log file would also fill the data volume",
	"include":                  "redis.conf is rendered from this spec; an included file would not be in Git",
	"rename-command":           "the daemon needs CLUSTER, CONFIG, INFO and MIGRATE under their own names; restrict clients with ACLs instead",
}

// tlsMessage is why the TLS ports, files and modes are not redis.conf
// settings: the daemon, the probes and the Services must agree with them.
const tlsMessage = "set TLS with spec.tls: the daemon, the probes and the Services must use the same ports and certificates as Redis"

// secretsMessage is why no password may be written in a spec: specs live
// in Git (DESIGN.md, invariant 8).
const secretsMessage = "passwords must not be written in Git: put the password in a Secret and reference it with spec.auth.secretRef"

// ManagedRedisConfig returns why directive may not be set in
// spec.redis.config, or "" when it may. directive is lowercase.
func ManagedRedisConfig(directive string) string {
	if why, ok := managedRedisConfig[directive]; ok {
		return why
	}
	for k, why := range managedRedisConfig {
		if prefix, ok := strings.CutSuffix(k, "*"); ok && strings.HasPrefix(directive, prefix) {
			return why
		}
	}
	return ""
}

// knownRedisConfig are the redis.conf directives of Redis 7 (CONFIG GET *
// of redis-server 7.0, and the directives it does not list: include,
// rename-command, user, loadmodule, and a few from 7.2 and 7.4). A setting
// that is not here is accepted, since newer Redis versions add settings,
// unless it is one or two letters away from one that is: that is a typo
// Redis would refuse at start-up, leaving the pod crash-looping.
var knownRedisConfig = []string{
	"acl-pubsub-default", "aclfile", "acllog-max-len", "active-defrag-cycle-max",
	"active-defrag-cycle-min", "active-defrag-ignore-bytes", "active-defrag-max-scan-fields", "active-defrag-threshold-lower",
	"active-defrag-threshold-upper", "active-expire-effort", "activedefrag", "activerehashing",
	"always-show-logo", "aof-disable-auto-gc", "aof-load-truncated", "aof-rewrite-incremental-fsync",
	"aof-timestamp-enabled", "aof-use-rdb-preamble", "aof_rewrite_cpulist", "appenddirname",
	"appendfilename", "appendfsync", "appendonly", "auto-aof-rewrite-min-size",
	"auto-aof-rewrite-percentage", "bgsave_cpulist", "bind", "bind-source-addr",
	"bio_cpulist", "busy-reply-threshold", "client-output-buffer-limit", "client-query-buffer-limit",
	"cluster-allow-pubsubshard-when-down", "cluster-allow-reads-when-down", "cluster-allow-replica-migration", "cluster-announce-bus-port",
	"cluster-announce-hostname", "cluster-announce-human-nodename", "cluster-announce-ip", "cluster-announce-port",
	"cluster-announce-tls-port", "cluster-config-file", "cluster-enabled", "cluster-link-sendbuf-limit",
	"cluster-migration-barrier", "cluster-node-timeout", "cluster-port", "cluster-preferred-endpoint-type",
	"cluster-replica-no-failover", "cluster-replica-validity-factor", "cluster-require-full-coverage", "cluster-slave-no-failover",
	"cluster-slave-validity-factor", "crash-log-enabled", "crash-memcheck-enabled", "daemonize",
	"databases", "dbfilename", "dir", "disable-thp",
	"dynamic-hz", "enable-debug-command", "enable-module-command", "enable-protected-configs",
	"hash-max-listpack-entries", "hash-max-listpack-value", "hash-max-ziplist-entries", "hash-max-ziplist-value",
	"hide-user-data-from-log", "hll-sparse-max-bytes", "hz", "ignore-warnings",
	"include", "io-threads", "io-threads-do-reads", "jemalloc-bg-thread",
	"latency-monitor-threshold", "latency-tracking", "latency-tracking-info-percentiles", "lazyfree-lazy-eviction",
	"lazyfree-lazy-expire", "lazyfree-lazy-server-del", "lazyfree-lazy-user-del", "lazyfree-lazy-user-flush",
	"lfu-decay-time", "lfu-log-factor", "list-compress-depth", "list-max-listpack-size",
	"list-max-ziplist-size", "loadmodule", "locale-collate", "logfile",
	"loglevel", "lua-time-limit", "masterauth", "masteruser",
	"max-new-connections-per-cycle", "max-new-tls-connections-per-cycle", "maxclients", "maxmemory",
	"maxmemory-clients", "maxmemory-eviction-tenacity", "maxmemory-policy", "maxmemory-samples",
	"min-replicas-max-lag", "min-replicas-to-write", "min-slaves-max-lag", "min-slaves-to-write",
	"no-appendfsync-on-rewrite", "notify-keyspace-events", "oom-score-adj", "oom-score-adj-values",
	"pidfile", "port", "proc-title-template", "propagation-error-behavior",
	"protected-mode", "proto-max-bulk-len", "rdb-del-sync-files", "rdb-save-incremental-fsync",
	"rdbchecksum", "rdbcompression", "rename-command", "repl-backlog-size",
	"repl-backlog-ttl", "repl-disable-tcp-nodelay", "repl-diskless-load", "repl-diskless-sync",
	"repl-diskless-sync-delay", "repl-diskless-sync-max-replicas", "repl-ping-replica-period", "repl-ping-slave-period",
	"repl-timeout", "replica-announce-ip", "replica-announce-port", "replica-announced",
	"replica-ignore-disk-write-errors", "replica-ignore-maxmemory", "replica-lazy-flush", "replica-priority",
	"replica-read-only", "replica-serve-stale-data", "replicaof", "requirepass",
	"sanitize-dump-payload", "save", "server_cpulist", "set-max-intset-entries",
	"set-proc-title", "shutdown-on-sigint", "shutdown-on-sigterm", "shutdown-timeout",
	"slave-announce-ip", "slave-announce-port", "slave-ignore-maxmemory", "slave-lazy-flush",
	"slave-priority", "slave-read-only", "slave-serve-stale-data", "slaveof",
	"slowlog-log-slower-than", "slowlog-max-len", "socket-mark-id", "stop-writes-on-bgsave-error",
	"stream-node-max-bytes", "stream-node-max-entries", "supervised", "syslog-enabled",
	"syslog-facility", "syslog-ident", "tcp-backlog", "tcp-keepalive",
	"timeout", "tls-auth-clients", "tls-ca-cert-dir", "tls-ca-cert-file",
	"tls-cert-file", "tls-ciphers", "tls-ciphersuites", "tls-client-cert-file",
	"tls-client-key-file", "tls-client-key-file-pass", "tls-cluster", "tls-dh-params-file",
	"tls-key-file", "tls-key-file-pass", "tls-port", "tls-prefer-server-ciphers",
	"tls-protocols", "tls-replication", "tls-session-cache-size", "tls-session-cache-timeout",
	"tls-session-caching", "tracking-table-max-keys", "unixsocket", "unixsocketperm",
	"user", "zset-max-listpack-entries", "zset-max-listpack-value", "zset-max-ziplist-entries",
	"zset-max-ziplist-value"}

// suggestRedisConfig returns the known directive that directive is
// probably a typo of, or "".
func suggestRedisConfig(directive string) string {
	if slices.Contains(knownRedisConfig, directive) {
		return ""
	}
	return suggest(directive, knownRedisConfig)
}
