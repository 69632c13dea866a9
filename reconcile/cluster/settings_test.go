package cluster

import (
	"maps"
	"testing"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// ManagedSettings always holds repl-diskless-sync-delay and
// cluster-node-timeout, the settings a bootstrap lowers for a while: the
// declared value (spec.redis.nodeTimeout for the timeout), else Redis's
// default, so that a pass after a bootstrap that stopped half-way sets
// them back. DesiredFor gives the bootstrap the same values to restore.
func TestManagedSettings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]string
		want   map[string]string
	}{
		{"nothing declared: Redis's default", nil,
			map[string]string{"repl-diskless-sync-delay": "5", "cluster-node-timeout": "15000"}},
		{"declared, any case", map[string]string{"Repl-Diskless-Sync-Delay": "2", "maxmemory-policy": "allkeys-lru"},
			map[string]string{"repl-diskless-sync-delay": "2", "maxmemory-policy": "allkeys-lru", "cluster-node-timeout": "15000"}},
		{"declared 0", map[string]string{"repl-diskless-sync-delay": "0"},
			map[string]string{"repl-diskless-sync-delay": "0", "cluster-node-timeout": "15000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &spec.RedisCluster{Metadata: spec.Metadata{Name: "cache", Namespace: "prod"}}
			c.Spec.Redis.Config = tc.config
			c.SetDefaults()
			if got := ManagedSettings(c); !maps.Equal(got, tc.want) {
				t.Errorf("ManagedSettings = %v, want %v", got, tc.want)
			}
			if got, want := DesiredFor(c).SyncDelay(), tc.want[topology.DisklessSyncDelay]; got != want {
				t.Errorf("DesiredFor(c).SyncDelay() = %q, want %q", got, want)
			}
			if got, want := DesiredFor(c).NodeTimeout, tc.want[topology.NodeTimeout]; got != want {
				t.Errorf("DesiredFor(c).NodeTimeout = %q, want %q", got, want)
			}
		})
	}
}
