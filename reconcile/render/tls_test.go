package render

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/internal/tlstest"
	"github.com/redis-gitops/redis-gitops/spec"
)

func tlsCluster(mod func(t *spec.TLS)) *spec.RedisCluster {
	c := testCluster()
	c.Spec.TLS = &spec.TLS{SecretRef: spec.TLSSecretRef{Name: "cache-tls"}}
	if mod != nil {
		mod(c.Spec.TLS)
	}
	c.SetDefaults()
	return c
}

// confLines are redis.conf's directives as "key value" lines.
// confLines is the configuration a node reads, as Redis reads it: the
// rendered ConfigMap's redis.conf, with the stage file it includes
// (listen.conf) in place of its include line.
func confLines(t *testing.T, c *spec.RedisCluster) []string {
	t.Helper()
	data := mustRender(t, c).ConfigMap.Data
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(data[configFile]), "\n") {
		if l == "include "+listenFilePath {
			for _, x := range strings.Split(strings.TrimSpace(data[listenFile]), "\n") {
				if !strings.HasPrefix(x, "#") {
					out = append(out, x)
				}
			}
			continue
		}
		out = append(out, l)
	}
	return out
}

func TestTLSRedisConf(t *testing.T) {
	tests := []struct {
		name string
		mod  func(t *spec.TLS)
		want []string
	}{
		{"defaults: TLS only, no client certificate asked", nil, []string{
			"port 0", "tls-port 6380", "cluster-port 16379",
			"tls-cert-file /tls/tls.crt", "tls-key-file /tls/tls.key", "tls-ca-cert-file /tls/ca.crt",
			"tls-replication yes", "tls-cluster yes", "tls-auth-clients no", "cluster-announce-tls-port 6380",
		}},
		{"plaintext port kept", func(t *spec.TLS) { t.PlaintextPort = true }, []string{"port 6379", "tls-port 6380", "tls-auth-clients no"}},
		{"client certificates optional", func(t *spec.TLS) { t.ClientAuth = spec.ClientAuthOptional }, []string{"port 0", "tls-auth-clients optional"}},
		{"client certificates required", func(t *spec.TLS) { t.ClientAuth = spec.ClientAuthRequired }, []string{"port 0", "tls-auth-clients yes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := confLines(t, tlsCluster(tt.mod))
			for _, w := range tt.want {
				if !slices.Contains(lines, w) {
					t.Errorf("redis.conf lacks %q:\n%s", w, strings.Join(lines, "\n"))
				}
			}
		})
	}
	if lines := confLines(t, testCluster()); !slices.Contains(lines, "port 6379") || slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "tls-") }) {
		t.Errorf("without spec.tls, redis.conf has a TLS line or no port 6379:\n%s", strings.Join(lines, "\n"))
	}
	c := tlsCluster(func(t *spec.TLS) { t.ClientAuth = "sometimes" })
	if _, err := Render(c); err == nil || !strings.Contains(err.Error(), "spec.tls.clientAuth") {
		t.Errorf("clientAuth %q: error %v, want one naming spec.tls.clientAuth", c.Spec.TLS.ClientAuth, err)
	}
}

// TestTLSSecretVolume: the Secret is one whole volume, so that a renewal
// reaches the running pods' files (the kubelet does not update subPath
// mounts); the redis container and the exporter see it, read-only, and
// the redis container names the files in its environment.
func TestTLSSecretVolume(t *testing.T) {
	c := tlsCluster(nil)
	c.Spec.Monitoring = spec.Monitoring{Enabled: true}
	c.SetDefaults()
	pod := mustRender(t, c).StatefulSet.Spec.Template.Spec
	var found bool
	for _, v := range pod.Volumes {
		if *v.Name == tlsVolume {
			found = true
			if v.Secret == nil || *v.Secret.SecretName != "cache-tls" || len(v.Secret.Items) != 0 {
				t.Errorf("volume %s = %v, want the whole Secret cache-tls", tlsVolume, generic(t, v))
			}
		}
	}
	if !found {
		t.Fatalf("no %s volume", tlsVolume)
	}
	for _, ctr := range pod.Containers {
		var mounted bool
		for _, m := range ctr.VolumeMounts {
			if *m.Name != tlsVolume {
				continue
			}
			mounted = true
			if m.SubPath != nil || *m.MountPath != "/tls" || !*m.ReadOnly {
				t.Errorf("container %s mounts %v, want /tls, read-only, without subPath", *ctr.Name, generic(t, m))
			}
		}
		if !mounted {
			t.Errorf("container %s does not mount the certificate", *ctr.Name)
		}
	}
	env := map[string]string{}
	for _, e := range pod.Containers[0].Env {
		if e.Value != nil {
			env[*e.Name] = *e.Value
		}
	}
	for k, v := range map[string]string{EnvTLSCAFile: "/tls/ca.crt", EnvTLSCertFile: "/tls/tls.crt", EnvTLSKeyFile: "/tls/tls.key"} {
		if env[k] != v {
			t.Errorf("redis container env %s = %q, want %q", k, env[k], v)
		}
	}
}

func servicePortNames(t *testing.T, objs Objects) (headless, client []string) {
	for _, p := range objs.HeadlessService.Spec.Ports {
		headless = append(headless, fmt.Sprintf("%s:%d", *p.Name, *p.Port))
	}
	for _, p := range objs.ClientService.Spec.Ports {
		client = append(client, fmt.Sprintf("%s:%d", *p.Name, *p.Port))
	}
	return headless, client
}

// TestTLSPorts: clients, Services and probes reach what the node serves:
// the TLS port, and the plaintext port only while spec.tls keeps it.
func TestTLSPorts(t *testing.T) {
	tests := []struct {
		name                 string
		c                    *spec.RedisCluster
		container, headless  []string
		client               []string
		liveness, readyProbe string
	}{
		{"plaintext", testCluster(), []string{"client:6379", "bus:16379"}, []string{"client:6379", "bus:16379"}, []string{"client:6379"}, "client", "-p 6379"},
		{"tls", tlsCluster(nil), []string{"tls:6380", "bus:16379"}, []string{"tls:6380", "bus:16379"}, []string{"tls:6380"}, "tls", "--tls"},
		{"tls, plaintext kept", tlsCluster(func(t *spec.TLS) { t.PlaintextPort = true }),
			[]string{"client:6379", "tls:6380", "bus:16379"}, []string{"client:6379", "tls:6380", "bus:16379"}, []string{"client:6379", "tls:6380"}, "tls", "--tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := mustRender(t, tt.c)
			ctr := objs.StatefulSet.Spec.Template.Spec.Containers[0]
			var ports []string
			for _, p := range ctr.Ports {
				ports = append(ports, fmt.Sprintf("%s:%d", *p.Name, *p.ContainerPort))
			}
			headless, client := servicePortNames(t, objs)
			if !slices.Equal(ports, tt.container) || !slices.Equal(headless, tt.headless) || !slices.Equal(client, tt.client) {
				t.Errorf("ports: container %v, headless %v, client Service %v; want %v, %v, %v", ports, headless, client, tt.container, tt.headless, tt.client)
			}
			if got := ctr.LivenessProbe.TCPSocket.Port.StrVal; got != tt.liveness {
				t.Errorf("liveness probe on port %q, want %q", got, tt.liveness)
			}
			if got := strings.Join(ctr.ReadinessProbe.Exec.Command, " "); !strings.Contains(got, tt.readyProbe) {
				t.Errorf("readiness probe %q lacks %q", got, tt.readyProbe)
			}
		})
	}
}

func TestCertificateNames(t *testing.T) {
	c := tlsCluster(nil)
	c.Spec.ExternalAccess = &spec.ExternalAccess{Type: spec.ExternalHostname, Hostname: "{pod}.redis.example.com"}
	n := CertificateNamesFor(c)
	if got, want := len(n.Pods), 6; got != want {
		t.Fatalf("%d pods, want %d", got, want)
	}
	if got, want := n.Pods[5], [2]string{"cache-5.cache-nodes.prod.svc", "cache-5.cache-nodes.prod.svc.cluster.local"}; got != want {
		t.Errorf("pod 5: %v, want %v", got, want)
	}
	if got, want := n.Wildcards[0], "*.cache-nodes.prod.svc"; got != want {
		t.Errorf("wildcard %q, want %q", got, want)
	}
	if got, want := n.External, []string{"cache-0.redis.example.com", "cache-1.redis.example.com", "cache-2.redis.example.com", "cache-3.redis.example.com", "cache-4.redis.example.com", "cache-5.redis.example.com"}; !slices.Equal(got, want) {
		t.Errorf("external %v, want %v", got, want)
	}
	comment := n.Comment(c)
	for _, line := range strings.Split(strings.TrimSpace(comment), "\n") {
		if !strings.HasPrefix(line, "#") {
			t.Errorf("comment line %q is not a YAML comment", line)
		}
	}
	for _, want := range []string{"cache-tls", "cache-0.cache-nodes.prod.svc", "*.cache-nodes.prod.svc", "cache-3.redis.example.com"} {
		if !strings.Contains(comment, want) {
			t.Errorf("comment lacks %q:\n%s", want, comment)
		}
	}
}

// TestTLSWithRedis runs a real redis-server with the rendered TLS lines
// (files and ports moved to a temp dir and free loopback ports) and runs
// the rendered readiness probe against it, with the container's
// environment: it passes with every clientAuth, and redis-cli without TLS
// is refused. With the exporter on the machine, its rendered arguments
// scrape the node over TLS (redis_up 1), client certificate required.
func TestTLSWithRedis(t *testing.T) {
	for _, prog := range []string{"sh", "redis-server", "redis-cli"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("needs %s", prog)
		}
	}
	ca := tlstest.NewCA(t, "render test CA")
	dir := ca.Files(t, ca.Issue(t, tlstest.Leaf{DNSNames: []string{"*.cache-nodes.prod.svc"}}))
	for _, auth := range []string{spec.ClientAuthNone, spec.ClientAuthRequired} {
		t.Run(auth, func(t *testing.T) {
			c := tlsCluster(func(t *spec.TLS) { t.ClientAuth = auth })
			c.Spec.Monitoring = spec.Monitoring{Enabled: true}
			c.SetDefaults()
			tlsPort, busPort := freePort(t), freePort(t)
			move := strings.NewReplacer("/tls/", dir+"/", "6380", strconv.Itoa(tlsPort), "16379", strconv.Itoa(busPort))
			var conf strings.Builder
			fmt.Fprintf(&conf, "bind 127.0.0.1\ndir %s\nsave \"\"\nappendonly no\n", t.TempDir())
			for _, l := range confLines(t, c) {
				if strings.HasPrefix(l, "port ") || strings.HasPrefix(l, "tls-") || strings.HasPrefix(l, "cluster-port") {
					conf.WriteString(move.Replace(l) + "\n")
				}
			}
			confFile := filepath.Join(t.TempDir(), "redis.conf")
			if err := os.WriteFile(confFile, []byte(conf.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			srv := exec.CommandContext(ctx, "redis-server", confFile)
			var log bytes.Buffer
			srv.Stdout, srv.Stderr = &log, &log
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			defer srv.Wait()
			defer cancel()

			ctr := mustRender(t, c).StatefulSet.Spec.Template.Spec.Containers
			env := []string{"PATH=/usr/bin:/bin"}
			for _, e := range ctr[0].Env {
				if e.Value != nil {
					env = append(env, *e.Name+"="+move.Replace(*e.Value))
				}
			}
			probe := move.Replace(ctr[0].ReadinessProbe.Exec.Command[2])
			ready := func() error {
				cmd := exec.CommandContext(ctx, "sh", "-c", probe)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				if err != nil {
					return fmt.Errorf("%v: %s", err, out)
				}
				return nil
			}
			deadline := time.Now().Add(10 * time.Second)
			err := ready()
			for ; err != nil && time.Now().Before(deadline); err = ready() {
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("readiness probe never passed: %v; redis said:\n%s", err, log.String())
			}
			plain, _ := exec.CommandContext(ctx, "redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(tlsPort), "ping").CombinedOutput()
			if strings.Contains(string(plain), "PONG") {
				t.Errorf("a plaintext redis-cli on the TLS port got PONG")
			}
			if _, err := exec.LookPath("prometheus-redis-exporter"); err != nil {
				t.Log("prometheus-redis-exporter not installed: the exporter's TLS arguments are not run")
				return
			}
			checkExporter(ctx, t, ctr[1].Args, move)
		})
	}
}

// checkExporter runs Debian's redis_exporter with the rendered arguments
// and wants redis_up 1.
func checkExporter(ctx context.Context, t *testing.T, args []string, move *strings.Replacer) {
	t.Helper()
	web := freePort(t)
	var run []string
	for _, a := range args {
		if strings.HasPrefix(a, "-web.listen-address=") {
			a = fmt.Sprintf("-web.listen-address=127.0.0.1:%d", web)
		}
		run = append(run, move.Replace(a))
	}
	exp := exec.CommandContext(ctx, "prometheus-redis-exporter", run...)
	var log bytes.Buffer
	exp.Stdout, exp.Stderr = &log, &log
	if err := exp.Start(); err != nil {
		t.Fatal(err)
	}
	defer exp.Wait()
	defer exp.Process.Kill()
	deadline := time.Now().Add(10 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", web))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if strings.Contains(body, "\nredis_up 1\n") {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("the exporter with %q never reported redis_up 1; it said:\n%s", run, log.String())
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
