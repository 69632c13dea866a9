package spec

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// invalidSpecs maps each file of testdata/invalid to an error it must
// produce, as "line:col: path: message" (a prefix of the message is
// enough). No document of these files is valid.
var invalidSpecs = map[string]string{
	// Decoding: unknown fields, types, YAML.
	"unknown-field.yaml":           `8:3: spec.replicas: unknown field; did you mean "replicasPerMaster"?`,
	"unknown-field-no-hint.yaml":   `9:5: spec.redis.flavour: unknown field; spec.redis has image, config, nodeTimeout`,
	"unknown-top-level-field.yaml": `8:1: status: unknown field; a RedisCluster has apiVersion, kind, metadata, spec`,
	"auth-password-inline.yaml":    `9:5: spec.auth.password: unknown field; passwords must not be written in Git`,
	"tls-secret-key.yaml":          `11:7: spec.tls.secretRef.key: unknown field`,
	"tls-no-secret-name.yaml":      `9:5: spec.tls.secretRef.name: is required: the Secret, in the cluster's namespace, with tls.crt, tls.key and ca.crt`,
	"tls-client-auth-unknown.yaml": `11:17: spec.tls.clientAuth: must be none, optional or required; got "always"`,
	"tls-expiry-warning-zero.yaml": `11:20: spec.tls.expiryWarning: must be positive; got 0 (leave it out for the default, 720h)`,
	"tls-external-nodeport.yaml":   `9:5: spec.tls: does not work with externalAccess type NodePort yet`,
	"config-tls-cert-file.yaml":    `10:7: spec.redis.config["tls-cert-file"]: cannot be set: set TLS with spec.tls`,
	"masters-not-a-number.yaml":    `7:12: spec.masters: expected an integer, got string "three"`,
	"masters-quoted.yaml":          `7:12: spec.masters: expected an integer, got string "3"; write the number without quotes`,
	"integer-overflow.yaml":        `7:12: spec.masters: integer 99999999999999999999 is out of range`,
	"spec-not-a-mapping.yaml":      `6:7: spec: expected a mapping of fields, got integer 3`,
	"tolerations-not-a-list.yaml":  `10:7: spec.placement.tolerations: expected a list, got a mapping`,
	"label-boolean.yaml":           `7:15: metadata.labels["critical"]: expected a string, got boolean true; quote it ("true")`,
	"retain-not-bool.yaml":         `9:22: spec.storage.retainOnScaleIn: expected true or false, got string "false"`,
	"suspend-yes.yaml":             `9:14: spec.reconcile.suspend: expected true or false, got string "yes"`,
	"node-timeout-number.yaml":     `9:18: spec.redis.nodeTimeout: expected a duration such as "15s", got integer 15; add the unit`,
	"node-timeout-words.yaml":      `9:18: spec.redis.nodeTimeout: "15 seconds" is not a duration`,
	"field-twice.yaml":             `9:3: spec.masters: set twice (first at 7:3)`,
	"config-no-value.yaml":         `10:7: spec.redis.config["save"]: has no value; write "" for an empty string`,
	"merge-key.yaml":               `11:5: spec.redis.<<: YAML merge keys (<<) are not supported`,
	"yaml-syntax.yaml":             `8: invalid YAML: mapping values are not allowed in this context`,
	"yaml-tab.yaml":                `7: invalid YAML: found character that cannot start any token`,
	"not-a-mapping.yaml":           `1:1: expected a RedisCluster (a mapping with apiVersion, kind, metadata and spec), got a list`,

	// Type and metadata.
	"apiversion-unsupported.yaml": `1:13: apiVersion: "redis-gitops.dev/v1beta1" is not supported; this version of redis-gitops reads redis-gitops.dev/v1alpha1`,
	"kind-missing.yaml":           `1:1: kind: is required`,
	"kind-other.yaml":             `2:7: kind: this is a "ConfigMap", not a RedisCluster`,
	"name-missing.yaml":           `4:3: metadata.name: is required`,
	"name-invalid.yaml":           `4:9: metadata.name: "Cache_1" is not a valid name: a DNS-1035 label`,
	"name-starts-with-digit.yaml": `4:9: metadata.name: "1cache" is not a valid name`,
	"name-too-long.yaml":          `4:9: metadata.name: is 46 characters; at most 40`,
	"namespace-invalid.yaml":      `5:14: metadata.namespace: "Prod.EU" is not a valid namespace`,
	"label-reserved.yaml":         `7:5: metadata.labels["app.kubernetes.io/instance"]: redis-gitops sets this label`,
	"annotation-reserved.yaml":    `7:5: metadata.annotations["redis-gitops.dev/config-hash"]: keys starting with redis-gitops.dev/ are set by redis-gitops`,
	"cluster-twice.yaml":          `13:9: metadata.name: cluster default/cache is already declared at testdata/invalid/cluster-twice.yaml:4:9`,

	// Counts.
	"masters-missing.yaml":   `7:3: spec.masters: is required`,
	"masters-negative.yaml":  `7:12: spec.masters: must be at least 3, the fewest masters a Redis Cluster can be created with; got -3`,
	"masters-too-few.yaml":   `7:12: spec.masters: must be at least 3`,
	"masters-too-many.yaml":  `7:12: spec.masters: must be at most 1000; got 1001`,
	"nodes-too-many.yaml":    `8:22: spec.replicasPerMaster: makes 1500 nodes (500 masters with 2 replicas each)`,
	"replicas-negative.yaml": `8:22: spec.replicasPerMaster: must be between 0 and 5; got -1`,
	"replicas-too-many.yaml": `8:22: spec.replicasPerMaster: must be between 0 and 5; got 6`,

	// redis.
	"image-empty.yaml":                 `9:12: spec.redis.image: must not be empty`,
	"config-port.yaml":                 `10:7: spec.redis.config["port"]: cannot be set: redis-gitops sets the ports`,
	"config-uppercase-managed.yaml":    `10:7: spec.redis.config["Port"]: cannot be set: redis-gitops sets the ports`,
	"config-requirepass.yaml":          `10:7: spec.redis.config["requirepass"]: cannot be set: passwords must not be written in Git: put the password in a Secret and reference it with spec.auth.secretRef`,
	"config-masterauth.yaml":           `10:7: spec.redis.config["masterauth"]: cannot be set: passwords must not be written in Git`,
	"config-cluster-node-timeout.yaml": `10:7: spec.redis.config["cluster-node-timeout"]: cannot be set: set it with spec.redis.nodeTimeout`,
	"config-cluster-announce.yaml":     `10:7: spec.redis.config["cluster-announce-hostname"]: cannot be set: redis-gitops decides the address each node announces`,
	"config-uppercase.yaml":            `10:7: spec.redis.config["MaxMemory"]: write Redis settings in lowercase: "maxmemory"`,
	"config-typo.yaml":                 `10:7: spec.redis.config["maxmemory-polcy"]: is not a Redis setting; did you mean "maxmemory-policy"?`,
	"config-newline.yaml":              `10:7: spec.redis.config["appendonly"]: must be a single line`,
	"config-not-a-directive.yaml":      `10:7: spec.redis.config["max memory"]: is not a redis.conf directive name`,
	"node-timeout-short.yaml":          `9:18: spec.redis.nodeTimeout: must be at least 1s; got 500ms`,
	"node-timeout-zero.yaml":           `9:18: spec.redis.nodeTimeout: must be at least 1s; got 0 (leave it out for the default, 15s)`,

	// resources and storage.
	"resources-gpu.yaml":                `10:7: spec.resources.limits["nvidia.com/gpu"]: unknown resource; only cpu and memory can be set`,
	"resources-request-over-limit.yaml": `10:7: spec.resources.requests["memory"]: 8Gi is more than the limit 4Gi`,
	"resources-bad-quantity.yaml":       `10:7: spec.resources.requests["cpu"]: "lots" is not a Kubernetes quantity`,
	"resources-negative.yaml":           `10:7: spec.resources.requests["cpu"]: must not be negative; got -1`,
	"storage-size-zero.yaml":            `9:11: spec.storage.size: must be more than 0; got 0Gi`,
	"storage-size-bad.yaml":             `9:11: spec.storage.size: "ten gigs" is not a Kubernetes quantity`,
	"storage-class-invalid.yaml":        `9:23: spec.storage.storageClassName: "Fast_SSD" is not a valid StorageClass name`,

	// placement.
	"anti-affinity-unknown.yaml":                `9:19: spec.placement.antiAffinity: must be preferred, required or none; got "always"`,
	"zone-key-same-as-topology.yaml":            `10:14: spec.placement.zoneKey: must differ from topologyKey (topology.kubernetes.io/zone)`,
	"topology-key-invalid.yaml":                 `9:18: spec.placement.topologyKey: "my zone" is not a valid label key`,
	"node-selector-value-invalid.yaml":          `10:7: spec.placement.nodeSelector["pool"]: "redis nodes" is not a valid label value`,
	"toleration-exists-with-value.yaml":         `12:16: spec.placement.tolerations[0].value: must be empty when operator is Exists`,
	"toleration-empty-key-equal.yaml":           `10:19: spec.placement.tolerations[0].operator: must be Exists when key is empty`,
	"toleration-effect-unknown.yaml":            `12:17: spec.placement.tolerations[0].effect: must be NoSchedule, PreferNoSchedule, NoExecute or empty (every effect); got "NoRun"`,
	"toleration-operator-unknown.yaml":          `11:19: spec.placement.tolerations[0].operator: must be Equal or Exists; got "In"`,
	"toleration-seconds-without-noexecute.yaml": `13:28: spec.placement.tolerations[0].tolerationSeconds: applies only with effect NoExecute`,

	// auth, reconcile, migration.
	"auth-no-secret-name.yaml": `10:7: spec.auth.secretRef.name: is required`,

	// users.
	"user-reserved.yaml":               `9:13: spec.users[0].name: "default" is redis-gitops' own user`,
	"user-category-typo.yaml":          `11:18: spec.users[0].commands[0]: "+@red" names no command category; did you mean "+@read"?`,
	"user-key-prefix.yaml":             `12:14: spec.users[0].keys[0]: "~app:*": write the pattern alone, without Redis's ~`,
	"user-no-password.yaml":            `9:7: spec.users[0].passwordSecretRefs: is required`,
	"user-password-inline.yaml":        `10:7: spec.users[0].password: unknown field; passwords must not be written in Git`,
	"schedule-not-cron.yaml":           `9:15: spec.reconcile.schedule: "every 5 minutes" is not a cron expression (expected exactly 5 fields, found 3`,
	"schedule-out-of-range.yaml":       `9:15: spec.reconcile.schedule: "0 25 * * *" is not a cron expression (end of range (25) above maximum (23)`,
	"schedule-time-zone-only.yaml":     `9:15: spec.reconcile.schedule: "CRON_TZ=UTC" is not a cron expression (a time zone needs a schedule after it`,
	"schedule-too-often.yaml":          `9:15: spec.reconcile.schedule: "@every 5s" is too often`,
	"drift-unknown.yaml":               `9:12: spec.reconcile.drift: must be correct or report; got "fix"`,
	"migration-keys-zero.yaml":         `9:19: spec.migration.keysPerBatch: must be between 1 and 100000; got 0 (leave it out for the default, 1000)`,
	"migration-keys-too-many.yaml":     `9:19: spec.migration.keysPerBatch: must be between 1 and 100000; got 1000000`,
	"migration-parallel-too-many.yaml": `9:20: spec.migration.parallelSlots: must be between 1 and 64; got 65`,
	"migration-profile-unknown.yaml":   `9:14: spec.migration.profile: must be gentle or fast; got "turbo"`,
	"migration-budget-zero.yaml":       `9:20: spec.migration.latencyBudget: must be between 500µs and 1s; got 0 (leave it out for the default, 2ms, or set profile: fast for no pacing)`,
	"migration-budget-too-long.yaml":   `9:20: spec.migration.latencyBudget: must be between 500µs and 1s; got 2m0s (profile: fast for no pacing)`,
}

func TestInvalidSpecs(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			want, ok := invalidSpecs[name]
			if !ok {
				t.Fatalf("%s has no expected error in invalidSpecs", file)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			clusters, errs := Parse(file, data)
			if got := len(clusters); got != 0 {
				t.Errorf("Parse returned %d valid clusters, want none", got)
			}
			if got := errs.Error(); !strings.Contains(got, file+":"+want) {
				t.Errorf("errors:\n%s\nwant one starting:\n%s:%s", got, file, want)
			}
		})
	}
	for name := range invalidSpecs {
		if !slices.Contains(files, filepath.Join("testdata", "invalid", name)) {
			t.Errorf("invalidSpecs names %s, which is not in testdata/invalid", name)
		}
	}
}
