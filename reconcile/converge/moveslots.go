package converge

import (
	"context"
	"fmt"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// progressEvery spaces the progress log lines of a migration.
const progressEvery = 2 * time.Second

// moveSlots runs a round's move-slots actions through the migration
// engine, all at once: slots in flight spread over the source/target
// pairs. An error leaves the slot it stopped in open and resumable; the
// next round's plan finishes it (fix-open-slot) before it moves any other.
func (e *Executor) moveSlots(ctx context.Context, o *topology.Observed, actions []topology.Action) error {
	var moves []migrate.Move
	for _, a := range actions {
		src, dst := o.Nodes[a.Node], o.Nodes[a.Target]
		if src == nil || dst == nil {
			return fmt.Errorf("%s: source or target not observed", a)
		}
		for _, r := range a.Slots {
			for s := r.Start; s <= r.End; s++ {
				moves = append(moves, migrate.Move{Slot: s, Source: e.migrateNode(src), Target: e.migrateNode(dst)})
			}
		}
		if e.Log != nil {
			e.Log.Info("topology", "cluster", e.Cluster, "action", a.String())
		}
	}
	var others []migrate.Node
	for _, id := range o.NodeIDs() {
		if n := o.Nodes[id]; n.IsMaster() {
			others = append(others, e.migrateNode(n))
		}
	}
	dial := e.MigrateDial
	if dial == nil {
		dial = e.Dial
	}
	lastLog := time.Now()
	eng := &migrate.Engine{
		Dial:          func(addr string) migrate.Conn { return dial(addr) },
		Password:      e.Password,
		KeysPerBatch:  e.KeysPerBatch,
		Parallel:      e.ParallelSlots,
		LatencyBudget: e.LatencyBudget,
		Others:        others,
		Stop:          e.Stop,
		Log:           e.Log,
		Progress: func(p migrate.Progress) {
			if e.Progress != nil {
				e.Progress(e.Cluster, p)
			}
			if e.Log != nil && (time.Since(lastLog) >= progressEvery || p.SlotsDone == p.SlotsTotal) {
				lastLog = time.Now()
				e.Log.Info("migration progress", "cluster", e.Cluster, "slots", fmt.Sprintf("%d/%d", p.SlotsDone, p.SlotsTotal),
					"keys", p.Keys, "keysPerSecond", int64(p.KeysPerSecond()), "eta", p.ETA().Round(time.Second))
			}
		},
	}
	if e.migration == nil {
		e.migration = &Migration{}
	}
	e.migration.SlotsPlanned += len(moves)
	res, err := eng.Run(ctx, moves)
	e.migration.SlotsMoved += res.Slots
	e.migration.Keys += res.Keys
	e.migration.Elapsed += res.Elapsed
	e.migration.Atomic = e.migration.Atomic || res.Atomic
	if err != nil {
		e.migration.Err = err.Error()
	}
	if e.Log != nil {
		e.Log.Info("migration done", "cluster", e.Cluster, "slots", res.Slots, "keys", res.Keys, "replaced", res.Replaced,
			"elapsed", res.Elapsed.Round(time.Millisecond), "budget", e.LatencyBudget, "batchesOverBudget", res.Pace.OverBudget,
			"batches", res.Pace.Batches, "longestBatch", res.Pace.MaxRound.Round(time.Microsecond), "err", err)
	}
	if err == migrate.ErrStopped {
		return ErrStopped
	}
	return err
}

func (e *Executor) migrateNode(n *topology.Node) migrate.Node {
	return migrate.Node{ID: n.ID, Addr: e.addr(n), Name: n.Pod.Name}
}
