package clustertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Writer is a client that keeps writing and reading while the cluster
// changes under it: each write, then a read of the same key, retried by
// the test (beyond go-redis's own redirects) up to 20 times, every
// acknowledged value remembered. A read that returns another value than
// the one just acknowledged is a lost write.
type Writer struct {
	c        *redis.ClusterClient
	Acked    sync.Map // key -> the last acknowledged value
	writes   atomic.Int64
	reads    atomic.Int64
	retries  atomic.Int64
	failed   atomic.Int64
	stale    atomic.Int64 // reads of another value than the one just acknowledged
	lastErr  atomic.Value
	stop     context.CancelFunc
	done     chan struct{}
	keySpace int
}

// StartWriter writes "key:<i mod keySpace>" through c until Finish.
func StartWriter(c *redis.ClusterClient, keySpace int) *Writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{c: c, stop: cancel, done: make(chan struct{}), keySpace: keySpace}
	go func() {
		defer close(w.done)
		for i := 0; ctx.Err() == nil; i++ {
			k := fmt.Sprintf("key:%d", i%keySpace)
			v := fmt.Sprintf("w-%d", i)
			var err error
			for attempt := 0; attempt < 20; attempt++ {
				if attempt > 0 {
					w.retries.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
				if err = w.c.Set(context.Background(), k, v, 0).Err(); err == nil {
					break
				}
			}
			if err != nil {
				w.failed.Add(1)
				w.lastErr.Store(err.Error())
				continue
			}
			w.Acked.Store(k, v)
			w.writes.Add(1)
			var got string
			for attempt := 0; attempt < 20; attempt++ {
				if attempt > 0 {
					w.retries.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
				if got, err = w.c.Get(context.Background(), k).Result(); err == nil {
					break
				}
			}
			switch {
			case err != nil:
				w.failed.Add(1)
				w.lastErr.Store(err.Error())
			case got != v:
				w.stale.Add(1)
				w.lastErr.Store(fmt.Sprintf("read %s = %q right after writing %q", k, got, v))
			default:
				w.reads.Add(1)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return w
}

// Finish stops the writer and checks through read that every
// acknowledged write reads back, and that no write failed after retries.
func (w *Writer) Finish(t testing.TB, read *redis.ClusterClient) {
	t.Helper()
	w.stop()
	<-w.done
	defer w.c.Close()
	lost := 0
	w.Acked.Range(func(k, v any) bool {
		got, err := read.Get(context.Background(), k.(string)).Result()
		if err != nil || got != v.(string) {
			lost++
			if lost < 5 {
				t.Errorf("acknowledged %s=%s reads %q, %v", k, v, got, err)
			}
		}
		return true
	})
	t.Logf("writer: %d writes acknowledged, %d reads back, %d retries, %d failed after retries", w.writes.Load(), w.reads.Load(), w.retries.Load(), w.failed.Load())
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost", lost)
	}
	if n := w.failed.Load(); n > 0 {
		t.Errorf("%d operations failed after 20 attempts; last error: %v", n, w.lastErr.Load())
	}
	if n := w.stale.Load(); n > 0 {
		t.Errorf("%d reads returned another value than the write just acknowledged; last: %v", n, w.lastErr.Load())
	}
}

// ReadAllOrAcked checks through c that keys 0..n-1 of Fill read back with
// their value, or with the last value the writer had acknowledged for
// those it wrote over.
func (w *Writer) ReadAllOrAcked(t testing.TB, c *redis.ClusterClient, n int) {
	t.Helper()
	for i := range n {
		want := Value(i)
		if v, ok := w.Acked.Load(Key(i)); ok {
			want = v.(string)
		}
		if got, err := c.Get(context.Background(), Key(i)).Result(); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", Key(i), got, err, want)
		}
	}
}
