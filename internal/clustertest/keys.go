// Package clustertest holds what end-to-end tests do with a Redis Cluster's
// data through a go-redis cluster client: fill it with known keys, and
// check every one of them reads back.
package clustertest

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Key and Value are the n-th preloaded key and its value.
func Key(i int) string   { return fmt.Sprintf("key:%d", i) }
func Value(i int) string { return fmt.Sprintf("value-%d", i) }

// Fill writes keys 0..n-1, pipelined 1000 at a time.
func Fill(t testing.TB, c *redis.ClusterClient, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += 1000 {
		p := c.Pipeline()
		for j := i; j < min(i+1000, n); j++ {
			p.Set(ctx, Key(j), Value(j), 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
}

// ReadAll checks that keys 0..n-1 all read back with their values; it
// fails the test with the count of keys lost.
func ReadAll(t testing.TB, c *redis.ClusterClient, n int) {
	t.Helper()
	ctx := context.Background()
	lost := 0
	for i := 0; i < n; i += 1000 {
		p := c.Pipeline()
		var cmds []*redis.StringCmd
		for j := i; j < min(i+1000, n); j++ {
			cmds = append(cmds, p.Get(ctx, Key(j)))
		}
		_, _ = p.Exec(ctx)
		for k, cmd := range cmds {
			if v, err := cmd.Result(); err != nil || v != Value(i+k) {
				if lost++; lost < 5 {
					t.Errorf("%s = %q, %v", Key(i+k), v, err)
				}
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d keys lost", lost, n)
	}
}
