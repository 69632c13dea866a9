package daemon

import (
	"slices"
	"sync"
	"time"
)

// Queue holds the daemon's work: one entry per cluster, whatever asked for
// it (its spec changed in Git, its Secret, its schedule, the resync, a
// retry). Triggers that arrive for a cluster already waiting join its entry;
// those that arrive while its pass runs become one next pass, queued when
// that pass is Done. A cluster is handed to one worker at a time, and
// clusters are served in the order they became ready: a cluster triggered
// over and over goes to the back each time, behind the others.
//
// The zero Queue is not usable: NewQueue.
type Queue struct {
	now func() time.Time

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every Add, Done and ShutDown
	waiting map[string]*Work
	ready   []string        // clusters waiting and not running, oldest first
	running map[string]bool // clusters handed out and not Done
	closed  bool
}

// Work is one pass to run: the cluster, every trigger that asked for it
// (sorted, once each) and when the first of them came.
type Work struct {
	Cluster  string
	Triggers []string
	Since    time.Time
}

// NewQueue returns an empty queue; now is its clock (nil: time.Now).
func NewQueue(now func() time.Time) *Queue {
	if now == nil {
		now = time.Now
	}
	return &Queue{now: now, changed: make(chan struct{}), waiting: map[string]*Work{}, running: map[string]bool{}}
}

// Add asks for a pass of cluster. It never blocks.
func (q *Queue) Add(cluster, trigger string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	w, ok := q.waiting[cluster]
	if !ok {
		w = &Work{Cluster: cluster, Since: q.now()}
		q.waiting[cluster] = w
		if !q.running[cluster] {
			q.ready = append(q.ready, cluster)
		}
	}
	if !slices.Contains(w.Triggers, trigger) {
		w.Triggers = append(w.Triggers, trigger)
		slices.Sort(w.Triggers)
	}
	q.notify()
}

// Get waits for the next cluster to run and marks it running; it returns
// false once the queue is shut down or stop is closed.
func (q *Queue) Get(stop <-chan struct{}) (Work, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return Work{}, false
		}
		if len(q.ready) > 0 {
			cluster := q.ready[0]
			q.ready = q.ready[1:]
			w := q.waiting[cluster]
			delete(q.waiting, cluster)
			q.running[cluster] = true
			q.mu.Unlock()
			return *w, true
		}
		changed := q.changed
		q.mu.Unlock()
		select {
		case <-stop:
			return Work{}, false
		case <-changed:
		}
	}
}

// Done ends the pass of cluster handed out by Get; triggers that came
// during it are queued now, at the back.
func (q *Queue) Done(cluster string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.running, cluster)
	if _, ok := q.waiting[cluster]; ok && !q.closed {
		q.ready = append(q.ready, cluster)
	}
	q.notify()
}

// ShutDown makes every Get return false; passes running go on until Done.
func (q *Queue) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.notify()
}

// Depth is how many clusters wait for a pass (running ones not counted).
func (q *Queue) Depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// Running is how many clusters are handed out and not Done.
func (q *Queue) Running() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.running)
}

func (q *Queue) notify() {
	close(q.changed)
	q.changed = make(chan struct{})
}
