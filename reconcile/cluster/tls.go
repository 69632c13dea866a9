package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/certs"
	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/spec"
)

// readTLS reads and parses the cluster's TLS Secret. Its errors name the
// Secret (and the key at fault) and, for a Secret that is there but
// wrong, wrap certs.ErrBadSecret.
func (r *Redis) readTLS(ctx context.Context, c *spec.RedisCluster) (certs.Material, error) {
	name := c.Spec.TLS.SecretRef.Name
	id := c.Metadata.Namespace + "/" + name
	s, err := r.Client.CoreV1().Secrets(c.Metadata.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return certs.Material{}, fmt.Errorf("tls secret %s: %w", id, err)
	}
	return certs.Parse(id, s.Data)
}

// CheckTLS judges the cluster's certificate at now before anything is
// applied (nil, nil without spec.tls): an error, for a Secret that cannot
// be read or that certs.Check refuses, means nothing of the cluster may
// change this pass; the warnings go into the report.
func (r *Redis) CheckTLS(ctx context.Context, c *spec.RedisCluster, now time.Time) ([]string, error) {
	if c.Spec.TLS == nil {
		return nil, nil
	}
	m, err := r.readTLS(ctx, c)
	if err != nil {
		return nil, err
	}
	f := certs.Check(m, certs.NodesFor(c), now, c.Spec.TLS.ExpiryWarning.Duration)
	return f.Warnings, f.Err(m.Secret)
}

// TLS is how the daemon reaches the cluster's nodes: nil without
// spec.tls, else a config trusting the Secret's ca.crt only, presenting
// tls.crt and tls.key when clientAuth is required, and verifying each node
// by its pod's DNS name (see converge.TLS). It reads the Secret each call,
// so a renewed certificate or CA is used from the next pass on.
func (r *Redis) TLS(ctx context.Context, c *spec.RedisCluster) (*converge.TLS, error) {
	if c.Spec.TLS == nil {
		return nil, nil
	}
	m, err := r.readTLS(ctx, c)
	if err != nil {
		return nil, err
	}
	return &converge.TLS{
		Config:     m.ClientConfig(c.Spec.TLS.RequiresClientCert()),
		ServerName: r.podNames(ctx, c, m),
	}, nil
}

// podNames maps a pod IP of the cluster to the name its node is verified
// by: the first of the pod's DNS names the certificate covers (or the
// first, which then fails the handshake with Go's reason). It lists the
// cluster's pods when it meets an IP it does not know (a pod re-created
// during a roll), at most once a second.
func (r *Redis) podNames(ctx context.Context, c *spec.RedisCluster, m certs.Material) func(host string) string {
	var (
		mu     sync.Mutex
		byIP   = map[string]string{}
		listed time.Time
	)
	return func(host string) string {
		mu.Lock()
		defer mu.Unlock()
		if name, ok := byIP[host]; ok || time.Since(listed) < time.Second {
			return name
		}
		listed = time.Now()
		list, err := r.Client.CoreV1().Pods(c.Metadata.Namespace).List(ctx, metav1.ListOptions{LabelSelector: render.ManagedSelector(c.Metadata.Name)})
		if err != nil {
			return "" // the handshake fails, with the dial's error
		}
		for _, p := range list.Items {
			if p.Status.PodIP == "" || p.Status.Phase != corev1.PodRunning {
				continue
			}
			n := certs.NodeFor(c, p.Name)
			name := certs.ServerName(m.Leaf, n)
			if name == "" {
				name = n.DNSNames[0]
			}
			byIP[p.Status.PodIP] = name
		}
		return byIP[host]
	}
}
