package serviceproxy

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// TCPForward accepts connections on one address and forwards each to a
// fixed target. The sandbox uses it to give pods the API server: it
// listens on the bridge gateway, which pods reach, and dials the API
// server on 127.0.0.1, which they do not.
type TCPForward struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// ListenForward listens on listen (host:port) and forwards to target.
func ListenForward(listen, target string) (*TCPForward, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("forward %s to %s: %w", listen, target, err)
	}
	f := &TCPForward{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

// Addr is the listening address.
func (f *TCPForward) Addr() net.Addr { return f.ln.Addr() }

func (f *TCPForward) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		if !f.track(c) {
			c.Close()
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.untrack(c)
			defer c.Close()
			up, err := net.DialTimeout("tcp", f.target, 5*time.Second)
			if err != nil {
				return
			}
			if !f.track(up) {
				up.Close()
				return
			}
			defer f.untrack(up)
			defer up.Close()
			splice(c, up)
		}()
	}
}

func (f *TCPForward) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *TCPForward) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

// Close stops listening, ends every forwarded connection (long watches
// included) and waits for the forwarding goroutines.
func (f *TCPForward) Close() error {
	f.mu.Lock()
	f.closed = true
	conns := f.conns
	f.conns = map[net.Conn]struct{}{}
	f.mu.Unlock()
	err := f.ln.Close()
	for c := range conns {
		c.Close()
	}
	f.wg.Wait()
	return err
}
