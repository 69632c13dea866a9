package reconcile

import "github.com/redis-gitops/redis-gitops/reconcile/cluster"

// The Redis half of a pass lives in reconcile/cluster; these names keep
// the orchestration's callers (the daemon, the CLI) reading as before.
type (
	// Redis converges one cluster's Redis (cluster.Redis).
	Redis = cluster.Redis
	// Hold is a StatefulSet kept above the spec's size during a scale-in
	// (cluster.Hold).
	Hold = cluster.Hold
	// ConvergeOptions tune one convergence (cluster.ConvergeOptions).
	ConvergeOptions = cluster.ConvergeOptions
)

// ErrPaused: a roll stopped between two steps because reconcile.suspend
// was set in Git meanwhile (cluster.ErrPaused).
var ErrPaused = cluster.ErrPaused
