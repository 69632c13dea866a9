package settings

import (
	"strconv"
	"strings"
)

// NewestMajor is the newest Redis major version with a table of its own.
// A newer or unknown version is planned with this table: CONFIG SET still
// tells, at execution, about a directive a newer Redis made immutable.
const NewestMajor = 7

// restartOnly is, per Redis major version, every directive CONFIG SET
// cannot change: a new value takes effect only when the node restarts
// with the rendered redis.conf. A directive not listed is runtime.
type restartOnly struct {
	// immutable: CONFIG SET answers "can't set immutable config" (7) or
	// "Unsupported CONFIG parameter" (6), whatever the value.
	immutable map[string]bool
	// protected: Redis 7 refuses CONFIG SET with "can't set protected
	// config" unless enable-protected-configs allows it, which is off by
	// default and itself immutable. redis-gitops does not turn it on.
	protected map[string]bool
	// fileOnly: directives of redis.conf that are no config parameter at
	// all (CONFIG GET does not list them, CONFIG SET says "Unknown
	// option"); Redis reads them at start-up only.
	fileOnly map[string]bool
}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

var fileOnly = set("include", "rename-command", "loadmodule", "user")

// tables by major version. The 7 table is what redis-server 7.0.15 refuses,
// checked by TestRestartTableMatchesRedisServer on every run.
var tables = map[int]restartOnly{
	7: {
		immutable: set(
			"aclfile", "always-show-logo", "aof_rewrite_cpulist", "appenddirname",
			"appendfilename", "bgsave_cpulist", "bio_cpulist", "cluster-config-file",
			"cluster-enabled", "cluster-port", "daemonize", "databases",
			"disable-thp", "enable-debug-command", "enable-module-command", "enable-protected-configs",
			"io-threads", "io-threads-do-reads", "logfile", "pidfile",
			"rdbchecksum", "replicaof", "server_cpulist", "set-proc-title",
			"slaveof", "socket-mark-id", "supervised", "syslog-enabled",
			"syslog-facility", "syslog-ident", "tcp-backlog", "unixsocket",
			"unixsocketperm",
		),
		protected: set("dir", "dbfilename"),
		fileOnly:  fileOnly,
	},
	// Redis 6 cannot be run here, so this table is read from the source.
	// Redis 6.0's src/config.c marks these IMMUTABLE_CONFIG in its
	// standardConfig table: aclfile, always-show-logo, aof_rewrite_cpulist,
	// appendfilename, bgsave_cpulist, bio_cpulist, cluster-enabled,
	// daemonize, databases, io-threads, io-threads-do-reads, pidfile, port,
	// rdbchecksum, server_cpulist, supervised, syslog-enabled,
	// syslog-facility, syslog-ident, tcp-backlog, tls-port, unixsocket.
	// Its configSetCommand has no case for bind, cluster-config-file,
	// logfile, replicaof/slaveof and unixsocketperm, which it answers with
	// "Unsupported CONFIG parameter". Redis 6.2 adds set-proc-title and
	// disable-thp (#7381), both immutable; port, tls-port and bind became
	// modifiable only in 7.0 (#8510, merged after 6.2 branched). dir and
	// dbfilename are modifiable in 6: "protected" is new in 7.0.
	6: {
		immutable: set(
			"aclfile", "always-show-logo", "aof_rewrite_cpulist", "appendfilename",
			"bgsave_cpulist", "bind", "bio_cpulist", "cluster-config-file",
			"cluster-enabled", "daemonize", "databases", "disable-thp",
			"io-threads", "io-threads-do-reads", "logfile", "pidfile",
			"port", "rdbchecksum", "replicaof", "server_cpulist",
			"set-proc-title", "slaveof", "supervised", "syslog-enabled",
			"syslog-facility", "syslog-ident", "tcp-backlog", "tls-port",
			"unixsocket", "unixsocketperm",
		),
		fileOnly: fileOnly,
	},
}

// tableFor is the table of major: 6 for Redis 6 and older (the oldest we
// know), NewestMajor for anything newer or unknown.
func tableFor(major int) restartOnly {
	if t, ok := tables[major]; ok {
		return t
	}
	if major > 0 && major < 6 {
		return tables[6]
	}
	return tables[NewestMajor]
}

// NeedsRestart reports whether Redis of the given major version refuses
// to change directive key at runtime, so that a new value needs the node
// to restart. key is matched in lower case, as Redis does.
//
// A directive the table does not know is runtime: it may come from a
// newer Redis or a module, and CONFIG SET will say at execution if it
// cannot change it (the executor then reports it as needing a restart).
func NeedsRestart(major int, key string) bool {
	t := tableFor(major)
	k := strings.ToLower(key)
	return t.immutable[k] || t.protected[k] || t.fileOnly[k]
}

// Classify splits diffs into those CONFIG SET applies at runtime and those
// that need a restart on Redis of the given major version, keeping their
// order.
func Classify(major int, diffs []Diff) (runtime, restart []Diff) {
	for _, d := range diffs {
		if NeedsRestart(major, d.Key) {
			restart = append(restart, d)
		} else {
			runtime = append(runtime, d)
		}
	}
	return runtime, restart
}

// MajorOf is the Redis major version in an image reference
// ("redis:7.0.15", "registry:5000/bitnami/redis:6.2.14-debian-12@sha256:…")
// or in INFO's redis_version ("7.0.15"). A reference with no numeric tag
// ("redis", "redis:latest", "redis:alpine") gives NewestMajor.
func MajorOf(s string) int {
	s, _, _ = strings.Cut(s, "@")
	if i := strings.LastIndex(s, "/"); i >= 0 {
		s = s[i+1:]
	}
	if _, tag, ok := strings.Cut(s, ":"); ok {
		s = tag
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	// A major must end the tag or be followed by ".", "-" or "_":
	// "7alpine" is no version.
	if end == 0 || (end < len(s) && !strings.ContainsRune(".-_", rune(s[end]))) {
		return NewestMajor
	}
	n, err := strconv.Atoi(s[:end])
	if err != nil || n == 0 {
		return NewestMajor
	}
	return n
}
