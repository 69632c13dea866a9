package serviceproxy

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestSpliceHalfClose: a client that sends, then shuts its write half, still
// gets the whole reply through the proxy, and the server sees the EOF.
func TestSpliceHalfClose(t *testing.T) {
	server, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	// The server reads to EOF, then answers with what it read: the reply
	// only arrives if the proxy passed the client's half-close on and kept
	// the other direction open.
	go func() {
		c, err := server.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		got, _ := io.ReadAll(c)
		c.Write(append([]byte("got:"), got...))
	}()
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	go func() {
		c, err := front.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", server.Addr().String())
		if err != nil {
			c.Close()
			return
		}
		splice(c, up)
		c.Close()
		up.Close()
	}()

	c, err := net.Dial("tcp", front.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("PING")); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(reply), "got:PING"; got != want {
		t.Errorf("reply %q, want %q", got, want)
	}
}

// TestTCPForward: bytes go both ways through the forward, and Close ends a
// connection still open (as a watch would be) instead of waiting for it.
func TestTCPForward(t *testing.T) {
	server, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	go func() {
		for {
			c, err := server.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	f, err := ListenForward("127.0.0.1:0", server.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through forward: %q, %v", buf, err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for an open connection")
	}
	if _, err := io.ReadFull(c, buf); err == nil {
		t.Fatal("connection still open after Close")
	}
	if c2, err := net.Dial("tcp", f.Addr().String()); err == nil {
		c2.Close()
		t.Fatal("still listening after Close")
	}
}
