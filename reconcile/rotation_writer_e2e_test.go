package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// rotationWriter is an application during a password rotation: it writes
// through its client in a loop and, when told to (Move), reconnects with
// another client, as an application reloading its credentials would. Auth
// errors are counted apart from other errors.
type rotationWriter struct {
	client                   atomic.Pointer[redis.ClusterClient]
	writes, authErrs, failed atomic.Int64
	lastErr                  atomic.Value
	stop                     context.CancelFunc
	done                     chan struct{}
}

// startRotationWriter writes keys prefix:0 .. prefix:(keys-1) in turn.
func startRotationWriter(c *redis.ClusterClient, prefix string, keys int) *rotationWriter {
	ctx, cancel := context.WithCancel(context.Background())
	w := &rotationWriter{stop: cancel, done: make(chan struct{})}
	w.client.Store(c)
	go func() {
		defer close(w.done)
		for i := 0; ctx.Err() == nil; i++ {
			err := w.client.Load().Set(context.Background(), fmt.Sprintf("%s:%d", prefix, i%keys), i, 0).Err()
			switch {
			case err == nil:
				w.writes.Add(1)
			case strings.Contains(err.Error(), "WRONGPASS") || strings.Contains(err.Error(), "NOAUTH"):
				w.authErrs.Add(1)
				w.lastErr.Store(err.Error())
			case strings.Contains(err.Error(), "client is closed"):
				// Move closed the client under this write
			default:
				w.failed.Add(1)
				w.lastErr.Store(err.Error())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return w
}

// Move reconnects the application with c.
func (w *rotationWriter) Move(c *redis.ClusterClient) { w.client.Swap(c).Close() }

// finish stops the writer and fails t on any auth error or failed write,
// or when nothing was written.
func (w *rotationWriter) finish(t *testing.T, who string) {
	t.Helper()
	w.stop()
	<-w.done
	w.client.Load().Close()
	t.Logf("%s: %d writes, %d auth errors, %d other errors (last: %v)", who, w.writes.Load(), w.authErrs.Load(), w.failed.Load(), w.lastErr.Load())
	if w.authErrs.Load() > 0 || w.failed.Load() > 0 {
		t.Errorf("%s saw %d auth errors and %d other errors; last: %v", who, w.authErrs.Load(), w.failed.Load(), w.lastErr.Load())
	}
	if w.writes.Load() == 0 {
		t.Errorf("%s wrote nothing", who)
	}
}
