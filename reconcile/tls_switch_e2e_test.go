package reconcile_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"

	"github.com/redis-gitops/redis-gitops/internal/tlstest"
	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/tlsplan"
)

// TestTLSSwitchAndRenewal: a plaintext 3x1 cluster holding keys is
// switched to TLS in one pass while a client writes, and moves to TLS
// when its plaintext port closes, as an application would: the pods
// restart once with the certificate (both ports open), then bus,
// replication and redirections go to TLS on every node at once and the
// plaintext port closes. Every write the client had acknowledged reads
// back over TLS, and no node serves plaintext any more. Then the Secret is
// renewed while a TLS client writes: the next pass (the daemon's Secret
// watch starts it) has every node serve the new certificate to a fresh
// handshake, with no pod restarted and no write failed. Last, spec.tls is
// removed: the nodes come back to plaintext, then restart without the
// certificate, and every key reads back over plaintext.
func TestTLSSwitchAndRenewal(t *testing.T) {
	ctx := context.Background()
	ca := tlstest.NewCA(t, "switch e2e CA")
	h := newHarness(t, "tlsswitch")
	h.pass()
	h.fill(2000)

	// Switch on, under a writer that moves to TLS when plaintext fails.
	w := startMovingWriter(h.data(), h.tlsData(ca))
	h.withTLS(ca)
	oc := h.pass()
	time.Sleep(time.Second)
	acked, failed := w.finish()
	p := oc.Topology.TLS
	if p == nil || !p.Done || p.Stage != tlsplan.Only || p.From != tlsplan.Listening {
		t.Fatalf("the switch: %+v, want done from both ports (after the roll) to TLS only", p)
	}
	for _, a := range oc.Report.Actions {
		t.Logf("action: %s", a)
	}
	secure := h.tlsData(ca)
	defer secure.Close()
	lost := 0
	for k, v := range acked {
		if got, err := secure.Get(ctx, k).Result(); err != nil || got != v {
			lost++
		}
	}
	for i := range 2000 {
		if _, err := secure.Get(ctx, fmt.Sprintf("key:%d", i)).Result(); err != nil {
			lost++
		}
	}
	t.Logf("switch: %d writes acknowledged, %d failed while the client moved to TLS", len(acked), failed)
	if lost > 0 || len(acked) == 0 {
		t.Errorf("%d keys lost of %d acknowledged and 2000 filled", lost, len(acked))
	}
	for name, pod := range h.pods() {
		c := redis.NewClient(&redis.Options{Addr: net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(render.ClientPort)), MaxRetries: -1, DisableIdentity: true})
		if err := c.Ping(ctx).Err(); err == nil {
			t.Errorf("%s still serves plaintext", name)
		}
		c.Close()
	}

	// Renewal under a TLS writer: no failed write, no restart.
	before := h.pods()
	w2 := startMovingWriter(h.tlsData(ca), nil)
	renewed := ca.Issue(t, tlstest.Leaf{DNSNames: tlsNames(h)})
	h.putTLSSecret(ca.SecretData(renewed))
	start := time.Now()
	oc = h.pass()
	t.Logf("renewal reached every node in %s (the kubelet writes Secrets into running pods after a delay)", time.Since(start).Round(time.Second))
	time.Sleep(time.Second)
	acked, failed = w2.finish()
	if failed > 0 || len(acked) == 0 {
		t.Errorf("during the renewal: %d writes acknowledged, %d failed", len(acked), failed)
	}
	if cr := oc.Topology.Certificates; cr == nil || len(cr.Stale) > 0 || cr.Reloads == 0 {
		t.Errorf("certificate reload: %+v, want every node reloaded and none stale", cr)
	}
	want := tlsplan.Fingerprint(renewed.Cert)
	cfg := &tls.Config{RootCAs: ca.Pool()}
	for name, pod := range h.pods() {
		if b := before[name]; b.UID != pod.UID || restarts(b) != restarts(pod) {
			t.Errorf("%s restarted during the renewal", name)
		}
		got, err := converge.ServedCertificate(ctx, net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(render.TLSPort)), cfg)
		if err != nil || got != want {
			t.Errorf("%s serves %s (%v), want the renewed certificate %s", name, got, err, want)
		}
	}

	// Off again: spec.tls removed. The nodes come back to plaintext at
	// runtime first (the pods keep their certificate meanwhile), then the
	// pods restart without it, all on the plaintext bus.
	h.c.Spec.TLS = nil
	oc = h.pass()
	if p := oc.Topology.TLS; p == nil || !p.Done || p.Stage != tlsplan.Off {
		t.Fatalf("the switch back: %+v, want done at plaintext", p)
	}
	h.check()
	plain := h.data()
	defer plain.Close()
	for i := range 2000 {
		if _, err := plain.Get(ctx, fmt.Sprintf("key:%d", i)).Result(); err != nil {
			t.Fatalf("key:%d after the switch back to plaintext: %v", i, err)
		}
	}
	for name, pod := range h.pods() {
		if _, err := converge.ServedCertificate(ctx, net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(render.TLSPort)), cfg); err == nil {
			t.Errorf("%s still serves TLS", name)
		}
		for _, v := range pod.Spec.Volumes {
			if v.Secret != nil && v.Secret.SecretName == "cache-tls" {
				t.Errorf("%s still mounts the certificate", name)
			}
		}
	}
}

func restarts(p corev1.Pod) int32 {
	var n int32
	for _, s := range p.Status.ContainerStatuses {
		n += s.RestartCount
	}
	return n
}

// movingWriter writes keys in a loop through first and, when first fails,
// through then (nil: no second client), as an application moving to TLS
// would; each write is tried up to 20 times, 50 ms apart.
type movingWriter struct {
	first, then *redis.ClusterClient
	stop        context.CancelFunc
	done        chan struct{}
	mu          sync.Mutex
	acked       map[string]string
	failed      atomic.Int64
}

func startMovingWriter(first, then *redis.ClusterClient) *movingWriter {
	ctx, cancel := context.WithCancel(context.Background())
	w := &movingWriter{first: first, then: then, stop: cancel, done: make(chan struct{}), acked: map[string]string{}}
	go func() {
		defer close(w.done)
		for i := 0; ctx.Err() == nil; i++ {
			k, v := fmt.Sprintf("moving:%d", i%5000), fmt.Sprintf("v%d", i)
			var err error
			for attempt := 0; attempt < 20; attempt++ {
				if attempt > 0 {
					time.Sleep(50 * time.Millisecond)
				}
				if err = w.first.Set(context.Background(), k, v, 0).Err(); err == nil {
					break
				}
				if w.then != nil {
					if err = w.then.Set(context.Background(), k, v, 0).Err(); err == nil {
						break
					}
				}
			}
			if err != nil {
				w.failed.Add(1)
				continue
			}
			w.mu.Lock()
			w.acked[k] = v
			w.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return w
}

func (w *movingWriter) finish() (map[string]string, int64) {
	w.stop()
	<-w.done
	w.first.Close()
	if w.then != nil {
		w.then.Close()
	}
	return w.acked, w.failed.Load()
}
