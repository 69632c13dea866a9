package converge

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"syscall"

	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
)

// EitherPort dials a node on its TLS port through tlsDial and, when
// nothing listens there, on its plaintext port through plainDial,
// whatever port the address given names. In the middle of a switch
// between plaintext and TLS the nodes of one cluster differ (some have no
// TLS listener yet, some no plaintext one any more) and each announces the
// port of its own stage; the daemon must reach every one of them, or it
// would plan as if the ones it cannot reach were gone.
func EitherPort(tlsDial, plainDial Dialer, tlsPort, plainPort int) Dialer {
	return func(addr string) Admin {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		return &eitherAdmin{
			tls:   func() Admin { return tlsDial(net.JoinHostPort(host, strconv.Itoa(tlsPort))) },
			plain: func() Admin { return plainDial(net.JoinHostPort(host, strconv.Itoa(plainPort))) },
		}
	}
}

type eitherAdmin struct {
	tls, plain func() Admin
	mu         sync.Mutex
	a          Admin
}

var _ Admin = (*eitherAdmin)(nil)

// conn picks the port on first use: TLS, unless the connection is refused.
func (e *eitherAdmin) conn(ctx context.Context) Admin {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.a != nil {
		return e.a
	}
	a := e.tls()
	if _, err := a.Do(ctx, "PING"); err != nil && errors.Is(err, syscall.ECONNREFUSED) {
		a.Close()
		a = e.plain()
	}
	e.a = a
	return a
}

func (e *eitherAdmin) Do(ctx context.Context, args ...any) (any, error) {
	return e.conn(ctx).Do(ctx, args...)
}

func (e *eitherAdmin) Pipe(ctx context.Context, cmds ...[]any) ([]migrate.Reply, error) {
	return e.conn(ctx).Pipe(ctx, cmds...)
}

func (e *eitherAdmin) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.a == nil {
		return nil
	}
	return e.a.Close()
}
