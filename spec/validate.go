package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validate/content"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
)

// Limits that Validate enforces.
const (
	// MaxNameLength bounds metadata.name. Kubernetes limits a StatefulSet's
	// name to 52 characters (its pods carry a controller-revision-hash
	// label of the name plus an 11-character suffix, and labels hold 63),
	// and Services and pod names are 63-character DNS labels; 40 leaves
	// room for the suffixes the rendered objects add ("-headless", pod
	// ordinals up to "-5999").
	MaxNameLength = 40
	// MinMasters is the fewest masters redis-cli creates a cluster with,
	// and the fewest that still have a majority to fail over after losing
	// one.
	MinMasters = 3
	// MaxMasters and MaxNodes: Redis Cluster is designed for up to 1000
	// nodes; beyond that its gossip traffic grows too large.
	MaxMasters = 1000
	MaxNodes   = 1000
	// MaxReplicasPerMaster bounds spec.replicasPerMaster.
	MaxReplicasPerMaster = 5
	// MinNodeTimeout bounds spec.redis.nodeTimeout: below a second, a GC
	// pause or a slow fsync would trigger failovers.
	MinNodeTimeout = time.Second
	// MaxRotationGracePeriod bounds spec.auth.rotationGracePeriod: a
	// replaced password should not stay valid for days.
	MaxRotationGracePeriod = 24 * time.Hour
	// MaxKeysPerBatch and MaxParallelSlots bound spec.migration.
	MaxKeysPerBatch  = 100_000
	MaxParallelSlots = 64
	// MinLatencyBudget and MaxLatencyBudget bound
	// spec.migration.latencyBudget: below a batch of a few keys' round
	// trip the move would crawl; above a second it spares no client.
	MinLatencyBudget = 500 * time.Microsecond
	MaxLatencyBudget = time.Second
	// MinScheduleInterval bounds "@every" schedules: a full drift scan
	// reads CLUSTER NODES from every pod and dry-runs every object; more
	// often than this it is load for no news.
	MinScheduleInterval = 10 * time.Second
)

// ReservedPrefix starts the label and annotation keys redis-gitops sets
// (redis-gitops.dev/cluster, redis-gitops.dev/config-hash, ...); metadata
// may not use it.
const ReservedPrefix = "redis-gitops.dev/"

// ReservedLabelKeys are the well-known labels redis-gitops sets on every
// object it renders; metadata.labels may not set them, since selectors and
// pruning depend on their values.
var ReservedLabelKeys = []string{
	"app.kubernetes.io/managed-by",
	"app.kubernetes.io/name",
	"app.kubernetes.io/instance",
	"app.kubernetes.io/component",
}

// IsReservedLabel reports whether metadata.labels may not use key.
func IsReservedLabel(key string) bool {
	return strings.HasPrefix(key, ReservedPrefix) || slices.Contains(ReservedLabelKeys, key)
}

// maxAnnotationBytes is Kubernetes' limit on all of an object's annotations.
const maxAnnotationBytes = 256 * 1024

// redisDirective is what a redis.conf directive name looks like (Redis 7
// has a few with underscores, such as server_cpulist).
var redisDirective = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// ParseSchedule parses a reconcile.schedule: five cron fields ("*/10 * * *
// *"), a descriptor ("@hourly"), or "@every 10m", optionally after
// "CRON_TZ=Europe/Paris ". Validate and the daemon's scheduler both use it,
// so what validates is what runs.
func ParseSchedule(expr string) (sched cron.Schedule, err error) {
	// robfig/cron v3.0.1 panics on a time zone prefix with nothing after it.
	if (strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=")) && !strings.Contains(expr, " ") {
		return nil, fmt.Errorf("a time zone needs a schedule after it, as in \"CRON_TZ=UTC 0 3 * * *\"")
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("cannot parse: %v", r)
		}
	}()
	return cron.ParseStandard(expr)
}

// Validate checks a defaulted cluster (call SetDefaults first; Parse does
// both) and returns every problem, sorted, each placed at the field's
// position in Source.Fields (or the nearest enclosing field written in the
// file, for a missing one). The rules are listed in the package doc.
func (c *RedisCluster) Validate() ErrorList {
	v := &validator{c: c}
	v.typeMeta()
	v.metadata()
	v.counts()
	v.redis()
	v.resources()
	v.storage()
	v.placement()
	v.auth()
	v.tls()
	v.externalAccess()
	v.monitoring()
	v.users()
	v.adopt()
	v.reconcile()
	v.migration()
	v.errs.Sort()
	return v.errs
}

type validator struct {
	c    *RedisCluster
	errs ErrorList
}

func (v *validator) fail(path, format string, args ...any) {
	pos := v.c.locate(path)
	e := Error{File: v.c.Source.File, Line: pos.Line, Column: pos.Column, Path: path, Message: fmt.Sprintf(format, args...)}
	if v.c.Metadata.Name != "" && v.c.Metadata.Namespace != "" {
		e.Cluster = v.c.Key()
	}
	v.errs = append(v.errs, e)
}

// written reports whether path was in the file (rather than left out).
func (v *validator) written(path string) bool {
	_, ok := v.c.Source.Fields[path]
	return ok
}

// locate returns where path, or the nearest field around it, was written;
// for a cluster built in Go, the start of its document.
func (c *RedisCluster) locate(path string) Position {
	for p := path; p != ""; p = parentPath(p) {
		if pos, ok := c.Source.Fields[p]; ok {
			return pos
		}
	}
	if c.Source.Line > 0 {
		return Position{Line: c.Source.Line, Column: 1}
	}
	return Position{}
}

func (v *validator) typeMeta() {
	switch c := v.c; {
	case c.APIVersion == "":
		v.fail("apiVersion", "is required: write apiVersion: %s", APIVersion)
	case c.APIVersion != APIVersion:
		v.fail("apiVersion", "%q is not supported; this version of redis-gitops reads %s", c.APIVersion, APIVersion)
	}
	switch c := v.c; {
	case c.Kind == "":
		v.fail("kind", "is required: write kind: %s", Kind)
	case c.Kind != Kind:
		v.fail("kind", "%q is not a %s", c.Kind, Kind)
	}
}

func (v *validator) metadata() {
	m := v.c.Metadata
	switch {
	case m.Name == "":
		v.fail("metadata.name", "is required: the cluster's name, which its Kubernetes objects are named after")
	case len(m.Name) > MaxNameLength:
		v.fail("metadata.name", "is %d characters; at most %d, so that the names of the cluster's StatefulSet, pods and Services fit Kubernetes' limits", len(m.Name), MaxNameLength)
	default:
		if msgs := k8svalidation.IsDNS1035Label(m.Name); len(msgs) > 0 {
			v.fail("metadata.name", "%q is not a valid name: %s", m.Name, strings.Join(msgs, "; "))
		}
	}
	if m.Namespace == "" {
		v.fail("metadata.namespace", "is required: the Kubernetes namespace the cluster runs in")
	} else if msgs := content.IsDNS1123Label(m.Namespace); len(msgs) > 0 {
		v.fail("metadata.namespace", "%q is not a valid namespace: %s", m.Namespace, strings.Join(msgs, "; "))
	}
	for _, k := range sortedKeys(m.Labels) {
		path := joinKey("metadata.labels", k)
		if IsReservedLabel(k) {
			v.fail(path, "redis-gitops sets this label on every object it renders; choose another key")
			continue
		}
		v.labelKey(path, k)
		v.labelValue(path, m.Labels[k])
	}
	size := 0
	for _, k := range sortedKeys(m.Annotations) {
		path := joinKey("metadata.annotations", k)
		size += len(k) + len(m.Annotations[k])
		if strings.HasPrefix(k, ReservedPrefix) {
			v.fail(path, "keys starting with %s are set by redis-gitops; choose another key", ReservedPrefix)
			continue
		}
		// Kubernetes checks annotation keys as label keys, ignoring case.
		v.labelKey(path, strings.ToLower(k))
	}
	if size > maxAnnotationBytes {
		v.fail("metadata.annotations", "hold %d bytes; Kubernetes allows at most %d", size, maxAnnotationBytes)
	}
}

func (v *validator) labelKey(path, key string) {
	if msgs := content.IsLabelKey(key); len(msgs) > 0 {
		v.fail(path, "%q is not a valid label key: %s", key, strings.Join(msgs, "; "))
	}
}

func (v *validator) labelValue(path, value string) {
	if msgs := content.IsLabelValue(value); len(msgs) > 0 {
		v.fail(path, "%q is not a valid label value: %s", value, strings.Join(msgs, "; "))
	}
}

func (v *validator) counts() {
	s := v.c.Spec
	switch {
	case s.Masters == 0 && !v.written("spec.masters"):
		v.fail("spec.masters", "is required: the number of masters (shards), at least %d", MinMasters)
	case s.Masters < MinMasters:
		v.fail("spec.masters", "must be at least %d, the fewest masters a Redis Cluster can be created with; got %d", MinMasters, s.Masters)
	case s.Masters > MaxMasters:
		v.fail("spec.masters", "must be at most %d; got %d", MaxMasters, s.Masters)
	}
	r := s.Replicas()
	switch {
	case r < 0 || r > MaxReplicasPerMaster:
		v.fail("spec.replicasPerMaster", "must be between 0 and %d; got %d", MaxReplicasPerMaster, r)
	case s.Masters >= MinMasters && s.Masters <= MaxMasters && s.TotalNodes() > MaxNodes:
		v.fail("spec.replicasPerMaster", "makes %d nodes (%d masters with %d replicas each); a Redis Cluster works with at most %d", s.TotalNodes(), s.Masters, r, MaxNodes)
	}
}

func (v *validator) redis() {
	r := v.c.Spec.Redis
	switch {
	case strings.TrimSpace(r.Image) == "":
		v.fail("spec.redis.image", "must not be empty")
	case strings.ContainsFunc(r.Image, isSpaceOrControl):
		v.fail("spec.redis.image", "%q is not an image reference: it contains a space or control character", r.Image)
	}
	for _, k := range sortedKeys(r.Config) {
		path := joinKey("spec.redis.config", k)
		lower := strings.ToLower(k)
		switch {
		case !redisDirective.MatchString(lower):
			v.fail(path, "is not a redis.conf directive name: use the name as redis.conf spells it, such as \"maxmemory-policy\"")
		case ManagedRedisConfig(lower) != "":
			v.fail(path, "cannot be set: %s", ManagedRedisConfig(lower))
		case k != lower:
			v.fail(path, "write Redis settings in lowercase: %q", lower)
		case suggestRedisConfig(k) != "":
			v.fail(path, "is not a Redis setting; did you mean %q?", suggestRedisConfig(k))
		}
		if strings.ContainsFunc(r.Config[k], isControl) {
			v.fail(path, "must be a single line without control characters: a line break would start another redis.conf directive")
		}
	}
	switch t := r.NodeTimeout.Duration; {
	case t < MinNodeTimeout:
		v.fail("spec.redis.nodeTimeout", "must be at least %s; got %s", shortDuration(MinNodeTimeout), shortDuration(t))
	case t%time.Millisecond != 0:
		v.fail("spec.redis.nodeTimeout", "must be a whole number of milliseconds, the unit of cluster-node-timeout; got %s", t)
	}
}

func (v *validator) resources() {
	v.resourcesAt("spec.resources", v.c.Spec.Resources)
}

func (v *validator) resourcesAt(path string, res Resources) {
	requests := v.quantities(path+".requests", res.Requests)
	limits := v.quantities(path+".limits", res.Limits)
	for _, name := range []string{"cpu", "memory"} {
		req, okReq := requests[name]
		lim, okLim := limits[name]
		if okReq && okLim && req.Cmp(lim) > 0 {
			v.fail(joinKey(path+".requests", name), "%s is more than the limit %s; a request may not exceed its limit", res.Requests[name], res.Limits[name])
		}
	}
}

// MinMetricsPort bounds spec.monitoring.port: the exporter runs as the
// pod's user, which may not bind a privileged port.
const MinMetricsPort = 1024

func (v *validator) monitoring() {
	m := v.c.Spec.Monitoring
	if !m.Enabled {
		return
	}
	switch {
	case strings.TrimSpace(m.Image) == "":
		v.fail("spec.monitoring.image", "must not be empty")
	case strings.ContainsFunc(m.Image, isSpaceOrControl):
		v.fail("spec.monitoring.image", "%q is not an image reference: it contains a space or control character", m.Image)
	}
	switch {
	case m.Port < MinMetricsPort || m.Port > 65535:
		v.fail("spec.monitoring.port", "must be between %d and 65535; got %d", MinMetricsPort, m.Port)
	case m.Port == redisClientPort || m.Port == redisTLSPort || m.Port == redisBusPort:
		v.fail("spec.monitoring.port", "%d is Redis's own (client %d, TLS %d, bus %d); pick another, such as %d", m.Port, redisClientPort, redisTLSPort, redisBusPort, DefaultMetricsPort)
	}
	v.resourcesAt("spec.monitoring.resources", m.Resources)
}

// The ports redis-server listens on in every pod.
const (
	redisClientPort = 6379
	redisTLSPort    = 6380
	redisBusPort    = 16379
)

// quantities checks a requests or limits map and returns what parsed.
func (v *validator) quantities(path string, m map[string]string) map[string]resource.Quantity {
	parsed := map[string]resource.Quantity{}
	for _, k := range sortedKeys(m) {
		kpath := joinKey(path, k)
		if k != "cpu" && k != "memory" {
			v.fail(kpath, "unknown resource; only cpu and memory can be set")
			continue
		}
		q, err := resource.ParseQuantity(m[k])
		switch {
		case err != nil:
			v.fail(kpath, "%q is not a Kubernetes quantity; write it as in a pod spec, such as \"500m\", \"2\" or \"4Gi\"", m[k])
		case q.Sign() < 0:
			v.fail(kpath, "must not be negative; got %s", m[k])
		default:
			parsed[k] = q
		}
	}
	return parsed
}

func (v *validator) storage() {
	st := v.c.Spec.Storage
	q, err := resource.ParseQuantity(st.Size)
	switch {
	case err != nil:
		v.fail("spec.storage.size", "%q is not a Kubernetes quantity; write a size such as \"10Gi\"", st.Size)
	case q.Sign() <= 0:
		v.fail("spec.storage.size", "must be more than 0; got %s", st.Size)
	}
	if st.StorageClassName != "" {
		if msgs := content.IsDNS1123Subdomain(st.StorageClassName); len(msgs) > 0 {
			v.fail("spec.storage.storageClassName", "%q is not a valid StorageClass name: %s", st.StorageClassName, strings.Join(msgs, "; "))
		}
	}
}

func (v *validator) placement() {
	p := v.c.Spec.Placement
	if p.TopologyKey == "" {
		v.fail("spec.placement.topologyKey", "must not be empty")
	} else {
		v.labelKey("spec.placement.topologyKey", p.TopologyKey)
	}
	if p.ZoneKey != "" {
		v.labelKey("spec.placement.zoneKey", p.ZoneKey)
		if p.ZoneKey == p.TopologyKey {
			v.fail("spec.placement.zoneKey", "must differ from topologyKey (%s): a zone is a wider failure domain than the one topologyKey names", p.TopologyKey)
		}
	}
	switch p.AntiAffinity {
	case AntiAffinityPreferred, AntiAffinityRequired, AntiAffinityNone:
	default:
		v.fail("spec.placement.antiAffinity", "must be %s, %s or %s; got %q", AntiAffinityPreferred, AntiAffinityRequired, AntiAffinityNone, p.AntiAffinity)
	}
	for _, k := range sortedKeys(p.NodeSelector) {
		path := joinKey("spec.placement.nodeSelector", k)
		v.labelKey(path, k)
		v.labelValue(path, p.NodeSelector[k])
	}
	for i, t := range p.Tolerations {
		v.toleration(fmt.Sprintf("spec.placement.tolerations[%d]", i), t)
	}
}

// toleration applies Kubernetes' rules for a pod's tolerations.
func (v *validator) toleration(path string, t Toleration) {
	if t.Key != "" {
		v.labelKey(path+".key", t.Key)
	}
	switch t.Operator {
	case TolerationOpExists:
		if t.Value != "" {
			v.fail(path+".value", "must be empty when operator is Exists")
		}
	case TolerationOpEqual:
		if t.Key == "" {
			v.fail(path+".operator", "must be Exists when key is empty (a toleration of every taint)")
		}
		v.labelValue(path+".value", t.Value)
	default:
		v.fail(path+".operator", "must be Equal or Exists; got %q", t.Operator)
	}
	switch t.Effect {
	case "", EffectNoSchedule, EffectPreferNoSchedule, EffectNoExecute:
	default:
		v.fail(path+".effect", "must be NoSchedule, PreferNoSchedule, NoExecute or empty (every effect); got %q", t.Effect)
	}
	if t.TolerationSeconds != nil {
		switch {
		case t.Effect != EffectNoExecute:
			v.fail(path+".tolerationSeconds", "applies only with effect NoExecute")
		case *t.TolerationSeconds < 0:
			v.fail(path+".tolerationSeconds", "must not be negative; got %d", *t.TolerationSeconds)
		}
	}
}

func (v *validator) auth() {
	a := v.c.Spec.Auth
	if a == nil {
		return
	}
	if a.SecretRef.Name == "" {
		v.fail("spec.auth.secretRef.name", "is required: the Secret, in the cluster's namespace, that holds the Redis password")
	} else if msgs := content.IsDNS1123Subdomain(a.SecretRef.Name); len(msgs) > 0 {
		v.fail("spec.auth.secretRef.name", "%q is not a valid Secret name: %s", a.SecretRef.Name, strings.Join(msgs, "; "))
	}
	if msgs := k8svalidation.IsConfigMapKey(a.SecretRef.Key); len(msgs) > 0 {
		v.fail("spec.auth.secretRef.key", "%q is not a valid Secret key: %s", a.SecretRef.Key, strings.Join(msgs, "; "))
	}
	switch g := a.RotationGracePeriod.Duration; {
	case g < 0:
		v.fail("spec.auth.rotationGracePeriod", "must not be negative; got %s", shortDuration(g))
	case g > MaxRotationGracePeriod:
		v.fail("spec.auth.rotationGracePeriod", "must be at most %s; got %s (the old password stays valid that long)", shortDuration(MaxRotationGracePeriod), shortDuration(g))
	}
}

func (v *validator) adopt() {
	a := v.c.Spec.Adopt
	if a == nil {
		return
	}
	switch name := a.StatefulSet; {
	case name == "":
		v.fail("spec.adopt.statefulSet", "is required: the StatefulSet, in the cluster's namespace, whose pods run the cluster to take over")
	case len(content.IsDNS1123Subdomain(name)) > 0:
		v.fail("spec.adopt.statefulSet", "%q is not a valid StatefulSet name: %s", name, strings.Join(content.IsDNS1123Subdomain(name), "; "))
	case name == v.c.Metadata.Name:
		v.fail("spec.adopt.statefulSet", "%q is the cluster's own StatefulSet: the cluster to take over must run under another name; name this cluster differently (metadata.name)", name)
	}
	if a.Port != 0 && (a.Port < 1 || a.Port > 65535) {
		v.fail("spec.adopt.port", "must be between 1 and 65535; got %d", a.Port)
	}
	if v.c.Spec.TLS != nil {
		v.fail("spec.adopt", "cannot be combined with spec.tls: take the cluster over in plaintext, as it runs, then add spec.tls (the switch needs no downtime)")
	}
	if v.c.Spec.ExternalAccess != nil {
		v.fail("spec.adopt", "cannot be combined with spec.externalAccess: take the cluster over first, then add spec.externalAccess")
	}
}

func (v *validator) externalAccess() {
	e := v.c.Spec.ExternalAccess
	if e == nil {
		return
	}
	switch e.Type {
	case ExternalNodePort, ExternalLoadBalancer, ExternalHostname:
	case "":
		v.fail("spec.externalAccess.type", "is required: %s, %s or %s", ExternalNodePort, ExternalLoadBalancer, ExternalHostname)
	default:
		v.fail("spec.externalAccess.type", "must be %s, %s or %s; got %q", ExternalNodePort, ExternalLoadBalancer, ExternalHostname, e.Type)
	}
	switch {
	case e.AddressType != "" && e.Type != ExternalNodePort:
		v.fail("spec.externalAccess.addressType", "applies only to type %s", ExternalNodePort)
	case e.AddressType == "", e.AddressType == AddressExternalIP, e.AddressType == AddressInternalIP:
	default:
		v.fail("spec.externalAccess.addressType", "must be %s or %s; got %q", AddressExternalIP, AddressInternalIP, e.AddressType)
	}
	switch {
	case e.Type == ExternalHostname && e.Hostname == "":
		v.fail("spec.externalAccess.hostname", "is required with type %s, e.g. \"{pod}.redis.example.com\"", ExternalHostname)
	case e.Type != ExternalHostname && e.Hostname != "":
		v.fail("spec.externalAccess.hostname", "applies only to type %s", ExternalHostname)
	case e.Hostname != "":
		if !strings.Contains(e.Hostname, "{pod}") {
			v.fail("spec.externalAccess.hostname", "%q must contain {pod}: every node needs a name of its own", e.Hostname)
		} else if msgs := content.IsDNS1123Subdomain(ExpandHostname(e.Hostname, "c-0", "ns", "c")); len(msgs) > 0 {
			v.fail("spec.externalAccess.hostname", "%q does not make a valid DNS name: %s", e.Hostname, strings.Join(msgs, "; "))
		}
	}
	if len(e.ServiceAnnotations) > 0 && e.Type == ExternalHostname {
		v.fail("spec.externalAccess.serviceAnnotations", "applies only to types %s and %s, which make Services", ExternalNodePort, ExternalLoadBalancer)
	}
	for _, k := range sortedKeys(e.ServiceAnnotations) {
		if msgs := content.IsLabelKey(k); len(msgs) > 0 {
			v.fail(joinKey("spec.externalAccess.serviceAnnotations", k), "%q is not a valid annotation key: %s", k, strings.Join(msgs, "; "))
		}
	}
}

// ExpandHostname fills an externalAccess.hostname template for one pod.
func ExpandHostname(tmpl, pod, namespace, cluster string) string {
	return strings.NewReplacer("{pod}", pod, "{namespace}", namespace, "{cluster}", cluster).Replace(tmpl)
}

func (v *validator) reconcile() {
	r := v.c.Spec.Reconcile
	if r.Schedule != "" {
		sched, err := ParseSchedule(r.Schedule)
		switch {
		case err != nil:
			v.fail("spec.reconcile.schedule", "%q is not a cron expression (%v); write five fields such as \"*/15 * * * *\", a descriptor such as \"@hourly\", or \"@every 30m\"", r.Schedule, err)
		case isEveryShorterThan(sched, MinScheduleInterval):
			v.fail("spec.reconcile.schedule", "%q is too often: a full scan reads every node, so space scans at least %s apart", r.Schedule, shortDuration(MinScheduleInterval))
		}
	}
	switch r.Drift {
	case DriftCorrect, DriftReport:
	default:
		v.fail("spec.reconcile.drift", "must be %s or %s; got %q", DriftCorrect, DriftReport, r.Drift)
	}
}

func isEveryShorterThan(s cron.Schedule, d time.Duration) bool {
	every, ok := s.(cron.ConstantDelaySchedule)
	return ok && every.Delay < d
}

func (v *validator) migration() {
	m := v.c.Spec.Migration
	if m.KeysPerBatch < 1 || m.KeysPerBatch > MaxKeysPerBatch {
		v.fail("spec.migration.keysPerBatch", "must be between 1 and %d; got %d", MaxKeysPerBatch, m.KeysPerBatch)
	}
	if m.ParallelSlots < 1 || m.ParallelSlots > MaxParallelSlots {
		v.fail("spec.migration.parallelSlots", "must be between 1 and %d; got %d", MaxParallelSlots, m.ParallelSlots)
	}
	if m.Profile != MigrationGentle && m.Profile != MigrationFast {
		v.fail("spec.migration.profile", "must be %s or %s; got %q", MigrationGentle, MigrationFast, m.Profile)
	}
	if b := m.LatencyBudget.Duration; b < MinLatencyBudget || b > MaxLatencyBudget {
		v.fail("spec.migration.latencyBudget", "must be between %s and %s; got %s (profile: fast for no pacing)", MinLatencyBudget, shortDuration(MaxLatencyBudget), b)
	}
}

// explicitZeros reports the numbers written as 0 where 0 means "unset":
// SetDefaults would silently replace them, so they are checked before it.
func (c *RedisCluster) explicitZeros() ErrorList {
	v := &validator{c: c}
	zero := func(path string, isZero bool, format string, args ...any) {
		if isZero && v.written(path) {
			v.fail(path, format, args...)
		}
	}
	m, r := c.Spec.Migration, c.Spec.Redis
	zero("spec.migration.keysPerBatch", m.KeysPerBatch == 0, "must be between 1 and %d; got 0 (leave it out for the default, %d)", MaxKeysPerBatch, DefaultKeysPerBatch)
	zero("spec.migration.latencyBudget", m.LatencyBudget.Duration == 0, "must be between %s and %s; got 0 (leave it out for the default, %s, or set profile: fast for no pacing)", MinLatencyBudget, shortDuration(MaxLatencyBudget), DefaultLatencyBudget)
	zero("spec.migration.parallelSlots", m.ParallelSlots == 0, "must be between 1 and %d; got 0 (leave it out for the default, %d)", MaxParallelSlots, DefaultParallelSlots)
	zero("spec.monitoring.port", c.Spec.Monitoring.Port == 0, "must be between %d and 65535; got 0 (leave it out for the default, %d)", MinMetricsPort, DefaultMetricsPort)
	if t := c.Spec.TLS; t != nil {
		zero("spec.tls.expiryWarning", t.ExpiryWarning.Duration == 0, "must be positive; got 0 (leave it out for the default, %s)", shortDuration(DefaultTLSExpiryWarning))
	}
	if a := c.Spec.Adopt; a != nil {
		zero("spec.adopt.port", a.Port == 0, "must be between 1 and 65535; got 0 (leave it out for the default, %d)", DefaultAdoptPort)
	}
	zero("spec.redis.nodeTimeout", r.NodeTimeout.Duration == 0, "must be at least %s; got 0 (leave it out for the default, %s)", shortDuration(MinNodeTimeout), shortDuration(DefaultNodeTimeout))
	return v.errs
}

// shortDuration prints d without trailing zero units: "1m", not "1m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func isSpaceOrControl(r rune) bool { return r == ' ' || isControl(r) }
