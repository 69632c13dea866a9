package daemon

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/redis-gitops/redis-gitops/spec"
)

// Jitter spreads d by up to ±frac of itself, so that many daemons (or many
// clusters) polling on the same interval do not hit Git and the API server
// in step. r is the caller's randomness, so tests can fix it.
func Jitter(d time.Duration, frac float64, r *rand.Rand) time.Duration {
	if frac <= 0 || d <= 0 {
		return d
	}
	spread := float64(d) * frac
	return d + time.Duration((r.Float64()*2-1)*spread)
}

// Schedules runs each cluster's reconcile.schedule: at those times OnDue is
// called with the cluster's key ("namespace/name"), even when Git has not
// moved. Update replaces the set whenever the specs change.
type Schedules struct {
	OnDue func(cluster string)

	mu      sync.Mutex
	cron    *cron.Cron
	entries map[string]scheduled
}

type scheduled struct {
	expr string
	id   cron.EntryID
}

// Start runs the scheduler until ctx ends; it returns once stopped.
func (s *Schedules) Start(ctx context.Context) {
	s.mu.Lock()
	if s.cron == nil {
		s.cron = cron.New()
	}
	c := s.cron
	s.mu.Unlock()
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done() // waits for running jobs
}

// Update makes the schedules those of clusters: new ones are added, changed
// ones replaced, removed ones dropped. A cluster whose schedule does not
// parse has been refused by spec validation already and is skipped.
func (s *Schedules) Update(clusters []*spec.RedisCluster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cron == nil {
		s.cron = cron.New()
	}
	if s.entries == nil {
		s.entries = map[string]scheduled{}
	}
	want := map[string]string{}
	for _, c := range clusters {
		if c.Spec.Reconcile.Schedule != "" {
			want[c.Key()] = c.Spec.Reconcile.Schedule
		}
	}
	for key, e := range s.entries {
		if want[key] != e.expr {
			s.cron.Remove(e.id)
			delete(s.entries, key)
		}
	}
	for key, expr := range want {
		if _, ok := s.entries[key]; ok {
			continue
		}
		sched, err := spec.ParseSchedule(expr)
		if err != nil {
			continue
		}
		id := s.cron.Schedule(sched, cron.FuncJob(func() { s.OnDue(key) }))
		s.entries[key] = scheduled{expr: expr, id: id}
	}
}

// Next tells when each cluster's next scheduled scan is.
func (s *Schedules) Next() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]time.Time{}
	for key, e := range s.entries {
		out[key] = s.cron.Entry(e.id).Schedule.Next(time.Now())
	}
	return out
}
