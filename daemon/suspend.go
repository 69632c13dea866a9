package daemon

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/redis-gitops/redis-gitops/spec"
)

// suspendCheckEvery bounds how often a long change asks Git whether it
// should pause.
const suspendCheckEvery = 10 * time.Second

// suspendedInGit answers, between the steps of a long change (a rolling
// restart), whether the cluster's spec at the head of the watched branch
// now says reconcile.suspend: the daemon is inside a pass and has not
// re-read Git since it began, so a suspend pushed meanwhile would
// otherwise wait for the whole roll. It fetches at most every
// suspendCheckEvery and keeps the last answer in between; a fetch or a
// spec that fails reads as "not suspended", as the pass itself would.
func suspendedInGit(refs RefReader, branch string, log *slog.Logger) func(ctx context.Context, cluster string) bool {
	var mu sync.Mutex
	var checked time.Time
	suspended := map[string]bool{}
	return func(ctx context.Context, cluster string) bool {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(checked) >= suspendCheckEvery {
			checked = time.Now()
			rev, files, err := refs.SpecFilesAt(ctx, branch)
			if err != nil {
				log.Warn("could not read Git between steps; going on", "err", err)
				return suspended[cluster]
			}
			clusters, _ := spec.LoadFiles(files)
			suspended = map[string]bool{}
			for _, c := range clusters {
				if c.Spec.Reconcile.Suspend {
					suspended[c.Key()] = true
				}
			}
			if suspended[cluster] {
				log.Info("reconcile.suspend set in Git: pausing between steps", "cluster", cluster, "revision", short(rev))
			}
		}
		return suspended[cluster]
	}
}
