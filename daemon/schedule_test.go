package daemon

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/spec"
)

func TestJitter(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[time.Duration]bool{}
	for range 1000 {
		got := Jitter(time.Minute, 0.1, r)
		if got < 54*time.Second || got > 66*time.Second {
			t.Fatalf("Jitter(1m, 10%%) = %s, outside 54s..66s", got)
		}
		seen[got] = true
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct intervals in 1000 draws: not spread", len(seen))
	}
	if got := Jitter(time.Minute, 0, r); got != time.Minute {
		t.Errorf("no jitter: %s", got)
	}
}

func withSchedule(ns, name, expr string) *spec.RedisCluster {
	c := &spec.RedisCluster{}
	c.Metadata.Namespace, c.Metadata.Name = ns, name
	c.Spec.Reconcile.Schedule = expr
	return c
}

func TestSchedulesUpdate(t *testing.T) {
	s := &Schedules{OnDue: func(string) {}}
	s.Update([]*spec.RedisCluster{
		withSchedule("prod", "a", "0 3 * * *"),
		withSchedule("prod", "b", "@every 10m"),
		withSchedule("prod", "c", ""),
	})
	next := s.Next()
	if len(next) != 2 {
		t.Fatalf("scheduled clusters: %v, want prod/a and prod/b", next)
	}
	if got := next["prod/a"]; got.Hour() != 3 || got.Minute() != 0 {
		t.Errorf("prod/a next at %s, want 03:00", got)
	}
	if d := time.Until(next["prod/b"]); d <= 9*time.Minute || d > 10*time.Minute {
		t.Errorf("prod/b next in %s, want about 10m", d)
	}
	// b changes its schedule, a is removed from Git.
	s.Update([]*spec.RedisCluster{withSchedule("prod", "b", "@every 20m")})
	next = s.Next()
	if _, ok := next["prod/a"]; ok || len(next) != 1 {
		t.Errorf("after update: %v, want only prod/b", next)
	}
	if d := time.Until(next["prod/b"]); d <= 19*time.Minute {
		t.Errorf("prod/b next in %s after its schedule changed to 20m", d)
	}
}

func TestSchedulesFire(t *testing.T) {
	var mu sync.Mutex
	var due []string
	s := &Schedules{OnDue: func(c string) { mu.Lock(); due = append(due, c); mu.Unlock() }}
	// Spec validation requires @every >= 1m; the scheduler itself does not.
	s.Update([]*spec.RedisCluster{withSchedule("ops", "legacy", "@every 1s")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Start(ctx); close(done) }()
	time.Sleep(2500 * time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(due) < 1 || due[0] != "ops/legacy" {
		t.Errorf("due calls: %v, want ops/legacy at least once", due)
	}
}
