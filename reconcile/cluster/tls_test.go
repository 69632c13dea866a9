package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/redis-gitops/redis-gitops/internal/tlstest"
	"github.com/redis-gitops/redis-gitops/reconcile/certs"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/spec"
)

func tlsSpec(clientAuth string) *spec.RedisCluster {
	one := 1
	c := &spec.RedisCluster{Metadata: spec.Metadata{Namespace: "shop", Name: "cache"},
		Spec: spec.ClusterSpec{Masters: 3, ReplicasPerMaster: &one, TLS: &spec.TLS{SecretRef: spec.TLSSecretRef{Name: "cache-tls"}, ClientAuth: clientAuth}}}
	c.SetDefaults()
	return c
}

func secret(data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cache-tls"}, Type: corev1.SecretTypeTLS, Data: data}
}

// CheckTLS, the check before anything is applied: a Secret that is not
// there, lacks a key, or holds a certificate that breaks the cluster is
// an error naming the Secret; a good one passes, with its warnings.
func TestCheckTLS(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	ca := tlstest.NewCA(t, "ca")
	good := ca.SecretData(ca.Issue(t, tlstest.Leaf{DNSNames: []string{"*.cache-nodes.shop.svc"}}))
	noCA := ca.SecretData(ca.Issue(t, tlstest.Leaf{DNSNames: []string{"*.cache-nodes.shop.svc"}}))
	delete(noCA, "ca.crt")
	soon := ca.SecretData(ca.Issue(t, tlstest.Leaf{DNSNames: []string{"*.cache-nodes.shop.svc"}, NotAfter: now.Add(24 * time.Hour)}))
	other := ca.SecretData(ca.Issue(t, tlstest.Leaf{DNSNames: []string{"*.other-nodes.shop.svc"}}))
	tests := []struct {
		name     string
		objs     []*corev1.Secret
		wantErr  string
		bad      bool // wraps certs.ErrBadSecret
		warnings int
	}{
		{"no Secret", nil, `tls secret shop/cache-tls: secrets "cache-tls" not found`, false, 0},
		{"no ca.crt", []*corev1.Secret{secret(noCA)}, "tls secret shop/cache-tls: ca.crt: missing or empty", true, 0},
		{"the names of another cluster", []*corev1.Secret{secret(other)}, "tls secret shop/cache-tls: tls.crt covers none of the pods", true, 0},
		{"expires tomorrow", []*corev1.Secret{secret(soon)}, "", false, 1},
		{"good", []*corev1.Secret{secret(good)}, "", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			for _, s := range tt.objs {
				if _, err := client.CoreV1().Secrets("shop").Create(ctx, s, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			r := &Redis{Client: client}
			warnings, err := r.CheckTLS(ctx, tlsSpec(spec.ClientAuthNone), now)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckTLS: %v", err)
				}
			} else if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || errors.Is(err, certs.ErrBadSecret) != tt.bad {
				t.Fatalf("CheckTLS: %v, want %q (ErrBadSecret %v)", err, tt.wantErr, tt.bad)
			}
			if len(warnings) != tt.warnings {
				t.Errorf("warnings %q, want %d", warnings, tt.warnings)
			}
		})
	}
	if w, err := (&Redis{Client: fake.NewClientset()}).CheckTLS(ctx, &spec.RedisCluster{}, now); w != nil || err != nil {
		t.Errorf("without spec.tls: %v, %v", w, err)
	}
}

// TLS maps each pod IP to the DNS name its node is verified by, the form
// the certificate carries, listing the pods again for an IP it has not
// seen (a re-created pod); it presents the client certificate only with
// clientAuth required.
func TestTLSConfigNamesNodesByPod(t *testing.T) {
	ctx := context.Background()
	ca := tlstest.NewCA(t, "ca")
	pod := func(name, ip string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Labels: map[string]string{
			render.LabelManagedBy: render.ManagedByValue, render.LabelCluster: "cache"}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip}}
	}
	for _, tt := range []struct {
		name, dnsName, want string
		clientAuth          string
		certs               int
	}{
		{"short names", "*.cache-nodes.shop.svc", "cache-1.cache-nodes.shop.svc", spec.ClientAuthNone, 0},
		{"full names only", "*.cache-nodes.shop.svc.cluster.local", "cache-1.cache-nodes.shop.svc.cluster.local", spec.ClientAuthRequired, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(secret(ca.SecretData(ca.Issue(t, tlstest.Leaf{DNSNames: []string{tt.dnsName}}))),
				pod("cache-0", "10.0.0.1"), pod("cache-1", "10.0.0.2"))
			tc, err := (&Redis{Client: client}).TLS(ctx, tlsSpec(tt.clientAuth))
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.ServerName("10.0.0.2"); got != tt.want {
				t.Errorf("ServerName(10.0.0.2) = %q, want %q", got, tt.want)
			}
			if n := len(tc.Config.Certificates); n != tt.certs || tc.Config.InsecureSkipVerify {
				t.Errorf("%d client certificates (InsecureSkipVerify %v), want %d", n, tc.Config.InsecureSkipVerify, tt.certs)
			}
			if got := tc.ServerName("10.9.9.9"); got != "" {
				t.Errorf("an IP of no pod: %q, want none", got)
			}
			if _, err := client.CoreV1().Pods("shop").Create(ctx, pod("cache-2", "10.0.0.3"), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond) // the lists are a second apart at least
			if got, want := tc.ServerName("10.0.0.3"), strings.Replace(tt.want, "cache-1", "cache-2", 1); got != want {
				t.Errorf("a pod created since: %q, want %q", got, want)
			}
		})
	}
}
