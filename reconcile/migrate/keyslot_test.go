package migrate_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis-gitops/redis-gitops/internal/redistest"
	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
)

// KeySlot agrees with Redis's own CLUSTER KEYSLOT, hash tags included.
func TestKeySlot(t *testing.T) {
	n := redistest.Start(t, 1)[0]
	keys := []string{"foo", "bar", "123456789", "{user1000}.a", "user1000", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "{", "}{", "a{b", ""}
	for i := range 200 {
		keys = append(keys, fmt.Sprintf("key:%d", i*7919))
	}
	for _, k := range keys {
		want, err := n.Client.ClusterKeySlot(context.Background(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := migrate.KeySlot(k); int64(got) != want {
			t.Errorf("KeySlot(%q) = %d, Redis says %d", k, got, want)
		}
	}
}
