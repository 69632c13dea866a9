package converge

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// release takes an old node of an adopted cluster out, as redis-cli
// --cluster del-node does, in the order that never forgets a node holding
// keys: CLUSTER RESET SOFT first (a replica becomes an empty master and
// drops its copy; its master serves every key; it forgets every peer),
// then CLUSTER FORGET on every other node. The planner allowed it on what
// it observed; the node is read again here, just before the reset, and
// refused if it now owns a slot or is a master holding keys (Redis itself
// refuses to reset such a master).
func (e *Executor) release(ctx context.Context, o *topology.Observed, n *topology.Node) error {
	if !n.Foreign {
		return fmt.Errorf("release %s: not a node of the cluster being adopted", n.Pod.Name)
	}
	err := e.with(ctx, n, func(c Admin) error {
		text, err := doString(ctx, c, "CLUSTER", "NODES")
		if err != nil {
			return err
		}
		view, err := topology.ParseClusterNodes(text)
		if err != nil {
			return err
		}
		self, ok := topology.Myself(view)
		if !ok || self.ID != n.ID {
			return fmt.Errorf("release %s: the pod now runs another node than %s", n.Pod.Name, n.ID)
		}
		if len(self.Slots) > 0 {
			return fmt.Errorf("release %s: it owns slots again", n.Pod.Name)
		}
		repl, err := doString(ctx, c, "INFO", "replication")
		if err != nil {
			return err
		}
		if strings.Contains(repl, "role:master") {
			v, err := c.Do(ctx, "DBSIZE")
			if err != nil {
				return err
			}
			if keys, _ := v.(int64); keys > 0 {
				return fmt.Errorf("release %s: a master holding %d keys", n.Pod.Name, keys)
			}
		}
		_, err = c.Do(ctx, "CLUSTER", "RESET", "SOFT")
		return err
	})
	if err != nil {
		return err
	}
	return e.forget(ctx, o, n.ID)
}
