// Package converge is the Redis half of a reconcile at the edges: it
// observes every pod of a cluster (client-go for pods and nodes, one plain
// go-redis client per Redis node for admin commands), runs the plan that
// package topology computes, and repeats until nothing is left to do.
package converge

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
)

// Admin is one Redis node's admin connection: the only way the reconciler
// talks to Redis. Admin commands never go through the cluster client, which
// would follow MOVED redirections to a node other than the one meant.
// Pipe sends commands in order on one connection (ASKING applies to the
// next command of its connection); each reply carries its own error.
// It is the migration engine's Conn: one interface for every connection
// the reconciler opens to a node.
type Admin = migrate.Conn

// Dialer opens an admin connection to a node at addr (ip:port).
type Dialer func(addr string) Admin

// RedisDialer dials with go-redis. password may be empty; it is sent with
// AUTH on connect, never logged. t nil dials plaintext, else TLS (see
// TLS).
func RedisDialer(password string, t *TLS) Dialer {
	return dialer(password, t, 10*time.Second)
}

// MigrationDialer is RedisDialer for the migration engine: no read timeout
// of its own (each command carries a context deadline, MIGRATE one sized to
// its values) and a pool large enough for the slots in flight.
func MigrationDialer(password string, t *TLS) Dialer {
	return dialer(password, t, -1)
}

func dialer(password string, t *TLS, readTimeout time.Duration) Dialer {
	return func(addr string) Admin {
		return &redisAdmin{c: redis.NewClient(&redis.Options{
			Addr:                  addr,
			Password:              password,
			TLSConfig:             t.configFor(addr),
			DialTimeout:           2 * time.Second,
			ReadTimeout:           readTimeout,
			WriteTimeout:          10 * time.Second,
			ContextTimeoutEnabled: true,
			// A command must run once: a retried CLUSTER FAILOVER or MEET is
			// not what the plan said.
			MaxRetries: -1,
			PoolSize:   16,
			// CLIENT SETINFO is unknown to older servers; skip the noise.
			DisableIdentity: true,
		})}
	}
}

type redisAdmin struct{ c *redis.Client }

var _ Admin = (*redisAdmin)(nil)

func (a *redisAdmin) Do(ctx context.Context, args ...any) (any, error) {
	v, err := a.c.Do(ctx, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("%v: %w", args[0:min(2, len(args))], err)
	}
	return v, nil
}

func (a *redisAdmin) Pipe(ctx context.Context, cmds ...[]any) ([]migrate.Reply, error) {
	p := a.c.Pipeline()
	sent := make([]*redis.Cmd, len(cmds))
	for i, c := range cmds {
		sent[i] = p.Do(ctx, c...)
	}
	_, _ = p.Exec(ctx) // the first error is also in its command
	out := make([]migrate.Reply, len(cmds))
	for i, c := range sent {
		v, err := c.Result()
		if err != nil && err != redis.Nil {
			err = fmt.Errorf("%v: %w", cmds[i][0:min(2, len(cmds[i]))], err)
		}
		out[i] = migrate.Reply{Val: v, Err: err}
	}
	return out, ctx.Err()
}

func (a *redisAdmin) Close() error { return a.c.Close() }

// doString runs a command whose reply is a bulk string.
func doString(ctx context.Context, a Admin, args ...any) (string, error) {
	v, err := a.Do(ctx, args...)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%v: unexpected reply %T", args[0], v)
	}
	return s, nil
}
