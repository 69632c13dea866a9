package controlplane

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// Component names double as binary names, log file stems and pid file stems.
const (
	NameEtcd              = "etcd"
	NameAPIServer         = "kube-apiserver"
	NameControllerManager = "kube-controller-manager"
	NameScheduler         = "kube-scheduler"
)

// componentNames lists components in start order; Stop walks it backwards.
var componentNames = []string{NameEtcd, NameAPIServer, NameControllerManager, NameScheduler}

const loopback = "127.0.0.1"

// layout holds every path under the state dir, so flags and files agree.
type layout struct {
	dir string
}

func (l layout) certs() string              { return filepath.Join(l.dir, "certs") }
func (l layout) cert(stem string) string    { return filepath.Join(l.certs(), stem+".crt") }
func (l layout) key(stem string) string     { return filepath.Join(l.certs(), stem+".key") }
func (l layout) etcdData() string           { return filepath.Join(l.dir, "etcd") }
func (l layout) logs() string               { return filepath.Join(l.dir, "logs") }
func (l layout) log(name string) string     { return filepath.Join(l.logs(), name+".log") }
func (l layout) pids() string               { return filepath.Join(l.dir, "pids") }
func (l layout) pid(name string) string     { return filepath.Join(l.pids(), name+".pid") }
func (l layout) kubeconfigs() string        { return filepath.Join(l.dir, "kubeconfigs") }
func (l layout) kubeconfig(n string) string { return filepath.Join(l.kubeconfigs(), n+".kubeconfig") }
func (l layout) adminKubeconfig() string    { return filepath.Join(l.dir, "kubeconfig") }
func (l layout) saKey() string              { return filepath.Join(l.certs(), "sa.key") }

// Certificate file stems under certs/.
const (
	certCA                = "ca"
	certAPIServer         = "kube-apiserver"
	certKubeletClient     = "kube-apiserver-kubelet-client"
	certAdmin             = "admin"
	certControllerManager = "kube-controller-manager"
	certScheduler         = "kube-scheduler"
	certKCMServing        = "kube-controller-manager-serving"
	certSchedulerServing  = "kube-scheduler-serving"
)

// ports are the loopback ports picked for one run.
type ports struct {
	etcdClient, etcdPeer, apiserver, controllerManager, scheduler int
}

func (p ports) etcdURL() string      { return "http://" + hostPort(p.etcdClient) }
func (p ports) etcdPeerURL() string  { return "http://" + hostPort(p.etcdPeer) }
func (p ports) apiserverURL() string { return "https://" + hostPort(p.apiserver) }

func hostPort(port int) string { return fmt.Sprintf("%s:%d", loopback, port) }

func etcdArgs(l layout, p ports) []string {
	return []string{
		"--name=sandbox",
		"--data-dir=" + l.etcdData(),
		"--listen-client-urls=" + p.etcdURL(),
		"--advertise-client-urls=" + p.etcdURL(),
		"--listen-peer-urls=" + p.etcdPeerURL(),
		"--initial-advertise-peer-urls=" + p.etcdPeerURL(),
		"--initial-cluster=sandbox=" + p.etcdPeerURL(),
		// Ignored by etcd once the data dir holds a member, so a reused
		// state dir simply restarts its single-member cluster.
		"--initial-cluster-state=new",
		"--initial-cluster-token=sandbox",
		// A single member has no peers to hear from, so a short election
		// timeout is safe and saves ~1s before the first leader.
		"--heartbeat-interval=25",
		"--election-timeout=250",
		"--logger=zap",
		"--log-outputs=stderr",
	}
}

func apiserverArgs(l layout, p ports, cfg Config) []string {
	args := []string{
		"--etcd-servers=" + p.etcdURL(),
		"--bind-address=" + loopback,
		"--advertise-address=" + loopback,
		// 1.37 refuses a loopback advertise address with the default lease
		// reconciler; with a single apiserver there is nothing to reconcile.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(p.apiserver),
		"--tls-cert-file=" + l.cert(certAPIServer),
		"--tls-private-key-file=" + l.key(certAPIServer),
		"--client-ca-file=" + l.cert(certCA),
		"--service-account-key-file=" + l.saKey(),
		"--service-account-signing-key-file=" + l.saKey(),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=" + cfg.ServiceCIDR,
		"--authorization-mode=Node,RBAC",
		"--allow-privileged=true",
		"--kubelet-client-certificate=" + l.cert(certKubeletClient),
		"--kubelet-client-key=" + l.key(certKubeletClient),
		"--kubelet-preferred-address-types=InternalIP",
		// Without this the apiserver writes self-signed files to
		// /var/run/kubernetes, outside the state dir.
		"--cert-dir=" + l.certs(),
		"--profiling=false",
	}
	return args
}

func controllerManagerArgs(l layout, p ports, cfg Config) []string {
	args := []string{
		"--kubeconfig=" + l.kubeconfig(NameControllerManager),
		// No --authentication-kubeconfig/--authorization-kubeconfig: with
		// them the component watches the apiserver's request-header CA,
		// which the sandbox does not configure, and logs an error every
		// few seconds. /healthz is always allowed anyway.
		"--bind-address=" + loopback,
		"--secure-port=" + strconv.Itoa(p.controllerManager),
		"--tls-cert-file=" + l.cert(certKCMServing),
		"--tls-private-key-file=" + l.key(certKCMServing),
		"--client-ca-file=" + l.cert(certCA),
		"--service-account-private-key-file=" + l.saKey(),
		"--root-ca-file=" + l.cert(certCA),
		"--cluster-signing-cert-file=" + l.cert(certCA),
		"--cluster-signing-key-file=" + l.key(certCA),
		"--use-service-account-credentials=true",
		// Each controller fetches its own service-account token at start;
		// the default 20 QPS throttle alone adds ~4s to startup.
		"--kube-api-qps=200",
		"--kube-api-burst=400",
		"--leader-elect=false",
		"--controllers=*",
		"--service-cluster-ip-range=" + cfg.ServiceCIDR,
		"--allocate-node-cidrs=false",
		"--node-monitor-grace-period=" + cfg.NodeMonitorGracePeriod.String(),
		"--node-monitor-period=" + nodeMonitorPeriod(cfg.NodeMonitorGracePeriod).String(),
		"--profiling=false",
	}
	if cfg.ClusterCIDR != "" {
		args = append(args, "--cluster-cidr="+cfg.ClusterCIDR)
	}
	return args
}

// nodeMonitorPeriod is how often the node lifecycle controller checks node
// heartbeats. 2s keeps NotReady detection close to the grace period, but it
// must stay below the grace period or the controller misses whole windows.
func nodeMonitorPeriod(grace time.Duration) time.Duration {
	const period = 2 * time.Second
	if grace <= 2*period {
		return max(grace/2, 100*time.Millisecond)
	}
	return period
}

func schedulerArgs(l layout, p ports) []string {
	return []string{
		"--kubeconfig=" + l.kubeconfig(NameScheduler),
		"--bind-address=" + loopback,
		"--secure-port=" + strconv.Itoa(p.scheduler),
		"--tls-cert-file=" + l.cert(certSchedulerServing),
		"--tls-private-key-file=" + l.key(certSchedulerServing),
		"--client-ca-file=" + l.cert(certCA),
		"--leader-elect=false",
		"--profiling=false",
	}
}
