package converge

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-gitops/redis-gitops/internal/redistest"
	"github.com/redis-gitops/redis-gitops/internal/tlstest"
	"github.com/redis-gitops/redis-gitops/reconcile/tlsplan"
)

// TestTLSSwitchOnLiveNodes switches a real 3×1 cluster holding keys from
// plaintext to TLS and back, at runtime, by the plan's steps: at the end
// of each way the nodes serve only the protocol of the target, the bus and
// replication run in it, every key reads back, cluster clients are
// redirected to ports they can use, and no replica needed a full resync.
func TestTLSSwitchOnLiveNodes(t *testing.T) {
	ctx := context.Background()
	ca := tlstest.NewCA(t, "switch-ca")
	dir := ca.Files(t, ca.Issue(t, tlstest.Leaf{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}))
	nodes := redistest.Start(t, 6,
		"tls-cert-file "+filepath.Join(dir, "tls.crt"),
		"tls-key-file "+filepath.Join(dir, "tls.key"),
		"tls-ca-cert-file "+filepath.Join(dir, "ca.crt"),
		"tls-auth-clients no",
		// The bus port stated, as the renderer states it: flipping
		// tls-cluster would otherwise move it to tls-port + 10000.
		"cluster-port {bus}",
		"repl-diskless-sync-delay 0")
	redistest.Cluster(t, nodes, 3)
	clientTLS := &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}

	plain := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{nodes[0].Addr()}, DisableIdentity: true})
	defer plain.Close()
	const keys = 1000
	for i := range keys {
		if err := plain.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	fullSyncs := func() int {
		n := 0
		for _, x := range nodes {
			n += infoInt(t, x.Client, "stats", "sync_full")
		}
		return n
	}
	before := fullSyncs()

	// Connections opened while the plaintext port is open stay up after
	// it closes (and the same for TLS on the way back).
	admins := map[string]Admin{}
	for _, n := range nodes {
		admins[n.Addr()] = &redisAdmin{c: redis.NewClient(&redis.Options{Addr: n.Addr(), DisableIdentity: true, MaxRetries: -1})}
	}
	switchTo := func(target tlsplan.Stage, wantStages ...tlsplan.Stage) {
		t.Helper()
		var read []tlsplan.Node
		for _, n := range nodes {
			tn, err := ReadTLSNode(ctx, admins[n.Addr()], n.Addr(), tlsplan.Ports{Plain: n.Port, TLS: redistest.TLSPort(n.Port)})
			if err != nil {
				t.Fatal(err)
			}
			read = append(read, tn)
		}
		steps := tlsplan.PlanSwitch(read, nil, target)
		var staged []tlsplan.Stage
		done, err := RunTLSSwitch(ctx, admins, steps, func(_ context.Context, s tlsplan.Stage) error {
			staged = append(staged, s)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(done) != len(steps) {
			t.Fatalf("ran %d of %d steps", len(done), len(steps))
		}
		if !slices.Equal(staged, wantStages) {
			t.Errorf("stages written to the pods' configuration: %v, want %v", staged, wantStages)
		}
	}

	switchTo(tlsplan.Only, tlsplan.Listening, tlsplan.Bus, tlsplan.Only)
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr(), DisableIdentity: true, MaxRetries: -1})
		if err := c.Ping(ctx).Err(); err == nil {
			t.Errorf("%s: plaintext still served after the switch to TLS", n.Addr())
		}
		c.Close()
	}
	secure := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.TLSPort(nodes[0].Port)))},
		TLSConfig: clientTLS, DisableIdentity: true})
	defer secure.Close()
	eventually(t, 20*time.Second, "every node announces its TLS port and the cluster is ok", func() error {
		return clusterUses(ctx, nodes, admins, func(n *redistest.Node) int { return redistest.TLSPort(n.Port) })
	})
	readAll(t, ctx, secure, keys)
	replicasLinked(t, ctx, nodes, admins, func(n *redistest.Node) int { return redistest.TLSPort(n.Port) })

	switchTo(tlsplan.Off, tlsplan.Bus, tlsplan.Listening, tlsplan.Off)
	eventually(t, 20*time.Second, "every node announces its plaintext port and the cluster is ok", func() error {
		return clusterUses(ctx, nodes, admins, func(n *redistest.Node) int { return n.Port })
	})
	fresh := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{nodes[0].Addr()}, DisableIdentity: true})
	defer fresh.Close()
	readAll(t, ctx, fresh, keys)
	replicasLinked(t, ctx, nodes, admins, func(n *redistest.Node) int { return n.Port })
	for _, n := range nodes {
		c, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.TLSPort(n.Port))), clientTLS)
		if err == nil {
			c.Close()
			t.Errorf("%s: TLS still served after the switch back", n.Addr())
		}
	}
	if got := fullSyncs(); got != before {
		t.Errorf("full resyncs: %d before the switches, %d after: a replica was resynced from scratch", before, got)
	}
}

func infoInt(t *testing.T, c *redis.Client, section, key string) int {
	t.Helper()
	s, err := c.Info(context.Background(), section).Result()
	if err != nil {
		// The node's plaintext port may be closed: the caller reads
		// before and after, with it open.
		t.Fatalf("INFO %s: %v", section, err)
	}
	for _, l := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// clusterUses checks every node says cluster_state:ok and lists every node
// at its port as port().
func clusterUses(ctx context.Context, nodes []*redistest.Node, admins map[string]Admin, port func(*redistest.Node) int) error {
	for _, n := range nodes {
		info, err := doString(ctx, admins[n.Addr()], "CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster_state not ok", n.Addr())
		}
		text, err := doString(ctx, admins[n.Addr()], "CLUSTER", "NODES")
		if err != nil {
			return err
		}
		for _, m := range nodes {
			want := fmt.Sprintf(" 127.0.0.1:%d@%d ", port(m), m.Port+10000)
			if !strings.Contains(text, want) {
				return fmt.Errorf("%s does not list %s at%s:\n%s", n.Addr(), m.ID, want, text)
			}
		}
	}
	return nil
}

func readAll(t *testing.T, ctx context.Context, c *redis.ClusterClient, keys int) {
	t.Helper()
	for i := range keys {
		v, err := c.Get(ctx, fmt.Sprintf("k%d", i)).Int()
		if err != nil || v != i {
			t.Fatalf("k%d: %v %v", i, v, err)
		}
	}
}

// replicasLinked: every replica's link to its master is up, through the
// master's port of the protocol in use.
func replicasLinked(t *testing.T, ctx context.Context, nodes []*redistest.Node, admins map[string]Admin, port func(*redistest.Node) int) {
	t.Helper()
	ports := map[string]bool{}
	for _, n := range nodes {
		ports[strconv.Itoa(port(n))] = true
	}
	eventually(t, 20*time.Second, "replication links up on the protocol in use", func() error {
		linked := 0
		for _, n := range nodes {
			info, err := doString(ctx, admins[n.Addr()], "INFO", "replication")
			if err != nil {
				return err
			}
			if !strings.Contains(info, "role:slave") {
				continue
			}
			if !strings.Contains(info, "master_link_status:up") {
				return fmt.Errorf("%s: link not up", n.Addr())
			}
			for _, l := range strings.Split(info, "\r\n") {
				if p, ok := strings.CutPrefix(l, "master_port:"); ok && !ports[p] {
					return fmt.Errorf("%s replicates through port %s", n.Addr(), p)
				}
			}
			linked++
		}
		if linked != 3 {
			return fmt.Errorf("%d replicas linked, want 3", linked)
		}
		return nil
	})
}

func eventually(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestCertificateReloadOnLiveNode: a renewed certificate written over the
// files a node runs with is served to the next handshake after CONFIG SET
// of the same path, with no restart, while a connection made before stays
// up; ServedCertificate tells the two certificates apart.
func TestCertificateReloadOnLiveNode(t *testing.T) {
	ctx := context.Background()
	ca := tlstest.NewCA(t, "reload-ca")
	ip := []net.IP{net.IPv4(127, 0, 0, 1)}
	first, renewed := ca.Issue(t, tlstest.Leaf{IPs: ip}), ca.Issue(t, tlstest.Leaf{IPs: ip})
	dir := ca.Files(t, first)
	n := redistest.Start(t, 1, "tls-port {tls-port}", "tls-cert-file "+filepath.Join(dir, "tls.crt"),
		"tls-key-file "+filepath.Join(dir, "tls.key"), "tls-ca-cert-file "+filepath.Join(dir, "ca.crt"), "tls-auth-clients no")[0]
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.TLSPort(n.Port)))
	cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}
	before := redis.NewClient(&redis.Options{Addr: addr, TLSConfig: cfg, DisableIdentity: true})
	defer before.Close()
	if err := before.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	served := func() string {
		t.Helper()
		fp, err := ServedCertificate(ctx, addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return fp
	}
	if got, want := served(), tlsplan.Fingerprint(first.Cert); got != want {
		t.Fatalf("served %s, want the first certificate %s", got, want)
	}
	renewedDir := ca.Files(t, renewed)
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Rename(filepath.Join(renewedDir, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := served(), tlsplan.Fingerprint(first.Cert); got != want {
		t.Fatalf("before the reload: served %s, want still the first certificate", got)
	}
	if err := n.Client.ConfigSet(ctx, "tls-cert-file", filepath.Join(dir, "tls.crt")).Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := served(), tlsplan.Fingerprint(renewed.Cert); got != want {
		t.Errorf("after the reload: served %s, want the renewed certificate %s", got, want)
	}
	if err := before.Ping(ctx).Err(); err != nil {
		t.Errorf("a connection made before the reload: %v", err)
	}
}

// TestEitherPort: in the middle of a switch the daemon reaches a node with
// a TLS listener over TLS, and one without over plaintext, whatever port
// the address it was given names.
func TestEitherPort(t *testing.T) {
	ctx := context.Background()
	ca := tlstest.NewCA(t, "either-ca")
	dir := ca.Files(t, ca.Issue(t, tlstest.Leaf{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}))
	files := []string{"tls-cert-file " + filepath.Join(dir, "tls.crt"), "tls-key-file " + filepath.Join(dir, "tls.key"), "tls-ca-cert-file " + filepath.Join(dir, "ca.crt"), "tls-auth-clients no"}
	withTLS := redistest.Start(t, 1, append(files, "tls-port {tls-port}")...)[0]
	plainOnly := redistest.Start(t, 1, files...)[0]
	// The node with TLS closes its plaintext port, as at the end of a switch.
	if err := withTLS.Client.ConfigSet(ctx, "port", "0").Err(); err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}
	tlsDial := func(addr string) Admin {
		return &redisAdmin{c: redis.NewClient(&redis.Options{Addr: addr, TLSConfig: cfg, DisableIdentity: true, MaxRetries: -1})}
	}
	plainDial := func(addr string) Admin {
		return &redisAdmin{c: redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1})}
	}
	for _, tc := range []struct {
		node *redistest.Node
		port int
	}{
		{withTLS, redistest.TLSPort(withTLS.Port)},
		{plainOnly, plainOnly.Port},
	} {
		// Each node's own ports; the address names neither on purpose.
		dial := EitherPort(tlsDial, plainDial, redistest.TLSPort(tc.node.Port), tc.node.Port)
		a := dial("127.0.0.1:1")
		info, err := doString(ctx, a, "CLIENT", "INFO")
		a.Close()
		if err != nil {
			t.Fatalf("node %d: %v", tc.node.Port, err)
		}
		if want := fmt.Sprintf("laddr=127.0.0.1:%d ", tc.port); !strings.Contains(info, want) {
			t.Errorf("node %d: connected through %q, want %s", tc.node.Port, info, want)
		}
	}
}
