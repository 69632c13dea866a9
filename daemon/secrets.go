package daemon

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/redis-gitops/redis-gitops/spec"
)

// DefaultSecretPoll is how often the daemon looks for a changed password
// Secret.
const DefaultSecretPoll = 15 * time.Second

// watchSecrets scans a cluster as soon as the Secret its password comes
// from changes (a rotation is a change in Kubernetes, not in Git, so no
// push or poll of the repo would start it). It reads the resourceVersion
// of each such Secret every interval, one GET per cluster with auth, and
// keeps no Secret's content.
func (d *Daemon) watchSecrets(ctx context.Context, client kubernetes.Interface, interval time.Duration) {
	seen := map[string]string{} // cluster -> namespace/secret@resourceVersion
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		d.mu.Lock()
		clusters := d.clusters
		d.mu.Unlock()
		for _, key := range changedSecrets(ctx, client, clusters, seen) {
			d.Log.Info("auth secret changed: scanning now", "cluster", key)
			d.due(key, "secret")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// changedSecrets returns the clusters whose auth Secret changed since
// seen was last updated (the first look at a Secret is no change).
func changedSecrets(ctx context.Context, client kubernetes.Interface, clusters []*spec.RedisCluster, seen map[string]string) []string {
	var out []string
	for _, c := range clusters {
		if c.Spec.Auth == nil || c.Spec.Reconcile.Suspend {
			continue
		}
		ns, name := c.Metadata.Namespace, c.Spec.Auth.SecretRef.Name
		s, err := client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue // the pass reports a missing Secret
		}
		v := ns + "/" + name + "@" + s.ResourceVersion
		if old, ok := seen[c.Key()]; ok && old != v {
			out = append(out, c.Key())
		}
		seen[c.Key()] = v
	}
	return out
}
