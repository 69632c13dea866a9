// Package rediserr recognises the Redis error replies the reconciler acts
// on, in one place: Redis gives no error codes beyond the first word, so
// each predicate names the reply text it matches and the command that
// sends it (Redis 7.0's cluster.c, config.c and acl.c).
package rediserr

import "strings"

func has(err error, texts ...string) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	for _, t := range texts {
		if strings.Contains(s, t) {
			return true
		}
	}
	return false
}

// IsConfigImmutable: CONFIG SET of a directive Redis cannot change at
// runtime ("can't set immutable config", "can't set protected config";
// Redis 6: "Unsupported CONFIG parameter" for those with no setter).
func IsConfigImmutable(err error) bool {
	return has(err, "immutable", "can't set", "Unsupported CONFIG parameter")
}

// IsConfigEpochSet: CLUSTER SET-CONFIG-EPOCH on a node that knows a peer
// or has an epoch already ("The user can assign a config epoch only when
// the node does not know any other node" / "Node config epoch is already
// non-zero").
func IsConfigEpochSet(err error) bool { return has(err, "config epoch") }

// IsUnknownNode: CLUSTER FORGET (or SETSLOT) of an ID the node does not
// know ("Unknown node").
func IsUnknownNode(err error) bool { return has(err, "Unknown node") }

// IsAlreadyOwner: CLUSTER SETSLOT IMPORTING on the slot's owner ("I'm
// already the owner of hash slot").
func IsAlreadyOwner(err error) bool { return has(err, "already the owner") }

// IsBusyKey: MIGRATE without REPLACE of a key the target has ("BUSYKEY").
func IsBusyKey(err error) bool { return has(err, "BUSYKEY") }

// IsMigrateIO: MIGRATE that could not finish in its timeout ("IOERR" or a
// timeout of the target's connection).
func IsMigrateIO(err error) bool { return has(err, "IOERR", "timeout") }

// IsAsk: a redirection to the importing node while a slot is open ("ASK").
func IsAsk(err error) bool { return has(err, "ASK ") }

// IsOnlyMasters: CLUSTER SETSLOT sent to a replica ("Please use SETSLOT
// only with masters").
func IsOnlyMasters(err error) bool { return has(err, "only with masters") }

// IsAuth: a node that does not take the password given ("WRONGPASS",
// "NOAUTH"), or AUTH sent to a node with no password ("AUTH <password>
// called without any password configured").
func IsAuth(err error) bool {
	return has(err, "WRONGPASS", "NOAUTH", "without any password configured")
}
