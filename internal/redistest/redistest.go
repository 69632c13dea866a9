// Package redistest runs real redis-server processes on loopback for tests
// and benchmarks that need a Redis Cluster but not Kubernetes (the slot
// migration engine, and redis-cli as its anchor). Each node is a process
// in its own temp dir; Cleanup kills them all.
package redistest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Node is one redis-server with cluster-enabled yes on loopback.
type Node struct {
	// IP is its loopback address: 127.0.0.1, or with StartOnePort one of
	// its own.
	IP     string
	Port   int
	ID     string
	Client *redis.Client // a plain client to this node only
	Dir    string
	cmd    *exec.Cmd
}

// Addr is ip:port.
func (n *Node) Addr() string { return net.JoinHostPort(n.IP, strconv.Itoa(n.Port)) }

// Start runs n empty cluster-enabled nodes that know no peer. extra are
// redis.conf lines added to each node's configuration, in which {port},
// {bus} and {tls-port} stand for the node's client port, its bus port
// (port + 10000) and a third free port (port + 20000) for TLS.
func Start(tb testing.TB, n int, extra ...string) []*Node {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redistest: redis-server not found (make deps installs it): %v", err)
	}
	var nodes []*Node
	for i := 0; i < n; i++ {
		var node *Node
		for attempt := 0; ; attempt++ {
			var port int
			if port, err = freePortPair(loopback); err == nil {
				node, err = startOne(tb, bin, loopback, port, extra)
			}
			if err == nil {
				break
			}
			if attempt == 5 {
				tb.Fatalf("redistest: %v", err)
			}
		}
		nodes = append(nodes, node)
	}
	return nodes
}

// StartOnePort is Start with every node on the same ports, each on a
// loopback address of its own (127.0.0.2, 127.0.0.3, ...), as pods are on
// theirs: code that reaches nodes by IP and one port (the reconciler's
// executor, a CLUSTER MEET of a plan) runs against them unchanged.
func StartOnePort(tb testing.TB, n int, extra ...string) []*Node {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redistest: redis-server not found (make deps installs it): %v", err)
	}
	ips := make([]string, n)
	for i := range ips {
		ips[i] = fmt.Sprintf("127.0.0.%d", i+2)
	}
	for attempt := 0; ; attempt++ {
		port, err := freePortPair(ips...)
		var nodes []*Node
		for _, ip := range ips {
			if err != nil {
				break
			}
			var node *Node
			if node, err = startOne(tb, bin, ip, port, extra); err == nil {
				nodes = append(nodes, node)
			}
		}
		if err == nil {
			return nodes
		}
		for _, node := range nodes {
			node.Kill() // a port taken meanwhile: start all again on another
		}
		if attempt == 5 {
			tb.Fatalf("redistest: %v", err)
		}
	}
}

const loopback = "127.0.0.1"

func startOne(tb testing.TB, bin, ip string, port int, extra []string) (*Node, error) {
	dir := tb.TempDir()
	ports := strings.NewReplacer("{port}", strconv.Itoa(port), "{bus}", strconv.Itoa(port+10000), "{tls-port}", strconv.Itoa(TLSPort(port)))
	var lines []string
	if ip != loopback {
		// Connections out (the bus, replication) leave from the node's own
		// address, not 127.0.0.1, so that peers see it where it listens
		// (Redis 7.0 and later).
		lines = append(lines, "bind-source-addr "+ip)
	}
	for _, l := range extra {
		lines = append(lines, ports.Replace(l))
	}
	conf := strings.Join(append([]string{
		"bind " + ip,
		"port " + strconv.Itoa(port),
		"cluster-enabled yes",
		"cluster-config-file nodes.conf",
		"cluster-node-timeout 5000",
		"dir " + dir,
		"save \"\"",
		"appendonly no",
		"daemonize no",
		"protected-mode no",
		"logfile " + filepath.Join(dir, "redis.log"),
	}, lines...), "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "redis.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, filepath.Join(dir, "redis.conf"))
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	n := &Node{IP: ip, Port: port, Dir: dir, cmd: cmd}
	n.Client = redis.NewClient(&redis.Options{Addr: n.Addr(), DisableIdentity: true, ReadTimeout: 30 * time.Second})
	tb.Cleanup(func() {
		_ = n.Client.Close()
		_ = cmd.Process.Kill()
		<-exited
	})
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		id, err := n.Client.ClusterMyID(ctx).Result()
		if err == nil {
			n.ID = id
			return n, nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			return nil, fmt.Errorf("redis-server on port %d exited: %s", port, log)
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("redis-server on port %d: not answering: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the node's process at once (SIGKILL), as a crash would.
func (n *Node) Kill() { _ = n.cmd.Process.Kill() }

// TLSPort is the TLS port Start gives a node of client port p.
func TLSPort(p int) int { return p + 20000 }

// freePortPair finds a port p such that p, its cluster bus port p+10000
// and its TLS port are free on each of the loopback addresses ips.
func freePortPair(ips ...string) (int, error) {
	for range 100 {
		p := 20000 + rand.IntN(20000)
		ok := true
		for _, ip := range ips {
			ok = ok && free(ip, p) && free(ip, p+10000) && free(ip, TLSPort(p))
		}
		if ok {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free port pair found on %v", ips)
}

func free(ip string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// Cluster forms a cluster out of fresh nodes: the first masters nodes
// share the slots evenly (as redis-cli --cluster create splits them), the
// rest replicate masters in turn. It returns once every node says
// cluster_state:ok and agrees on the slot owners.
func Cluster(tb testing.TB, nodes []*Node, masters int) {
	tb.Helper()
	ctx := context.Background()
	for i, n := range nodes {
		if err := n.Client.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			tb.Fatalf("redistest: set-config-epoch: %v", err)
		}
	}
	for _, n := range nodes[1:] {
		if err := nodes[0].Client.ClusterMeet(ctx, n.IP, strconv.Itoa(n.Port)).Err(); err != nil {
			tb.Fatalf("redistest: meet: %v", err)
		}
	}
	for i := 0; i < masters; i++ {
		lo, hi := i*16384/masters, (i+1)*16384/masters-1
		if err := nodes[i].Client.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			tb.Fatalf("redistest: addslots: %v", err)
		}
	}
	// Every node, replicas too, must know its master before CLUSTER
	// REPLICATE names it ("ERR Unknown node" otherwise, seen under load).
	WaitAgree(tb, nodes, len(nodes))
	for i, n := range nodes[masters:] {
		m := nodes[i%masters]
		if err := n.Client.ClusterReplicate(ctx, m.ID).Err(); err != nil {
			tb.Fatalf("redistest: replicate: %v", err)
		}
	}
	WaitAgree(tb, nodes, len(nodes))
}

// Join meets fresh nodes into the cluster of anchor as empty masters, and
// waits until every node knows every other.
func Join(tb testing.TB, anchor *Node, all []*Node, fresh ...*Node) {
	tb.Helper()
	ctx := context.Background()
	for _, n := range fresh {
		if err := anchor.Client.ClusterMeet(ctx, n.IP, strconv.Itoa(n.Port)).Err(); err != nil {
			tb.Fatalf("redistest: meet: %v", err)
		}
	}
	WaitAgree(tb, all, len(all))
}

// WaitAgree waits until every node says cluster_state:ok, knows want nodes
// past the handshake, and reports the same slot owners.
func WaitAgree(tb testing.TB, nodes []*Node, want int) {
	tb.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, why := agree(ctx, nodes, want)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: cluster not settled after 60s: %s", why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func agree(ctx context.Context, nodes []*Node, want int) (bool, string) {
	first := ""
	for _, n := range nodes {
		info, err := n.Client.ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			return false, fmt.Sprintf("node %d: not ok (%v)", n.Port, err)
		}
		text, err := n.Client.ClusterNodes(ctx).Result()
		if err != nil {
			return false, err.Error()
		}
		var known int
		var owners []string
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			f := strings.Fields(line)
			if len(f) < 8 || strings.Contains(f[2], "handshake") {
				continue
			}
			known++
			if len(f) > 8 && strings.Contains(f[2], "master") {
				var ranges []string
				for _, s := range f[8:] {
					if !strings.HasPrefix(s, "[") {
						ranges = append(ranges, s)
					}
				}
				owners = append(owners, f[0]+"="+strings.Join(ranges, ","))
			}
		}
		if known != want {
			return false, fmt.Sprintf("node %d knows %d nodes, want %d", n.Port, known, want)
		}
		slices.Sort(owners)
		sig := strings.Join(owners, " ")
		if first == "" {
			first = sig
		} else if sig != first {
			return false, "nodes disagree on slot owners"
		}
	}
	return true, ""
}
