// Package reconcile is the core of redis-gitops: rendering Kubernetes
// objects, applying them, observing Redis, planning and executing.
package reconcile
