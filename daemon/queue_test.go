package daemon

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// closed is a stop channel already closed: Get returns at once when
// nothing is ready.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// drain takes everything ready, in order, without waiting.
func drain(q *Queue) []Work {
	var out []Work
	for {
		w, ok := q.Get(closed)
		if !ok {
			return out
		}
		out = append(out, w)
	}
}

func clustersOf(ws []Work) string {
	var s []string
	for _, w := range ws {
		s = append(s, w.Cluster+"("+strings.Join(w.Triggers, ",")+")")
	}
	return strings.Join(s, " ")
}

// TestQueueSteps plays sequences of Add (+cluster/trigger), Get (g:N, N
// clusters expected in that order) and Done (-cluster).
func TestQueueSteps(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []string
		// want: what each "get" step returns.
		want []string
	}{
		{
			name:  "triggers of a waiting cluster coalesce into one pass",
			steps: []string{"+a/git", "+a/schedule", "+a/git", "+a/secret", "get"},
			want:  []string{"a(git,schedule,secret)"},
		},
		{
			name:  "a trigger during a pass is one next pass, after Done",
			steps: []string{"+a/git", "get", "+a/schedule", "+a/resync", "get", "-a", "get"},
			want:  []string{"a(git)", "", "a(resync,schedule)"},
		},
		{
			name:  "a cluster never runs twice at once, even when asked while running",
			steps: []string{"+a/git", "+b/git", "get", "+a/retry", "+b/retry", "get"},
			want:  []string{"a(git) b(git)", ""},
		},
		{
			name:  "clusters are served in the order they became ready",
			steps: []string{"+c/git", "+a/git", "+b/git", "+a/schedule", "get"},
			want:  []string{"c(git) a(git,schedule) b(git)"},
		},
		{
			name: "a cluster triggered again goes behind those already waiting",
			steps: []string{"+busy/git", "get", "+busy/retry", "+x/git", "+y/git", "-busy",
				"+busy/schedule", "get"},
			want: []string{"busy(git)", "x(git) y(git) busy(retry,schedule)"},
		},
		{
			name:  "Done of a cluster with nothing new queues nothing",
			steps: []string{"+a/git", "get", "-a", "get"},
			want:  []string{"a(git)", ""},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := NewQueue(nil)
			var got []string
			for _, s := range tc.steps {
				switch {
				case s == "get":
					got = append(got, clustersOf(drain(q)))
				case strings.HasPrefix(s, "+"):
					c, trig, _ := strings.Cut(s[1:], "/")
					q.Add(c, trig)
				case strings.HasPrefix(s, "-"):
					q.Done(s[1:])
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("gets:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestQueueWaitSince(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	q := NewQueue(func() time.Time { return now })
	q.Add("a", "git")
	now = now.Add(3 * time.Second)
	q.Add("a", "schedule") // joins: the wait counts from the first trigger
	w, ok := q.Get(closed)
	if !ok {
		t.Fatal("nothing ready")
	}
	if got, want := now.Sub(w.Since), 3*time.Second; got != want {
		t.Errorf("waited %s, want %s", got, want)
	}
	now = now.Add(time.Second)
	q.Add("a", "retry") // during the pass: its wait starts now
	q.Done("a")
	now = now.Add(2 * time.Second)
	w, _ = q.Get(closed)
	if got, want := now.Sub(w.Since), 2*time.Second; got != want {
		t.Errorf("next pass waited %s, want %s", got, want)
	}
}

func TestQueueDepthRunningShutDown(t *testing.T) {
	q := NewQueue(nil)
	q.Add("a", "git")
	q.Add("b", "git")
	if got := q.Depth(); got != 2 {
		t.Errorf("depth %d, want 2", got)
	}
	if _, ok := q.Get(closed); !ok {
		t.Fatal("nothing ready")
	}
	if d, r := q.Depth(), q.Running(); d != 1 || r != 1 {
		t.Errorf("depth %d running %d, want 1 and 1", d, r)
	}
	got := make(chan bool)
	q2 := NewQueue(nil)
	go func() { _, ok := q2.Get(make(chan struct{})); got <- ok }()
	q2.ShutDown()
	select {
	case ok := <-got:
		if ok {
			t.Error("Get after ShutDown handed out work")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Get still waits after ShutDown")
	}
	q.ShutDown()
	q.Add("c", "git")
	if _, ok := q.Get(closed); ok {
		t.Error("a shut-down queue handed out work")
	}
}

// TestQueueWorkers runs a pool on the queue, as the daemon does: every
// cluster triggered many times from many goroutines, passes that take a
// while. No cluster may ever run two passes at once, every trigger must
// be served by a pass that started after it, and a cluster triggered
// without end must not starve the others.
func TestQueueWorkers(t *testing.T) {
	q := NewQueue(nil)
	const workers, clusters = 4, 12
	var mu sync.Mutex
	running := map[string]int{}
	passes := map[string]int{}
	lastStart := map[string]time.Time{}
	var overlaps []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				w, ok := q.Get(stop)
				if !ok {
					return
				}
				mu.Lock()
				running[w.Cluster]++
				if running[w.Cluster] > 1 {
					overlaps = append(overlaps, w.Cluster)
				}
				passes[w.Cluster]++
				lastStart[w.Cluster] = time.Now()
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
				mu.Lock()
				running[w.Cluster]--
				mu.Unlock()
				q.Done(w.Cluster)
			}
		}()
	}
	// "hot" is triggered without pause for the whole test.
	hotDone := make(chan struct{})
	go func() {
		defer close(hotDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			q.Add("hot", "git")
		}
	}()
	lastAdd := map[string]time.Time{}
	var addMu sync.Mutex
	var adders sync.WaitGroup
	for i := range clusters {
		adders.Add(1)
		go func() {
			defer adders.Done()
			c := fmt.Sprintf("c%02d", i)
			for j := range 20 {
				// The time before the Add: a pass that starts after it
				// serves this trigger, even one that starts before the Add
				// returns (read after the Add, the time could be later than
				// the pass that served it, and no pass would ever follow).
				at := time.Now()
				q.Add(c, []string{"git", "schedule", "retry"}[j%3])
				addMu.Lock()
				lastAdd[c] = at
				addMu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	adders.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		served := 0
		for c, at := range lastAdd {
			if lastStart[c].After(at) {
				served++
			}
		}
		mu.Unlock()
		if served == clusters {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d clusters had a pass after their last trigger in 10s (starved behind hot?)", served, clusters)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	<-hotDone
	q.ShutDown()
	wg.Wait()
	if len(overlaps) > 0 {
		t.Errorf("two passes at once for %v", overlaps)
	}
	for i := range clusters {
		c := fmt.Sprintf("c%02d", i)
		if passes[c] == 0 || passes[c] > 20 {
			t.Errorf("%s: %d passes for 20 triggers", c, passes[c])
		}
	}
	if passes["hot"] == 0 {
		t.Error("hot never ran")
	}
	t.Logf("passes: %v", passes)
}
