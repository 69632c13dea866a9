package kubelet

import (
	"errors"
	"slices"
	"testing"
)

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
