package kubelet

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestResolveExporterImage(t *testing.T) {
	for _, image := range []string{"oliver006/redis_exporter:v1.45.0", "quay.io/oliver006/redis_exporter:v1.62.0", "docker.io/oliver006/redis_exporter"} {
		img, err := DefaultImages.Resolve(image)
		if err != nil {
			t.Errorf("Resolve(%q): %v", image, err)
			continue
		}
		args := []string{"-redis.addr=redis://127.0.0.1:6379", "-web.listen-address=:9121"}
		if got, want := img.Argv(nil, args), append([]string{"prometheus-redis-exporter"}, args...); !slices.Equal(got, want) {
			t.Errorf("Resolve(%q).Argv(nil, args) = %q, want %q", image, got, want)
		}
	}
	if _, err := DefaultImages.Resolve("someone/redis_exporter:1"); err == nil {
		t.Errorf("Resolve(someone/redis_exporter:1): mapped; want only oliver006's")
	}
}

func TestResolveImage(t *testing.T) {
	tests := []struct {
		image   string
		wantCmd []string
		wantErr bool
	}{
		{image: "redis:6.0.9", wantCmd: []string{"redis-server"}},
		{image: "redis", wantCmd: []string{"redis-server"}},
		{image: "docker.io/library/redis:7.2@sha256:abcd", wantCmd: []string{"redis-server"}},
		{image: "localhost:5000/redis:7", wantCmd: []string{"redis-server"}},
		{image: "valkey/valkey:8", wantErr: true},
		{image: "busybox:1.36", wantCmd: []string{"sh"}},
		{image: "nginx:1.27", wantErr: true},
		{image: "myredis:1", wantErr: true},
	}
	for _, tt := range tests {
		img, err := DefaultImages.Resolve(tt.image)
		var notMapped *ErrImageNotMapped
		if tt.wantErr {
			if !errors.As(err, &notMapped) || notMapped.Image != tt.image {
				t.Errorf("Resolve(%q): got err %v, want ErrImageNotMapped", tt.image, err)
			}
			continue
		}
		if err != nil || !slices.Equal(img.Cmd, tt.wantCmd) {
			t.Errorf("Resolve(%q) = %v, %v; want cmd %v", tt.image, img.Cmd, err, tt.wantCmd)
		}
	}
}

func TestArgv(t *testing.T) {
	redis := DefaultImages["redis"]
	tests := []struct {
		name          string
		img           Image
		command, args []string
		want          []string
	}{
		{"image default", redis, nil, nil, []string{"redis-server"}},
		{"command replaces entrypoint and cmd", redis, []string{"redis-server"}, []string{"/conf/redis.conf"}, []string{"redis-server", "/conf/redis.conf"}},
		{"args only: flags get redis-server, as docker-entrypoint.sh does", redis, nil, []string{"--port", "7000"}, []string{"redis-server", "--port", "7000"}},
		{"args only: a .conf file gets redis-server", redis, nil, []string{"/etc/redis.conf"}, []string{"redis-server", "/etc/redis.conf"}},
		{"args only: another program runs as is", redis, nil, []string{"redis-cli", "ping"}, []string{"redis-cli", "ping"}},
		{"command is never fixed", redis, []string{"--weird"}, nil, []string{"--weird"}},
		{"entrypoint kept with args", Image{Entrypoint: []string{"tini", "--"}, Cmd: []string{"x"}}, nil, []string{"y"}, []string{"tini", "--", "y"}},
	}
	for _, tt := range tests {
		if got := tt.img.Argv(tt.command, tt.args); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestTailLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 0, "a\nb\nc\n"},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\nc\n", 5, "a\nb\nc\n"},
		{"", 3, ""},
	}
	for _, tt := range tests {
		if got := string(tailLines([]byte(tt.in), tt.n)); got != tt.want {
			t.Errorf("tailLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// TestImageMapping: NAME=PATH parsing and which image references a mapped
// local program answers, with what argv, PATH and mount.
func TestImageMapping(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "redis-gitops")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "kubectl")
	if err := os.Symlink(prog, link); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	parse := []struct {
		in       string
		key      string
		anyOwner bool
		inside   string
		wantErr  string
	}{
		{in: "redis-gitops=" + prog, key: "redis-gitops", anyOwner: true, inside: "/sandbox/bin/redis-gitops"},
		{in: " ghcr.io/redis-gitops/redis-gitops = " + prog, key: "redis-gitops/redis-gitops", inside: "/sandbox/bin/redis-gitops"},
		{in: "docker.io/library/tool=" + prog, key: "tool", anyOwner: true, inside: "/sandbox/bin/redis-gitops"},
		// A symlink runs its target but keeps its own name in the container.
		{in: "kubectl=" + link, key: "kubectl", anyOwner: true, inside: "/sandbox/bin/kubectl"},
		{in: "redis-gitops", wantErr: "want NAME=PATH"},
		{in: "=" + prog, wantErr: "want NAME=PATH"},
		{in: "redis-gitops=", wantErr: "want NAME=PATH"},
		{in: "redis-gitops:dev=" + prog, wantErr: "without tag"},
		{in: "redis-gitops@sha256:00=" + prog, wantErr: "without tag"},
		{in: "x=" + filepath.Join(dir, "missing"), wantErr: "no such file"},
		{in: "x=" + plain, wantErr: "not an executable file"},
		{in: "x=" + dir, wantErr: "not an executable file"},
	}
	for _, tt := range parse {
		key, img, err := ParseImageMapping(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseImageMapping(%q): err %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseImageMapping(%q): %v", tt.in, err)
			continue
		}
		if key != tt.key || img.AnyOwner != tt.anyOwner || img.Program != prog || img.containerProgram() != tt.inside {
			t.Errorf("ParseImageMapping(%q) = %q, %+v; want key %q anyOwner %v program %s at %s", tt.in, key, img, tt.key, tt.anyOwner, prog, tt.inside)
		}
	}

	table := DefaultImages.Clone()
	for _, m := range []string{"redis-gitops=" + prog, "kubectl=" + link, "example.com/team/tool=" + prog} {
		name, program, _ := strings.Cut(m, "=")
		if err := table.MapProgram(name, program); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := DefaultImages["kubectl"]; ok {
		t.Fatal("MapProgram on a clone changed DefaultImages")
	}
	resolve := []struct {
		image   string
		program string // "" for a host image
		wantErr bool
	}{
		{image: "ghcr.io/redis-gitops/redis-gitops:dev", program: prog},
		{image: "redis-gitops:v0.1.0", program: prog},
		{image: "redis-gitops", program: prog},
		{image: "localhost:5000/someone/redis-gitops@sha256:abcd", program: prog},
		{image: "bitnami/kubectl:1.37", program: prog},
		{image: "registry.k8s.io/kubectl:v1.37.2", program: prog},
		{image: "team/tool:1", program: prog},
		{image: "other.registry/team/tool", program: prog},
		// A name with an owner maps that repository only.
		{image: "tool:1", wantErr: true},
		{image: "elsewhere/tool:1", wantErr: true},
		{image: "redis-gitops-extra:1", wantErr: true},
		// Host images are untouched; AnyOwner is for mapped programs only.
		{image: "redis:7"},
		{image: "valkey/valkey:8", wantErr: true},
	}
	for _, tt := range resolve {
		img, err := table.Resolve(tt.image)
		if tt.wantErr {
			var nm *ErrImageNotMapped
			if !errors.As(err, &nm) {
				t.Errorf("Resolve(%q): got %+v, %v; want ErrImageNotMapped", tt.image, img, err)
			} else if !strings.Contains(err.Error(), "*/redis-gitops") || !strings.Contains(err.Error(), "--image NAME=PATH") {
				t.Errorf("Resolve(%q): message %q lacks the mapped images or how to map one", tt.image, err)
			}
			continue
		}
		if err != nil || img.Program != tt.program {
			t.Errorf("Resolve(%q) = program %q, %v; want %q", tt.image, img.Program, err, tt.program)
		}
	}

	img := table["redis-gitops"]
	argv := []struct {
		name          string
		command, args []string
		want          []string
	}{
		{"entrypoint", nil, nil, []string{"/sandbox/bin/redis-gitops"}},
		{"args follow the entrypoint", nil, []string{"daemon", "--interval", "1m"}, []string{"/sandbox/bin/redis-gitops", "daemon", "--interval", "1m"}},
		{"command by bare name", []string{"redis-gitops", "version"}, nil, []string{"/sandbox/bin/redis-gitops", "version"}},
		{"command by the real image's path", []string{"/usr/local/bin/redis-gitops"}, []string{"daemon"}, []string{"/sandbox/bin/redis-gitops", "daemon"}},
		{"another program stays", []string{"sh", "-c", "redis-gitops"}, nil, []string{"sh", "-c", "redis-gitops"}},
		{"a name that only contains it stays", []string{"redis-gitops-helper"}, nil, []string{"redis-gitops-helper"}},
	}
	for _, tt := range argv {
		got := img.Argv(tt.command, tt.args)
		got[0] = img.programPath(got[0])
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: argv %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := DefaultImages["redis"].programPath("redis-server"); got != "redis-server" {
		t.Errorf("host image rewrote its program to %q", got)
	}
}

func TestParseImageList(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ParseImageList(" one=" + a + ",, org/two=" + b + ",")
	if err != nil || len(got) != 2 || got["one"].Program != a || got["org/two"].Program != b {
		t.Fatalf("ParseImageList: %+v, %v", got, err)
	}
	if got, err := ParseImageList(""); err != nil || len(got) != 0 {
		t.Fatalf("empty list: %+v, %v", got, err)
	}
	if _, err := ParseImageList("one=" + a + ",bad"); err == nil || !strings.Contains(err.Error(), `"bad"`) {
		t.Fatalf("bad item: err %v", err)
	}
}

// TestAPIServerEnv: the variables the kubelet derives from the kubernetes
// Service, pointing where pods reach the API server, under a container's
// own env.
func TestAPIServerEnv(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	c := &corev1.Container{Env: []corev1.EnvVar{
		{Name: "API", Value: "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)"},
		{Name: "KUBERNETES_PORT", Value: "mine"},
	}}
	rt := podRuntime{APIServer: netip.MustParseAddrPort("10.244.0.1:40123")}
	prog := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(prog, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := LocalProgram(prog)
	if err != nil {
		t.Fatal(err)
	}
	env, err := containerEnv(pod, c, img, rt, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"KUBERNETES_SERVICE_HOST":         "10.244.0.1",
		"KUBERNETES_SERVICE_PORT":         "40123",
		"KUBERNETES_SERVICE_PORT_HTTPS":   "40123",
		"KUBERNETES_PORT":                 "mine",
		"KUBERNETES_PORT_40123_TCP":       "tcp://10.244.0.1:40123",
		"KUBERNETES_PORT_40123_TCP_PROTO": "tcp",
		"KUBERNETES_PORT_40123_TCP_PORT":  "40123",
		"KUBERNETES_PORT_40123_TCP_ADDR":  "10.244.0.1",
		"API":                             "https://10.244.0.1:40123",
		"PATH":                            "/sandbox/bin:" + basePath,
		"HOSTNAME":                        "p",
	}
	if len(env) != len(want) {
		t.Errorf("env has %d variables, want %d: %v", len(env), len(want), env)
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	env, _ = containerEnv(pod, &corev1.Container{}, Image{}, podRuntime{}, nil)
	if _, ok := env["KUBERNETES_SERVICE_HOST"]; ok || env["PATH"] != basePath {
		t.Errorf("no API server, host image: env %v", env)
	}
}
