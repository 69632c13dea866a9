package converge

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// setConfig runs a set-config step on its node: CONFIG SET of one
// setting, once the node serves a.AfterReplicas linked replicas, when the
// step asks (a.AfterSettled is waited for by Run, once for the steps that
// run together). The wait is bounded (waitStep) and its end is not an
// error: a node that does not get there in time must not keep the
// bootstrap's value, so the value is set then all the same, the safe
// side, and the health wait that follows reports what did not happen.
func (e *Executor) setConfig(ctx context.Context, c Admin, a topology.Action) error {
	if a.AfterReplicas > 0 {
		what := fmt.Sprintf("%s to serve %d linked replicas", a.Pod, a.AfterReplicas)
		err := waitFor(ctx, waitStep, what, func() (bool, error) {
			info, err := doString(ctx, c, "INFO", "replication")
			return err == nil && onlineReplicas(info) >= a.AfterReplicas, err
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && e.Log != nil {
			e.Log.Warn("set-config: setting it before the node got there", "cluster", e.Cluster, "pod", a.Pod, "setting", a.Setting, "err", err)
		}
	}
	if _, err := c.Do(ctx, "CONFIG", "SET", a.Setting, a.Value); err != nil {
		return fmt.Errorf("config set %s %s: %w", a.Setting, a.Value, err)
	}
	return nil
}

// onlineReplicas counts the replicas INFO replication lists as done with
// their first sync: "slave0:ip=...,port=...,state=online,offset=...". The
// other states, wait_bgsave and send_bulk, are a sync waiting or under way.
func onlineReplicas(info string) int {
	n := 0
	for _, l := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		num, isReplica := strings.CutPrefix(k, "slave")
		if !ok || !isReplica || num == "" || strings.Trim(num, "0123456789") != "" {
			continue
		}
		for _, f := range strings.Split(v, ",") {
			if f == "state=online" {
				n++
			}
		}
	}
	return n
}
