// Package daemon is everything long-running: the Git source and
// commit-back, triggers, leader election, the HTTP server and the loop that
// calls reconcile.
package daemon
