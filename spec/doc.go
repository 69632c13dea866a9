// Package spec holds the RedisCluster types users declare in Git: strict
// parsing with file:line:col errors, defaults, validation and the JSON Schema.
//
// # Reading specs
//
// Load walks a repo's cluster path (DefaultPath, "clusters") for *.yaml and
// *.yml files; Parse reads one file. Both return the valid clusters and an
// ErrorList with every problem, each as "file:line:col: path: message". A
// document with an error is left out; the other documents of its file and
// the other files are kept, so one bad spec never stops the others from
// being reconciled.
//
// Decoding is strict: an unknown field (with a "did you mean" hint), a
// field set twice, a value of the wrong type ("expected an integer, got
// string \"three\""), a duration without a unit, or a document of another
// kind is an error. A null value leaves a field unset, so its default
// applies. String fields take only strings, except map values and
// storage.size, which also take bare numbers ("hz: 10", "cpu: 2").
//
// # Defaults
//
// SetDefaults is the one place defaults are applied; its doc lists them,
// and each field's comment gives its own.
//
// # Validation rules
//
//   - apiVersion is redis-gitops.dev/v1alpha1 and kind is RedisCluster.
//   - metadata.name is a DNS-1035 label of at most MaxNameLength (40)
//     characters; metadata.namespace is a DNS-1123 label.
//   - metadata.labels and nodeSelector are valid Kubernetes label keys and
//     values; annotation keys are valid keys and all annotations hold at
//     most 256 KiB. Labels the project sets (ReservedLabelKeys, and any key
//     starting with ReservedPrefix) may not be set; nor annotations under
//     ReservedPrefix.
//   - masters is required, MinMasters (3) to MaxMasters (1000);
//     replicasPerMaster is 0 to MaxReplicasPerMaster (5); the cluster has at
//     most MaxNodes (1000) nodes in all. Above WarnNodes (500) nodes the
//     spec is valid but Warnings advises splitting it into several
//     clusters: the cluster bus's load grows with the square of the nodes.
//   - redis.image is not empty and has no spaces.
//   - redis.config keys are lowercase redis.conf directive names. Managed
//     directives are rejected with the reason (ManagedRedisConfig):
//     cluster-enabled, cluster-config-file, cluster-node-timeout (use
//     redis.nodeTimeout), port, cluster-port, bind, dir, protected-mode,
//     cluster-announce-*, replica-announce-*, replicaof, requirepass,
//     masterauth, masteruser and user (passwords go in a Secret named by
//     auth.secretRef), tls-*-pass, tls-port, tls-cluster, tls-replication,
//     tls-cert-file, tls-key-file, tls-ca-cert-file, tls-ca-cert-dir,
//     tls-client-cert-file, tls-client-key-file, tls-auth-clients (TLS is
//     spec.tls), daemonize, logfile, include, rename-command. A key one or two letters
//     away from a known Redis 7 directive is taken for a typo. Values are
//     one line without control characters.
//   - redis.nodeTimeout is at least 1s, in whole milliseconds.
//   - resources has only cpu and memory, as non-negative Kubernetes
//     quantities, and no request above its limit.
//   - storage.size is a Kubernetes quantity above 0; storageClassName is a
//     DNS-1123 subdomain.
//   - placement.topologyKey and zoneKey are label keys, and differ;
//     antiAffinity is preferred, required or none; tolerations follow
//     Kubernetes' rules (operator Equal or Exists, Exists takes no value,
//     an empty key needs Exists, effect NoSchedule, PreferNoSchedule,
//     NoExecute or empty, tolerationSeconds only with NoExecute and not
//     negative).
//   - auth.secretRef.name is a valid Secret name; its key a valid data key;
//     auth.rotationGracePeriod is 0 to 24h.
//   - tls.secretRef.name is a valid Secret name; tls.clientAuth is none,
//     optional or required; tls.expiryWarning is positive; tls does not go
//     with externalAccess type NodePort or LoadBalancer (yet).
//   - externalAccess.type is NodePort, LoadBalancer or Hostname;
//     addressType (ExternalIP or InternalIP) only with NodePort; hostname,
//     required with Hostname and only there, contains {pod} and expands to
//     a DNS name; serviceAnnotations (not with Hostname) have valid keys.
//   - with monitoring.enabled: monitoring.image is not empty and has no
//     spaces; port is 1024 to 65535 and not 6379, 6380 or 16379; resources
//     follow the rules of resources.
//   - users: each name is unique, letters, digits, ".", "_" and "-", at
//     most MaxUserNameLength (64), and not default or readiness
//     (ReservedUserNames); at least one passwordSecretRef, each a valid
//     Secret name and key, none twice; at least one command rule, each
//     +/-command, +/-command|subcommand, +/-@category of ACLCategories,
//     allcommands or nocommands; keys and channels are single words
//     without Redis's prefix (~, %R~, &), none twice, "*" alone. Whether a
//     command exists is checked against each node when the daemon plans.
//   - reconcile.schedule parses with ParseSchedule, and an "@every" is at
//     least MinScheduleInterval (1m); drift is correct or report.
//   - migration.keysPerBatch is 1 to 100000; parallelSlots is 1 to 64;
//     profile is gentle or fast; latencyBudget is 500µs to 1s.
//   - Across a repo, each namespace/name is declared once.
//
// # JSON Schema
//
// redis-cluster.schema.json, returned by Schema, is generated from these
// types, their doc comments and the validation limits by a test, which
// fails when the committed file is stale. After changing them, run
// "go generate ./spec" (or "go test ./spec -run TestSchema -update").
package spec
