package spec

import (
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/validate/content"
)

// DefaultTLSExpiryWarning is tls.expiryWarning's default: 30 days, well
// before a 90-day certificate's end and after cert-manager has renewed it
// (at two thirds of its life), so a warning means the renewal is late.
const DefaultTLSExpiryWarning = 720 * time.Hour

// Values of TLS.ClientAuth, and the tls-auth-clients value of each.
const (
	ClientAuthNone     = "none"
	ClientAuthOptional = "optional"
	ClientAuthRequired = "required"
)

// DefaultClientAuth is tls.clientAuth's default.
const DefaultClientAuth = ClientAuthNone

// Keys of a kubernetes.io/tls Secret as cert-manager writes it.
const (
	TLSCertKey = "tls.crt"
	TLSKeyKey  = "tls.key"
	TLSCAKey   = "ca.crt"
)

// RequiresClientCert reports whether clients must present a certificate:
// the daemon then presents the cluster's own (tls.crt and tls.key).
func (t *TLS) RequiresClientCert() bool {
	return t != nil && t.ClientAuth == ClientAuthRequired
}

// setTLSDefaults fills tls's defaults; SetDefaults calls it.
func (s *ClusterSpec) setTLSDefaults() {
	t := s.TLS
	if t == nil {
		return
	}
	if t.ClientAuth == "" {
		t.ClientAuth = DefaultClientAuth
	}
	if t.ExpiryWarning.Duration == 0 {
		t.ExpiryWarning.Duration = DefaultTLSExpiryWarning
	}
}

func (v *validator) tls() {
	t := v.c.Spec.TLS
	if t == nil {
		return
	}
	if t.SecretRef.Name == "" {
		v.fail("spec.tls.secretRef.name", "is required: the Secret, in the cluster's namespace, with %s, %s and %s (as cert-manager writes it)", TLSCertKey, TLSKeyKey, TLSCAKey)
	} else if msgs := content.IsDNS1123Subdomain(t.SecretRef.Name); len(msgs) > 0 {
		v.fail("spec.tls.secretRef.name", "%q is not a valid Secret name: %s", t.SecretRef.Name, strings.Join(msgs, "; "))
	}
	switch t.ClientAuth {
	case ClientAuthNone, ClientAuthOptional, ClientAuthRequired:
	default:
		v.fail("spec.tls.clientAuth", "must be %s, %s or %s; got %q", ClientAuthNone, ClientAuthOptional, ClientAuthRequired, t.ClientAuth)
	}
	if t.ExpiryWarning.Duration < 0 {
		v.fail("spec.tls.expiryWarning", "must not be negative; got %s", shortDuration(t.ExpiryWarning.Duration))
	}
	if e := v.c.Spec.ExternalAccess; e != nil && (e.Type == ExternalNodePort || e.Type == ExternalLoadBalancer) {
		v.fail("spec.tls", "does not work with externalAccess type %s yet (its Services and announced ports are plaintext only); use type %s, or leave tls out", e.Type, ExternalHostname)
	}
}
