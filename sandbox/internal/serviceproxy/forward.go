package serviceproxy

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// listener is one listening socket and the connections it forwards.
type listener struct {
	ln     net.Listener
	node   string // "" for a LoadBalancer address
	ctx    context.Context
	cancel context.CancelFunc
	next   atomic.Uint64 // round-robin position
	wg     sync.WaitGroup

	mu     sync.Mutex
	tgt    Target
	conns  map[net.Conn]*flow
	closed bool
}

// flow is where a proxied connection runs: from the client's node ("" for
// the host) to its endpoint's node. Both of its connections share it.
type flow struct {
	from, to string
}

func (l *listener) target() Target {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tgt
}

func (l *listener) setTarget(t Target) {
	l.mu.Lock()
	l.tgt = t
	l.mu.Unlock()
}

// track registers a connection so close can end it; false if already closed.
func (l *listener) track(c net.Conn, f *flow) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = f
	return true
}

// cut closes the connections whose flow cut says to end.
func (l *listener) cut(cut func(*flow) bool) {
	l.mu.Lock()
	var doomed []net.Conn
	for c, f := range l.conns {
		if cut(f) {
			doomed = append(doomed, c)
		}
	}
	l.mu.Unlock()
	for _, c := range doomed {
		_ = c.Close()
	}
}

func (l *listener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// close stops accepting, ends every connection (as a node that goes off
// would) and waits for the forwarding goroutines.
func (l *listener) close() {
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = map[net.Conn]*flow{}
	l.mu.Unlock()
	l.cancel()
	_ = l.ln.Close()
	for c := range conns {
		_ = c.Close()
	}
	l.wg.Wait()
}

// forward connects client to an endpoint of the listener's target, trying
// each usable endpoint in round-robin order until one accepts, and copies
// both ways. A client with nowhere to go is closed, as kube-proxy rejects
// connections to a Service without endpoints.
func (p *Proxy) forward(l *listener, client net.Conn, f *flow) {
	defer l.untrack(client)
	defer client.Close()
	t := l.target()
	eps, err := p.endpoints(t)
	if err != nil {
		p.cfg.Log.Debug("service proxy: endpoints", "service", t.Service, "err", err)
		return
	}
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	var upstream net.Conn
	for _, ep := range Rotate(eps, l.next.Add(1)-1) {
		if p.isCut(f.from, ep.Node) {
			continue
		}
		upstream, err = d.DialContext(l.ctx, "tcp", ep.Addr.String())
		if err == nil {
			l.mu.Lock()
			f.to = ep.Node
			l.mu.Unlock()
			break
		}
		p.cfg.Log.Debug("service proxy: dial endpoint", "service", t.Service, "endpoint", ep.Addr, "err", err)
	}
	if upstream == nil {
		p.cfg.Log.Debug("service proxy: no endpoint took the connection", "service", t.Service, "port", t.Port, "endpoints", len(eps))
		return
	}
	// A partition that began while dialing ends the connection too.
	if !l.track(upstream, f) || p.isCut(f.from, f.to) {
		upstream.Close()
		return
	}
	defer l.untrack(upstream)
	defer upstream.Close()
	splice(client, upstream)
}

// splice copies a to b and b to a until both directions end. When one side
// finishes sending (EOF), the other side's write half is shut, so a
// half-closed connection stays half-open as TCP allows; an error on either
// side ends both.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		if _, err := io.Copy(dst, src); err != nil {
			a.Close()
			b.Close()
			return
		}
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go pipe(a, b)
	go pipe(b, a)
	wg.Wait()
}
