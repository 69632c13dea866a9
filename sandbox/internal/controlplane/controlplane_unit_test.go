package controlplane

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWithDefaults(t *testing.T) {
	tests := []struct {
		name    string
		in      Config
		wantErr string
		check   func(t *testing.T, got Config)
	}{
		{name: "missing dir", in: Config{}, wantErr: "dir is required"},
		{
			name: "defaults",
			in:   Config{Dir: "/tmp/x"},
			check: func(t *testing.T, got Config) {
				if got.ServiceCIDR != DefaultServiceCIDR || got.EtcdBin != "etcd" || got.NodeMonitorGracePeriod != DefaultNodeMonitorGracePeriod || got.Logf == nil {
					t.Errorf("defaults not applied: %+v", got)
				}
			},
		},
		{
			name: "relative dir made absolute",
			in:   Config{Dir: "state"},
			check: func(t *testing.T, got Config) {
				if !strings.HasPrefix(got.Dir, "/") {
					t.Errorf("dir %q not absolute", got.Dir)
				}
			},
		},
		{name: "bad service cidr", in: Config{Dir: "/x", ServiceCIDR: "10.96.0.0"}, wantErr: "parse service cidr"},
		{name: "service cidr host bits", in: Config{Dir: "/x", ServiceCIDR: "10.96.0.5/16"}, wantErr: "host bits"},
		{name: "bad cluster cidr", in: Config{Dir: "/x", ClusterCIDR: "pods"}, wantErr: "cluster cidr"},
		{name: "short grace", in: Config{Dir: "/x", NodeMonitorGracePeriod: time.Millisecond}, wantErr: "below 1s"},
		{name: "bad san", in: Config{Dir: "/x", ExtraSANs: []string{"10.0.0.1", "example.com"}}, wantErr: `"example.com" is not an ip`},
		{
			name: "explicit values kept",
			in:   Config{Dir: "/x", ServiceCIDR: "10.0.0.0/24", EtcdBin: "/opt/etcd", NodeMonitorGracePeriod: 20 * time.Second},
			check: func(t *testing.T, got Config) {
				if got.ServiceCIDR != "10.0.0.0/24" || got.EtcdBin != "/opt/etcd" || got.NodeMonitorGracePeriod != 20*time.Second {
					t.Errorf("explicit values changed: %+v", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.withDefaults()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tt.check(t, got)
		})
	}
}

func TestFirstServiceIP(t *testing.T) {
	tests := []struct {
		cidr, want string
		wantErr    bool
	}{
		{cidr: "10.96.0.0/16", want: "10.96.0.1"},
		{cidr: "10.0.0.0/24", want: "10.0.0.1"},
		{cidr: "fd00:10:96::/112", want: "fd00:10:96::1"},
		{cidr: "10.0.0.0/32", wantErr: true},
		{cidr: "10.0.0.1/24", wantErr: true},
		{cidr: "nonsense", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.cidr, func(t *testing.T) {
			got, err := firstServiceIP(tt.cidr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && got.String() != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCmdlineMatches(t *testing.T) {
	cmd := func(args ...string) []byte { return []byte(strings.Join(args, "\x00") + "\x00") }
	tests := []struct {
		name    string
		cmdline []byte
		comp    string
		want    bool
	}{
		{"etcd in dir", cmd("/usr/bin/etcd", "--name=sandbox", "--data-dir=/s/etcd"), "etcd", true},
		{"apiserver in dir", cmd("/w/bin/kube-apiserver", "--tls-cert-file=/s/certs/a.crt"), "kube-apiserver", true},
		{"other dir", cmd("/usr/bin/etcd", "--data-dir=/s2/etcd"), "etcd", false},
		{"dir prefix is not enough", cmd("/usr/bin/etcd", "--data-dir=/sx/etcd"), "etcd", false},
		{"other binary", cmd("/usr/bin/sleep", "--x=/s/etcd"), "etcd", false},
		{"binary name is a prefix", cmd("/bin/kube-apiserver-wrapper", "--x=/s/y"), "kube-apiserver", false},
		{"zombie has empty cmdline", nil, "etcd", false},
		{"path only in argv0", cmd("/s/bin/etcd"), "etcd", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cmdlineMatches(tt.cmdline, tt.comp, "/s"); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb", 5, "a\nb"},
		{"a\nb\n", 0, ""},
	}
	for _, tt := range tests {
		if got := lastLines(tt.in, tt.n); got != tt.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestNodeMonitorPeriod(t *testing.T) {
	tests := []struct{ grace, want time.Duration }{
		{10 * time.Second, 2 * time.Second},
		{4 * time.Second, 2 * time.Second},
		{3 * time.Second, 1500 * time.Millisecond},
		{time.Second, 500 * time.Millisecond},
		{time.Minute, 2 * time.Second},
	}
	for _, tt := range tests {
		if got := nodeMonitorPeriod(tt.grace); got != tt.want {
			t.Errorf("nodeMonitorPeriod(%s) = %s, want %s", tt.grace, got, tt.want)
		}
	}
}

// TestArgsStayOnLoopback enforces the sandbox network rule on every flag:
// any address a component binds, advertises or dials is 127.0.0.1.
func TestArgsStayOnLoopback(t *testing.T) {
	cfg, err := Config{Dir: "/s", ClusterCIDR: "10.244.0.0/16"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l := layout{dir: cfg.Dir}
	p := ports{etcdClient: 1, etcdPeer: 2, apiserver: 3, controllerManager: 4, scheduler: 5}
	sets := map[string][]string{
		NameEtcd:              etcdArgs(l, p),
		NameAPIServer:         apiserverArgs(l, p, cfg),
		NameControllerManager: controllerManagerArgs(l, p, cfg),
		NameScheduler:         schedulerArgs(l, p),
	}
	addressFlags := []string{"url", "urls", "address", "servers", "initial-cluster"}
	for name, args := range sets {
		for _, a := range args {
			flag, value, ok := strings.Cut(a, "=")
			if !ok {
				t.Errorf("%s: flag %q has no value", name, a)
				continue
			}
			if strings.Contains(value, "0.0.0.0") || strings.Contains(value, "localhost") {
				t.Errorf("%s: %s binds beyond 127.0.0.1", name, a)
			}
			for _, suffix := range addressFlags {
				if strings.HasSuffix(flag, suffix) && !strings.Contains(value, loopback) {
					t.Errorf("%s: %s is not on %s", name, a, loopback)
				}
			}
		}
	}
}

func TestArgsRequiredFlags(t *testing.T) {
	cfg, err := Config{Dir: "/s"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l := layout{dir: cfg.Dir}
	p := ports{etcdClient: 2379, etcdPeer: 2380, apiserver: 6443, controllerManager: 10257, scheduler: 10259}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{NameEtcd, etcdArgs(l, p), []string{"--data-dir=/s/etcd", "--listen-client-urls=http://127.0.0.1:2379"}},
		{NameAPIServer, apiserverArgs(l, p, cfg), []string{
			"--etcd-servers=http://127.0.0.1:2379",
			"--secure-port=6443",
			"--advertise-address=127.0.0.1",
			"--endpoint-reconciler-type=none",
			"--authorization-mode=Node,RBAC",
			"--service-cluster-ip-range=10.96.0.0/16",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--kubelet-preferred-address-types=InternalIP",
		}},
		{NameControllerManager, controllerManagerArgs(l, p, cfg), []string{
			"--leader-elect=false",
			"--controllers=*",
			"--use-service-account-credentials=true",
			"--node-monitor-grace-period=10s",
			"--node-monitor-period=2s",
			"--secure-port=10257",
			"--kubeconfig=/s/kubeconfigs/kube-controller-manager.kubeconfig",
		}},
		{NameScheduler, schedulerArgs(l, p), []string{"--leader-elect=false", "--secure-port=10259"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, w := range tt.want {
				if !slices.Contains(tt.args, w) {
					t.Errorf("missing %s in %v", w, tt.args)
				}
			}
			for _, a := range tt.args {
				if strings.HasPrefix(a, "--cluster-cidr") {
					t.Errorf("unexpected %s without ClusterCIDR", a)
				}
			}
		})
	}
}
