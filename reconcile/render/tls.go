package render

import (
	"fmt"
	"strings"

	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/redis-gitops/redis-gitops/spec"
)

// spec.tls: every node serves TLS on TLSPort with the certificate of the
// cluster's Secret, mounted whole at tlsDir.
//
// The port layout: plaintext stays on ClientPort (6379) and TLS has a port
// of its own, TLSPort (6380), as Azure Cache for Redis does. A port keeps
// one protocol for its whole life, so that turning TLS on for a running
// cluster never moves a port its clients already use: TLS opens beside the
// plaintext port, clients move at their pace, then the plaintext port
// closes (`port 0`) unless spec.tls.plaintextPort keeps it. The cluster
// bus stays on BusPort (16379) in both protocols: cluster-port is written
// out, since Redis would otherwise put the bus at tls-port + 10000.
// Everything in the pod that talks to Redis (the readiness probe, the
// exporter, redis-cli in a shell) and the daemon use the TLS port.
const (
	// TLSPort is where each node serves TLS clients with spec.tls.
	TLSPort = 6380
	// portTLS names the TLS port on the container and the Services.
	portTLS = "tls"

	tlsVolume = "tls"
	// tlsDir is where the Secret is mounted, as a whole volume: the
	// kubelet replaces the files of a Secret volume in place when the
	// Secret changes (a renewal), which it does not do for subPath mounts.
	tlsDir = "/tls"
	// tlsFileMode: the key is readable by the pod's user and group (an
	// fsGroup) only.
	tlsFileMode = 0o440
)

// The files of the mounted Secret, as cert-manager names them.
var (
	TLSCertFile = tlsDir + "/" + spec.TLSCertKey
	TLSKeyFile  = tlsDir + "/" + spec.TLSKeyKey
	TLSCAFile   = tlsDir + "/" + spec.TLSCAKey
)

// Environment variables of the redis container naming the TLS files, for
// the readiness probe and for people running redis-cli in the pod
// (redis-cli reads no TLS setting from its environment):
//
//	redis-cli -p 6380 --tls --cacert "$REDIS_TLS_CA_FILE" --cert "$REDIS_TLS_CERT_FILE" --key "$REDIS_TLS_KEY_FILE"
const (
	EnvTLSCAFile   = "REDIS_TLS_CA_FILE"
	EnvTLSCertFile = "REDIS_TLS_CERT_FILE"
	EnvTLSKeyFile  = "REDIS_TLS_KEY_FILE"
)

// Annotations on the StatefulSet naming the TLS Secret and clientAuth, so
// that `redis-gitops status` reaches a TLS cluster without its Git repo.
const (
	AnnotationTLSSecret     = "redis-gitops.dev/tls-secret"
	AnnotationTLSClientAuth = "redis-gitops.dev/tls-client-auth"
)

func tlsAnnotations(c *spec.RedisCluster) map[string]string {
	if c.Spec.TLS == nil {
		return nil
	}
	return map[string]string{AnnotationTLSSecret: c.Spec.TLS.SecretRef.Name, AnnotationTLSClientAuth: c.Spec.TLS.ClientAuth}
}

// ServingPort is the port the daemon, the probes and the exporter talk to
// a node on: TLSPort with spec.tls, ClientPort without.
func ServingPort(c *spec.RedisCluster) int {
	if c.Spec.TLS != nil {
		return TLSPort
	}
	return ClientPort
}

// servesPlaintext reports whether the nodes listen on ClientPort.
func servesPlaintext(c *spec.RedisCluster) bool {
	return c.Spec.TLS == nil || c.Spec.TLS.PlaintextPort
}

// tlsAuthClients is tls-auth-clients for spec.tls.clientAuth.
func tlsAuthClients(clientAuth string) (string, error) {
	switch clientAuth {
	case spec.ClientAuthNone:
		return "no", nil
	case spec.ClientAuthOptional:
		return "optional", nil
	case spec.ClientAuthRequired:
		return "yes", nil
	}
	return "", fmt.Errorf("spec.tls.clientAuth: %q is not none, optional or required", clientAuth)
}

// tlsConf is redis.conf's TLS part. Replication and the cluster bus use
// TLS too; on the bus each node presents tls-cert-file as a client
// certificate, which Redis always verifies there (whatever
// tls-auth-clients says), so the certificate needs client auth usage.
func tlsConf(c *spec.RedisCluster, line func(key, value string)) error {
	auth, err := tlsAuthClients(c.Spec.TLS.ClientAuth)
	if err != nil {
		return err
	}
	line("cluster-port", fmt.Sprint(BusPort))
	line("tls-cert-file", TLSCertFile)
	line("tls-key-file", TLSKeyFile)
	line("tls-ca-cert-file", TLSCAFile)
	line("tls-auth-clients", auth)
	// Stated, not derived: Redis 7.0 derives the announced TLS port once,
	// and would keep a stale one after tls-cluster changes at runtime.
	line("cluster-announce-tls-port", fmt.Sprint(TLSPort))
	return nil
}

// tlsVolumeSource is the cluster's Secret as a volume.
func tlsVolumeSource(c *spec.RedisCluster) *corev1ac.VolumeApplyConfiguration {
	return corev1ac.Volume().WithName(tlsVolume).WithSecret(corev1ac.SecretVolumeSource().
		WithSecretName(c.Spec.TLS.SecretRef.Name).
		WithDefaultMode(tlsFileMode))
}

func tlsMount() *corev1ac.VolumeMountApplyConfiguration {
	return corev1ac.VolumeMount().WithName(tlsVolume).WithMountPath(tlsDir).WithReadOnly(true)
}

// tlsEnv are the variables naming the files.
func tlsEnv() []*corev1ac.EnvVarApplyConfiguration {
	return []*corev1ac.EnvVarApplyConfiguration{
		corev1ac.EnvVar().WithName(EnvTLSCAFile).WithValue(TLSCAFile),
		corev1ac.EnvVar().WithName(EnvTLSCertFile).WithValue(TLSCertFile),
		corev1ac.EnvVar().WithName(EnvTLSKeyFile).WithValue(TLSKeyFile),
	}
}

// exporterTLSArgs point the exporter at the TLS port. It scrapes its own
// node over the pod's loopback, where no certificate names 127.0.0.1, and
// redis_exporter 1.45 has no flag for the name to verify: it skips the
// verification of the server's certificate, which buys nothing on
// loopback (whoever could answer there already runs inside the pod). It
// still presents the node's certificate, so clientAuth "required" lets it
// in.
func exporterTLSArgs() []string {
	return []string{
		fmt.Sprintf("-redis.addr=rediss://127.0.0.1:%d", TLSPort),
		"-tls-ca-cert-file=" + TLSCAFile,
		"-tls-client-cert-file=" + TLSCertFile,
		"-tls-client-key-file=" + TLSKeyFile,
		"-skip-tls-verification",
	}
}

// CertificateNames are the names the certificate of spec.tls must carry,
// for people and for the daemon's check.
type CertificateNames struct {
	// Pods are each pod's names through the headless Service, by pod in
	// ordinal order: the first, <pod>.<headless>.<namespace>.svc, is the
	// one the daemon verifies (it works whatever the cluster's DNS domain);
	// the second, with .cluster.local, is what clients using the full name
	// in the default domain verify.
	Pods [][2]string
	// Wildcards cover every pod, present and future (a scale-out), in one
	// name each.
	Wildcards [2]string
	// Service is the client Service's name, for clients that connect
	// through it first (then follow the nodes' names).
	Service [2]string
	// External are the names clients outside Kubernetes verify
	// (externalAccess type Hostname), in ordinal order; nil without.
	External []string
}

// PodNames returns the pods' names through the headless Service, in
// ordinal order.
func PodNames(c *spec.RedisCluster) []string {
	out := make([]string, c.Spec.TotalNodes())
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", c.Metadata.Name, i)
	}
	return out
}

// PodDNSName is pod's name through the cluster's headless Service, without
// the cluster's DNS domain: the name the daemon verifies a node's
// certificate against.
func PodDNSName(c *spec.RedisCluster, pod string) string {
	return pod + "." + HeadlessServiceName(c.Metadata.Name) + "." + c.Metadata.Namespace + ".svc"
}

// ClusterDomain is Kubernetes' default DNS domain.
const ClusterDomain = "cluster.local"

// CertificateNamesFor lists the names for c's current size.
func CertificateNamesFor(c *spec.RedisCluster) CertificateNames {
	var n CertificateNames
	for _, pod := range PodNames(c) {
		short := PodDNSName(c, pod)
		n.Pods = append(n.Pods, [2]string{short, short + "." + ClusterDomain})
		if e := c.Spec.ExternalAccess; e != nil && e.Type == spec.ExternalHostname {
			n.External = append(n.External, spec.ExpandHostname(e.Hostname, pod, c.Metadata.Namespace, c.Metadata.Name))
		}
	}
	wild := "*." + HeadlessServiceName(c.Metadata.Name) + "." + c.Metadata.Namespace + ".svc"
	n.Wildcards = [2]string{wild, wild + "." + ClusterDomain}
	svc := c.Metadata.Name + "." + c.Metadata.Namespace + ".svc"
	n.Service = [2]string{svc, svc + "." + ClusterDomain}
	return n
}

// Comment is the list as YAML comment lines, which `redis-gitops render`
// prints before the cluster's objects.
func (n CertificateNames) Comment(c *spec.RedisCluster) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# spec.tls of %s: the certificate in Secret %s (tls.crt) must carry these DNS names\n", c.Key(), c.Spec.TLS.SecretRef.Name)
	fmt.Fprintf(&b, "# (subject alternative names), and be valid for both server and client auth:\n")
	fmt.Fprintf(&b, "#   %s   (or, for every pod: %s)\n", "each pod's <pod>."+HeadlessServiceName(c.Metadata.Name)+"."+c.Metadata.Namespace+".svc", n.Wildcards[0])
	for _, p := range n.Pods {
		fmt.Fprintf(&b, "#     %s\n", p[0])
	}
	fmt.Fprintf(&b, "#   and, for clients using the full name, %s (or each pod's, as above + .%s)\n", n.Wildcards[1], ClusterDomain)
	fmt.Fprintf(&b, "#   and, for clients that connect through the client Service, %s and %s\n", n.Service[0], n.Service[1])
	if len(n.External) > 0 {
		fmt.Fprintf(&b, "#   and the external hostnames clients outside Kubernetes connect to:\n")
		for _, e := range n.External {
			fmt.Fprintf(&b, "#     %s\n", e)
		}
	}
	fmt.Fprintf(&b, "# No IP address is needed: pod IPs change, so the nodes announce these names and the daemon verifies them.\n")
	return b.String()
}
