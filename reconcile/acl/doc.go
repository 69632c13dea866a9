// Package acl plans the Redis ACL users a cluster declares (spec.users)
// against the users each node has: which to create, update or delete on
// which node, and every difference by user and rule for the report. It is
// pure: values in (declared users with password hashes, each node's users
// and command table as read), steps out. No password is in its values,
// only SHA-256 hashes, and no hash is in its descriptions.
//
// Which users are managed: the declared ones, and those the daemon
// declared before (its record, kept by the caller), which are deleted
// once Git drops them. Any other user on a node besides default and
// readiness was made by a person: it is reported as drift and left alone.
package acl
