package daemon

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
)

// Metrics are the daemon's Prometheus metrics, on a registry of their own.
// Labels carry cluster keys (namespace/name), providers and results, never
// a value from a Secret.
type Metrics struct {
	Registry *prometheus.Registry

	ReconcileDuration *prometheus.HistogramVec // cluster, trigger
	Reconciles        *prometheus.CounterVec   // cluster, result
	Drift             *prometheus.GaugeVec     // cluster
	Revision          *prometheus.GaugeVec     // revision
	GitErrors         *prometheus.CounterVec   // op: fetch | push
	Webhooks          *prometheus.CounterVec   // provider, code
	Writes            *prometheus.CounterVec   // target: kubernetes | redis | git
	// ClusterWrites are the Kubernetes and Redis writes of Writes made by
	// a cluster's pass (the request's context names it).
	ClusterWrites *prometheus.CounterVec // cluster, target: kubernetes | redis
	Leader        prometheus.Gauge
	// Slot migration of the run in progress (or the last one), by cluster.
	MigrationSlots     *prometheus.GaugeVec // cluster, state: done | total
	MigrationKeys      *prometheus.GaugeVec // cluster
	MigrationKeysPerS  *prometheus.GaugeVec // cluster
	MigrationETASecond *prometheus.GaugeVec // cluster
	// The work queue: how long a cluster's triggers waited for a worker;
	// the workers, those busy, and the clusters waiting (read from the
	// queue at each scrape).
	QueueWait *prometheus.HistogramVec // cluster
	Workers   prometheus.Gauge
	queue     atomic.Pointer[Queue]
}

// NewMetrics registers every metric.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		ReconcileDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "redis_gitops_reconcile_duration_seconds", Help: "Duration of one cluster's reconcile (objects, topology, report).",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"cluster", "trigger"}),
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_gitops_reconciles_total", Help: "Reconciles per cluster by result: ready, progressing, degraded, stalled, removed.",
		}, []string{"cluster", "result"}),
		Drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "redis_gitops_drift_entries", Help: "Drift entries the last reconcile of the cluster found.",
		}, []string{"cluster"}),
		Revision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "redis_gitops_applied_revision_info", Help: "The Git revision in force (value 1).",
		}, []string{"revision"}),
		GitErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_gitops_git_errors_total", Help: "Failed Git fetches and pushes.",
		}, []string{"op"}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_gitops_webhook_requests_total", Help: "Webhook requests by provider and HTTP status.",
		}, []string{"provider", "code"}),
		Writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_gitops_writes_total", Help: "Write calls made by reconciles: Kubernetes requests that change state, Redis commands that change state, Git pushes.",
		}, []string{"target"}),
		ClusterWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_gitops_cluster_writes_total", Help: "Write calls made by a cluster's passes: Kubernetes requests and Redis commands that change state.",
		}, []string{"cluster", "target"}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "redis_gitops_leader", Help: "1 while this daemon holds the Lease and acts.",
		}),
		MigrationSlots: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "redis_gitops_migration_slots", Help: "Slots of the current (or last) migration run: done and total.",
		}, []string{"cluster", "state"}),
		MigrationKeys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "redis_gitops_migration_keys_moved", Help: "Keys moved by the current (or last) migration run.",
		}, []string{"cluster"}),
		MigrationKeysPerS: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "redis_gitops_migration_keys_per_second", Help: "Keys per second of the current (or last) migration run.",
		}, []string{"cluster"}),
		MigrationETASecond: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "redis_gitops_migration_eta_seconds", Help: "Estimated seconds left in the current migration run (0 when done).",
		}, []string{"cluster"}),
		QueueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "redis_gitops_queue_wait_seconds", Help: "Time from a cluster's first waiting trigger to the start of its pass.",
			Buckets: []float64{0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"cluster"}),
		Workers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "redis_gitops_workers", Help: "Workers that run passes (--concurrent).",
		}),
	}
	busy := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "redis_gitops_workers_busy", Help: "Workers running a pass now.",
	}, func() float64 {
		if q := m.queue.Load(); q != nil {
			return float64(q.Running())
		}
		return 0
	})
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "redis_gitops_queue_depth", Help: "Clusters waiting for a pass (those running and asked again included).",
	}, func() float64 {
		if q := m.queue.Load(); q != nil {
			return float64(q.Depth())
		}
		return 0
	})
	m.Registry.MustRegister(m.QueueWait, m.Workers, busy, depth, m.ClusterWrites)
	m.Registry.MustRegister(m.ReconcileDuration, m.Reconciles, m.Drift, m.Revision, m.GitErrors, m.Webhooks, m.Writes, m.Leader,
		m.MigrationSlots, m.MigrationKeys, m.MigrationKeysPerS, m.MigrationETASecond,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	for _, t := range []string{"kubernetes", "redis", "git"} {
		m.Writes.WithLabelValues(t)
	}
	return m
}

// MigrationProgress records a migration's progress (reconcile.Redis.Progress).
func (m *Metrics) MigrationProgress(cluster string, p migrate.Progress) {
	m.MigrationSlots.WithLabelValues(cluster, "done").Set(float64(p.SlotsDone))
	m.MigrationSlots.WithLabelValues(cluster, "total").Set(float64(p.SlotsTotal))
	m.MigrationKeys.WithLabelValues(cluster).Set(float64(p.Keys))
	m.MigrationKeysPerS.WithLabelValues(cluster).Set(p.KeysPerSecond())
	m.MigrationETASecond.WithLabelValues(cluster).Set(p.ETA().Seconds())
}

// watchQueue makes the queue's gauges read q.
func (m *Metrics) watchQueue(q *Queue, workers int) {
	m.queue.Store(q)
	m.Workers.Set(float64(workers))
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// CountKubernetesWrites wraps a client transport: every request that can
// change state (not GET, not a server-side dry run) counts as a write.
// Use it on the reconcile's clients, not on leader election's, whose
// renewals are not the reconcile's doing.
func (m *Metrics) CountKubernetesWrites(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.URL.Query().Get("dryRun") == "" {
			m.Writes.WithLabelValues("kubernetes").Inc()
			if c := clusterOf(r.Context()); c != "" {
				m.ClusterWrites.WithLabelValues(c, "kubernetes").Inc()
			}
		}
		return rt.RoundTrip(r)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// CountRedisWrites wraps an admin connection: every command not known to
// only read counts as a write.
func (m *Metrics) CountRedisWrites(a converge.Admin) converge.Admin {
	return &countingAdmin{Admin: a, m: m}
}

type countingAdmin struct {
	converge.Admin
	m *Metrics
}

func (c *countingAdmin) Do(ctx context.Context, args ...any) (any, error) {
	if !readOnly(args) {
		c.m.redisWrite(ctx)
	}
	return c.Admin.Do(ctx, args...)
}

func (c *countingAdmin) Pipe(ctx context.Context, cmds ...[]any) ([]migrate.Reply, error) {
	for _, args := range cmds {
		if !readOnly(args) {
			c.m.redisWrite(ctx)
		}
	}
	return c.Admin.Pipe(ctx, cmds...)
}

func (m *Metrics) redisWrite(ctx context.Context) {
	m.Writes.WithLabelValues("redis").Inc()
	if c := clusterOf(ctx); c != "" {
		m.ClusterWrites.WithLabelValues(c, "redis").Inc()
	}
}

type clusterKey struct{}

// withCluster marks ctx as that of a cluster's pass, for ClusterWrites.
func withCluster(ctx context.Context, cluster string) context.Context {
	return context.WithValue(ctx, clusterKey{}, cluster)
}

func clusterOf(ctx context.Context) string {
	c, _ := ctx.Value(clusterKey{}).(string)
	return c
}

// readOnly tells the commands the reconciler uses to look, from those that
// change a node (MEET, ADDSLOTS, FAILOVER, REPLICATE, SETSLOT, MIGRATE, ...).
func readOnly(args []any) bool {
	name := func(i int) string {
		if i >= len(args) {
			return ""
		}
		s, _ := args[i].(string)
		return strings.ToUpper(s)
	}
	switch name(0) {
	case "PING", "INFO", "DBSIZE", "ROLE", "TIME", "SCAN", "TYPE", "EXISTS", "GET", "MGET", "KEYS", "DUMP", "ASKING":
		return true
	case "CONFIG":
		return name(1) == "GET"
	case "MEMORY":
		return name(1) == "USAGE"
	case "ACL":
		switch name(1) {
		case "GETUSER", "WHOAMI", "USERS", "LIST", "CAT":
			return true
		}
	case "COMMAND": // the command table, which the users plan reads
		return true
	case "CLUSTER":
		switch name(1) {
		case "NODES", "INFO", "MYID", "SLOTS", "SHARDS", "COUNTKEYSINSLOT", "GETKEYSINSLOT", "KEYSLOT", "REPLICAS", "SLAVES":
			return true
		}
	}
	return false
}
