package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Node is one Redis node the certificate must cover.
type Node struct {
	Pod string
	// DNSNames are the node's names through the headless Service; the
	// certificate must carry one of them (the first is the one the daemon
	// prefers).
	DNSNames []string
	// External is the name clients outside Kubernetes verify the node by
	// (externalAccess type Hostname); "" when there is none.
	External string
}

// NodesFor are c's nodes at its declared size, in ordinal order: their
// names do not depend on what runs, so the check needs no pod.
func NodesFor(c *spec.RedisCluster) []Node {
	pods := render.PodNames(c)
	out := make([]Node, len(pods))
	for i, p := range pods {
		out[i] = NodeFor(c, p)
	}
	return out
}

// NodeFor is the node of c's pod (of any ordinal: a pod beyond the
// declared size, during a scale-in, too).
func NodeFor(c *spec.RedisCluster, pod string) Node {
	short := render.PodDNSName(c, pod)
	n := Node{Pod: pod, DNSNames: []string{short, short + "." + render.ClusterDomain}}
	if e := c.Spec.ExternalAccess; e != nil && e.Type == spec.ExternalHostname {
		n.External = spec.ExpandHostname(e.Hostname, pod, c.Metadata.Namespace, c.Metadata.Name)
	}
	return n
}

// Findings are what Check found: Refusals stop the cluster's pass before
// any node changes; Warnings go into the report.
type Findings struct {
	Refusals []string
	Warnings []string
}

// Err is the refusals as one error wrapping ErrBadSecret, or nil.
func (f Findings) Err(secret string) error {
	if len(f.Refusals) == 0 {
		return nil
	}
	return fmt.Errorf("tls secret %s: %s: %w", secret, strings.Join(f.Refusals, "; "), ErrBadSecret)
}

// Check judges m's certificate for nodes at time now, warning when it
// expires within warnWithin. Refused: a certificate that is expired or not
// valid yet, not signed by ca.crt, not usable for server and client auth
// (Redis presents it as a client on the cluster bus and to its master, and
// the peer verifies it there), or that covers none of the nodes. Warned: a
// node it does not cover (a scale-out beyond a list of names, say), an
// external hostname it does not carry, an expiry within warnWithin. Times
// are printed as dates, not durations, so that a report reads the same
// from one pass to the next.
func Check(m Material, nodes []Node, now time.Time, warnWithin time.Duration) Findings {
	var f Findings
	refuse := func(format string, args ...any) { f.Refusals = append(f.Refusals, fmt.Sprintf(format, args...)) }
	warn := func(format string, args ...any) { f.Warnings = append(f.Warnings, fmt.Sprintf(format, args...)) }
	leaf := m.Leaf
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }

	switch {
	case now.Before(leaf.NotBefore):
		refuse("%s is not valid before %s", spec.TLSCertKey, stamp(leaf.NotBefore))
	case !now.Before(leaf.NotAfter):
		refuse("%s expired at %s", spec.TLSCertKey, stamp(leaf.NotAfter))
	case leaf.NotAfter.Sub(now) < warnWithin:
		warn("%s expires at %s, within spec.tls.expiryWarning (%s): renew it", spec.TLSCertKey, stamp(leaf.NotAfter), warnWithin)
	}

	inter := x509.NewCertPool()
	for _, c := range m.Chain {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: m.CAs, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	var invalid x509.CertificateInvalidError
	outside := now.Before(leaf.NotBefore) || !now.Before(leaf.NotAfter)
	switch {
	case err == nil:
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && outside:
		// Already said: the certificate itself is out of its dates.
	default:
		refuse("%s is not signed by %s (%v): the nodes would refuse each other", spec.TLSCertKey, spec.TLSCAKey, err)
	}

	if !usableFor(leaf, x509.ExtKeyUsageServerAuth) {
		refuse("%s is not for server auth (extended key usage %s)", spec.TLSCertKey, usages(leaf))
	}
	if !usableFor(leaf, x509.ExtKeyUsageClientAuth) {
		refuse("%s is not for client auth (extended key usage %s): Redis presents it to its peers on the cluster bus, which refuse it; add the \"client auth\" usage", spec.TLSCertKey, usages(leaf))
	}

	var missing, external []string
	for _, n := range nodes {
		if ServerName(leaf, n) == "" {
			missing = append(missing, n.Pod)
		}
		if n.External != "" && leaf.VerifyHostname(n.External) != nil {
			external = append(external, n.External)
		}
	}
	switch {
	case len(nodes) > 0 && len(missing) == len(nodes):
		refuse("%s covers none of the pods: it carries %s, and a pod's name is like %s", spec.TLSCertKey, carried(leaf), nodes[0].DNSNames[0])
	case len(missing) > 0:
		warn("%s does not cover %s: clients and the daemon will refuse them; add their names or a wildcard (see redis-gitops render)", spec.TLSCertKey, strings.Join(missing, ", "))
	}
	if len(external) > 0 {
		warn("%s does not carry the external hostnames %s: clients outside Kubernetes will refuse those nodes", spec.TLSCertKey, strings.Join(external, ", "))
	}
	return f
}

// ServerName is the name the daemon verifies node's certificate by: the
// first of its DNS names leaf covers, or "" when leaf covers none.
func ServerName(leaf *x509.Certificate, n Node) string {
	for _, name := range n.DNSNames {
		if leaf.VerifyHostname(name) == nil {
			return name
		}
	}
	return ""
}

// usableFor reports whether a certificate may be used for u: it names u or
// "any", or names no extended usage at all.
func usableFor(c *x509.Certificate, u x509.ExtKeyUsage) bool {
	return len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 ||
		slices.Contains(c.ExtKeyUsage, u) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}

func usages(c *x509.Certificate) string {
	var out []string
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			out = append(out, "server auth")
		case x509.ExtKeyUsageClientAuth:
			out = append(out, "client auth")
		default:
			out = append(out, fmt.Sprintf("#%d", u))
		}
	}
	if len(out) == 0 {
		return "none known"
	}
	return strings.Join(out, ", ")
}

// carried lists the names and addresses a certificate carries.
func carried(c *x509.Certificate) string {
	var out []string
	out = append(out, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	if len(out) == 0 {
		return "no DNS name or IP address"
	}
	return strings.Join(out, ", ")
}
