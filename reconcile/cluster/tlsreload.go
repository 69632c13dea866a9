package cluster

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/tlsplan"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Renewal waits: the kubelet writes a changed Secret into running pods
// after its own delay (its sync period plus its cache's TTL, about a
// minute by default); a node told to reload before its files changed goes
// on serving the old certificate and is told again.
const (
	reloadEvery = 5 * time.Second
	reloadFor   = 2 * time.Minute
)

// reloadCertificates makes every node with a TLS listener serve the
// certificate the Secret holds now, with no restart: each node serving
// another one (read by a fresh handshake) is told to load its files again
// (CONFIG SET tls-cert-file of the same path: Redis reloads certificate,
// key and CA files together, and connections made before keep going).
// Nodes still serving the old certificate are told again every
// reloadEvery for up to reloadFor, then reported as waiting for the
// kubelet. With dryRun it only reads.
func (r *Redis) reloadCertificates(ctx context.Context, c *spec.RedisCluster, dial converge.Dialer, pods []topology.Pod, dryRun bool) (*converge.CertReload, error) {
	if c.Spec.TLS == nil {
		return nil, nil
	}
	m, err := r.readTLS(ctx, c)
	if err != nil {
		return nil, err
	}
	want := tlsplan.Fingerprint(m.Leaf)
	cfg := m.ClientConfig(true) // a client certificate, in case the nodes require one
	read := func() []tlsplan.Served {
		var out []tlsplan.Served
		for _, p := range pods {
			if p.IP == "" {
				continue
			}
			fp, err := converge.ServedCertificate(ctx, net.JoinHostPort(p.IP, strconv.Itoa(render.TLSPort)), cfg)
			out = append(out, tlsplan.Served{Pod: p.Name, Fingerprint: fp, Err: err})
		}
		return out
	}
	ip := map[string]string{}
	for _, p := range pods {
		ip[p.Name] = p.IP
	}
	res := &converge.CertReload{Serial: m.Leaf.SerialNumber.Text(16)}
	reload, unread := tlsplan.Reload(read(), want)
	res.Stale, res.Unread = reload, unread
	if dryRun || len(reload) == 0 {
		return res, nil
	}
	deadline := time.Now().Add(reloadFor)
	for {
		for _, pod := range reload {
			a := dial(net.JoinHostPort(ip[pod], strconv.Itoa(render.TLSPort)))
			_, err := a.Do(ctx, "CONFIG", "SET", "tls-cert-file", render.TLSCertFile)
			a.Close()
			if err != nil {
				return res, fmt.Errorf("tls: %s: reload its certificate: %w", pod, err)
			}
		}
		res.Reloads += len(reload)
		reload, unread = tlsplan.Reload(read(), want)
		res.Stale, res.Unread = reload, unread
		if len(reload) == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(reloadEvery):
		}
	}
	if r.Log != nil {
		r.Log.Info("tls certificate reloaded", "cluster", c.Key(), "serial", res.Serial, "reloads", res.Reloads, "stillOld", len(res.Stale), "unread", len(res.Unread))
	}
	return res, nil
}
