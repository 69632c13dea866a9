package daemon

import (
	"math/rand/v2"
	"sync"
	"time"
)

// DefaultResync is how often every cluster is scanned at the least, even
// when nothing asked for it (Flux's interval): drift made by hand is seen
// within it.
const DefaultResync = 10 * time.Minute

// Resync scans each cluster at least every Period: after each of its
// passes, whatever started it, its next scan comes due between 0.8 and 1
// Period later, at random, so that clusters reconciled together (the first
// sync, a push to all) spread out over the next rounds instead of scanning
// in step. OnDue must not block.
type Resync struct {
	Period time.Duration
	OnDue  func(cluster string)

	mu      sync.Mutex
	rng     *rand.Rand
	timers  map[string]*time.Timer
	stopped bool
}

// Passed starts the cluster's wait for its next scan again.
func (r *Resync) Passed(cluster string) {
	if r.Period <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	if r.timers == nil {
		r.timers = map[string]*time.Timer{}
		r.rng = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5e5c))
	}
	wait := r.Period - time.Duration(r.rng.Float64()*float64(r.Period)/5)
	if t, ok := r.timers[cluster]; ok {
		t.Reset(wait)
		return
	}
	r.timers[cluster] = time.AfterFunc(wait, func() { r.OnDue(cluster) })
}

// Keep drops the timers of clusters not in keep (gone from Git).
func (r *Resync) Keep(keep map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c, t := range r.timers {
		if !keep[c] {
			t.Stop()
			delete(r.timers, c)
		}
	}
}

// Stop stops every timer; Passed does nothing after it.
func (r *Resync) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	for _, t := range r.timers {
		t.Stop()
	}
	r.timers = nil
}
