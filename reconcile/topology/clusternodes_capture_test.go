package topology

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var capture = flag.Bool("capture", false, "regenerate "+capturedDir+" from a live Redis Cluster on 127.0.0.1:30001-30006 (needs redis-server and redis-cli 7.0)")

// TestCaptureClusterNodes regenerates the captured replies:
//
//	go test ./reconcile/topology -run CaptureClusterNodes -capture
//
// It builds a six-node cluster with redis-cli --cluster create, gives 30001 a
// hostname and 30006 nofailover, opens capturedSlot from 30001 to 30002,
// and kills 30005 to get a failed replica.
func TestCaptureClusterNodes(t *testing.T) {
	if !*capture {
		t.Skip("regenerates testdata; run with -capture")
	}
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
	}
	ports := []int{30001, 30002, 30003, 30004, 30005, 30006}
	servers := map[int]*redisServer{}
	for _, p := range ports {
		servers[p] = startRedisServer(t, p)
	}
	create := []string{"--cluster", "create"}
	for _, p := range ports {
		create = append(create, fmt.Sprintf("127.0.0.1:%d", p))
	}
	create = append(create, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(t.Context(), "redis-cli", create...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}

	redisDo(t, 30001, "config", "set", "cluster-announce-hostname", capturedHostname)
	redisDo(t, 30006, "config", "set", "cluster-replica-no-failover", "yes")
	// Right after --cluster create a replica still shows as an empty master,
	// and the hostname and nofailover flag travel by gossip: wait until every
	// node sees the finished cluster.
	for _, p := range ports {
		redisWaitView(t, p, "the formed cluster", func(nodes []ClusterNode) error {
			if len(nodes) != 6 {
				return fmt.Errorf("%d nodes", len(nodes))
			}
			for _, n := range nodes {
				if n.LinkState != "connected" || n.Has("fail?") || n.Has("fail") || n.Has("handshake") {
					return fmt.Errorf("node %d not healthy: %s", n.Port, n.Line())
				}
				if got, want := n.Has("slave"), n.Port >= 30004; got != want {
					return fmt.Errorf("node %d: slave = %v", n.Port, got)
				}
				if n.Port == 30001 && n.Hostname != capturedHostname {
					return fmt.Errorf("no hostname yet: %s", n.Line())
				}
				if n.Port == 30006 && !n.Has("nofailover") {
					return fmt.Errorf("no nofailover yet: %s", n.Line())
				}
			}
			return nil
		})
	}

	srcID := redisDo(t, 30001, "cluster", "myid")
	dstID := redisDo(t, 30002, "cluster", "myid")
	slot := strconv.Itoa(capturedSlot)
	redisDo(t, 30002, "cluster", "setslot", slot, "importing", srcID)
	redisDo(t, 30001, "cluster", "setslot", slot, "migrating", dstID)
	writeCapture(t, migratingFile, redisDo(t, 30001, "cluster", "nodes"))
	writeCapture(t, importingFile, redisDo(t, 30002, "cluster", "nodes"))

	servers[30005].stop()
	// PFAIL becomes FAIL once a majority of masters report the node
	// unreachable for cluster-node-timeout.
	redisWaitView(t, 30004, "30005 flagged fail", func(nodes []ClusterNode) error {
		for _, n := range nodes {
			if n.Port == 30005 && n.Has("fail") {
				return nil
			}
		}
		return errors.New("not yet")
	})
	writeCapture(t, failedReplicaFile, redisDo(t, 30004, "cluster", "nodes"))
}

// redisServer is a redis-server process the test owns.
type redisServer struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// startRedisServer starts a cluster-enabled redis-server on 127.0.0.1:port
// (bus port port+10000) in a temporary directory, and kills it when the
// test ends.
func startRedisServer(t *testing.T, port int) *redisServer {
	t.Helper()
	for _, p := range []int{port, port + 10000} {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d is taken: %v", p, err)
		}
		l.Close()
	}
	dir := t.TempDir()
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", "2000",
		"--save", "", "--appendonly", "no", "--logfile", "redis.log")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server on %d: %v", port, err)
	}
	s := &redisServer{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.stop)
	redisWait(t, fmt.Sprintf("redis-server on %d to answer", port), func() error {
		out, err := exec.CommandContext(t.Context(), "redis-cli", "-p", strconv.Itoa(port), "ping").Output()
		if err != nil || strings.TrimSpace(string(out)) != "PONG" {
			return fmt.Errorf("ping: %q, %v", out, err)
		}
		return nil
	})
	return s
}

// stop kills the server and waits for it to exit; stopping twice is fine.
func (s *redisServer) stop() {
	s.cmd.Process.Kill()
	<-s.done
}

// redisDo runs one command against 127.0.0.1:port and returns the reply.
func redisDo(t *testing.T, port int, args ...string) string {
	t.Helper()
	args = append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)
	out, err := exec.CommandContext(t.Context(), "redis-cli", args...).Output()
	reply := strings.TrimSpace(string(out))
	// Without a terminal redis-cli prints error replies bare.
	if err != nil || strings.HasPrefix(reply, "ERR") {
		t.Fatalf("redis-cli %s: %q, %v", strings.Join(args, " "), reply, err)
	}
	return reply
}

// redisWaitView polls the CLUSTER NODES of the node on port until ok accepts it.
func redisWaitView(t *testing.T, port int, what string, ok func([]ClusterNode) error) {
	t.Helper()
	redisWait(t, fmt.Sprintf("%d to see %s", port, what), func() error {
		nodes, err := ParseClusterNodes(redisDo(t, port, "cluster", "nodes"))
		if err != nil {
			return err
		}
		return ok(nodes)
	})
}

func redisWait(t *testing.T, what string, ok func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ok()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func writeCapture(t *testing.T, name, reply string) {
	t.Helper()
	if err := os.MkdirAll(capturedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(capturedDir, name), []byte(reply+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
