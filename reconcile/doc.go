// Package reconcile orchestrates a pass: it applies each cluster's
// rendered objects (reconcile/kube), hands the Redis half to
// reconcile/cluster, builds one report per cluster (reconcile/report), and
// plans pull requests (planner.go, reconcile/plan). The decisions
// themselves are pure planners in the sub-packages.
package reconcile
