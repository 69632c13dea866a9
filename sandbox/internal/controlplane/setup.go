package controlplane

import (
	"fmt"
	"net"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// apiserverDNSNames are the names in-cluster clients and kubectl use.
var apiserverDNSNames = []string{
	"localhost",
	"kubernetes",
	"kubernetes.default",
	"kubernetes.default.svc",
	"kubernetes.default.svc.cluster.local",
}

// clientIdentities are the client certs that get a kubeconfig: the admin
// one at Dir/kubeconfig, the others under kubeconfigs/. The controller
// identities match the bootstrap RBAC roles the apiserver creates.
var clientIdentities = []struct {
	stem, cn string
	orgs     []string
}{
	{certAdmin, "kubernetes-admin", []string{"system:masters"}},
	{certControllerManager, "system:kube-controller-manager", nil},
	{certScheduler, "system:kube-scheduler", nil},
}

// writePKI (re)issues every leaf certificate; the CA and the
// service-account key are created once per state dir and then reused.
func writePKI(l layout, cfg Config) error {
	ca, err := loadOrCreateCA(l.cert(certCA), l.key(certCA))
	if err != nil {
		return err
	}
	if err := ensureServiceAccountKey(l.saKey()); err != nil {
		return err
	}
	serviceIP, err := firstServiceIP(cfg.ServiceCIDR)
	if err != nil {
		return err
	}
	extra, err := parseIPs(cfg.ExtraSANs)
	if err != nil {
		return err
	}
	loopbackIP := net.ParseIP(loopback)
	specs := []certSpec{
		{name: certAPIServer, cn: NameAPIServer, server: true,
			ips: append([]net.IP{loopbackIP, serviceIP}, extra...), dns: apiserverDNSNames},
		// The kubelet authorizes this identity for exec/logs; system:masters
		// keeps that working whatever authorization the kubelet applies.
		{name: certKubeletClient, cn: certKubeletClient, orgs: []string{"system:masters"}, client: true},
		{name: certKCMServing, cn: NameControllerManager, server: true, ips: []net.IP{loopbackIP}, dns: []string{"localhost"}},
		{name: certSchedulerServing, cn: NameScheduler, server: true, ips: []net.IP{loopbackIP}, dns: []string{"localhost"}},
	}
	for _, id := range clientIdentities {
		specs = append(specs, certSpec{name: id.stem, cn: id.cn, orgs: id.orgs, client: true})
	}
	for _, spec := range specs {
		if _, _, err := ca.issue(l.certs(), spec); err != nil {
			return err
		}
	}
	return nil
}

// writeKubeconfigs writes one kubeconfig per client identity, with the
// certificates embedded so a copied admin kubeconfig keeps working.
func writeKubeconfigs(l layout, server string) error {
	for _, id := range clientIdentities {
		path := l.kubeconfig(id.stem)
		if id.stem == certAdmin {
			path = l.adminKubeconfig()
		}
		if err := writeKubeconfig(path, server, l.cert(certCA), l.cert(id.stem), l.key(id.stem), id.cn); err != nil {
			return err
		}
	}
	return nil
}

func writeKubeconfig(path, server, caFile, certFile, keyFile, user string) error {
	caData, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	certData, err := os.ReadFile(certFile)
	if err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	keyData, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	const name = "sandbox"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caData}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certData, ClientKeyData: keyData}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user}
	cfg.CurrentContext = name
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// NodeKubeconfig issues a client certificate for node (user
// system:node:<node>, group system:nodes, as the Node authorizer expects)
// and returns the path of a kubeconfig using it.
func (c *ControlPlane) NodeKubeconfig(node string) (string, error) {
	// The name becomes a file name and a user name; the Node API enforces
	// the same rule, so nothing valid is rejected.
	if errs := validation.IsDNS1123Subdomain(node); len(errs) > 0 {
		return "", fmt.Errorf("node kubeconfig: invalid node name %q: %s", node, strings.Join(errs, "; "))
	}
	l := c.layout
	ca, err := loadCA(l.cert(certCA), l.key(certCA))
	if err != nil {
		return "", fmt.Errorf("node kubeconfig %s: %w", node, err)
	}
	user := "system:node:" + node
	certFile, keyFile, err := ca.issue(l.certs(), certSpec{name: "node-" + node, cn: user, orgs: []string{"system:nodes"}, client: true})
	if err != nil {
		return "", fmt.Errorf("node kubeconfig %s: %w", node, err)
	}
	path := l.kubeconfig("node-" + node)
	if err := writeKubeconfig(path, c.ports.apiserverURL(), l.cert(certCA), certFile, keyFile, user); err != nil {
		return "", fmt.Errorf("node kubeconfig %s: %w", node, err)
	}
	return path, nil
}

// freePorts reserves n distinct free ports on 127.0.0.1. The listeners are
// all held until the last one is open so the ports differ, then closed; a
// port grabbed by someone else before the component binds it shows up as a
// start error carrying the log tail.
func freePorts(n int) ([]int, error) {
	var listeners []net.Listener
	defer func() {
		for _, ln := range listeners {
			ln.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", hostPort(0))
		if err != nil {
			return nil, fmt.Errorf("pick free port: %w", err)
		}
		listeners = append(listeners, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}
