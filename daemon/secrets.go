package daemon

import (
	"context"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/redis-gitops/redis-gitops/spec"
)

// DefaultSecretPoll is how often the daemon looks for a changed password
// or certificate Secret.
const DefaultSecretPoll = 15 * time.Second

// watchSecrets scans a cluster as soon as a Secret it takes its password
// or its certificate from changes (a rotation or a renewal is a change in
// Kubernetes, not in Git, so no push or poll of the repo would start it).
// It reads the resourceVersion of each such Secret every interval, one GET
// per Secret, and keeps no Secret's content.
func (d *Daemon) watchSecrets(ctx context.Context, client kubernetes.Interface, interval time.Duration) {
	seen := map[string]string{} // cluster -> namespace/secret@resourceVersion
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		d.mu.Lock()
		clusters := d.clusters
		d.mu.Unlock()
		for _, key := range changedSecrets(ctx, client, clusters, seen) {
			d.Log.Info("secret changed: scanning now", "cluster", key)
			d.due(key, "secret")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// changedSecrets returns the clusters one of whose Secrets changed since
// seen was last updated (the first look at a Secret is no change).
func changedSecrets(ctx context.Context, client kubernetes.Interface, clusters []*spec.RedisCluster, seen map[string]string) []string {
	var out []string
	for _, c := range clusters {
		if c.Spec.Reconcile.Suspend {
			continue
		}
		ns := c.Metadata.Namespace
		changed := false
		for _, name := range watchedSecrets(c) {
			s, err := client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				continue // the pass reports a missing Secret
			}
			key, v := c.Key()+" "+name, s.ResourceVersion
			if old, ok := seen[key]; ok && old != v {
				changed = true
			}
			seen[key] = v
		}
		if changed {
			out = append(out, c.Key())
		}
	}
	return out
}

// watchedSecrets are the Secrets of c whose change the nodes must follow:
// its password's, its certificate's and its users' passwords', each once.
func watchedSecrets(c *spec.RedisCluster) []string {
	var out []string
	if c.Spec.Auth != nil {
		out = append(out, c.Spec.Auth.SecretRef.Name)
	}
	if c.Spec.TLS != nil && c.Spec.TLS.SecretRef.Name != "" {
		out = append(out, c.Spec.TLS.SecretRef.Name)
	}
	for _, u := range c.Spec.Users {
		for _, ref := range u.PasswordSecretRefs {
			if !slices.Contains(out, ref.Name) {
				out = append(out, ref.Name)
			}
		}
	}
	return out
}
