package proc

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/podnet"
)

func TestRedisInPod(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("needs redis-server (make deps installs it)")
	}
	ctx := context.Background()
	before := mountPoints(t)
	check := hostMustNotExist(t, "/data", "/conf")
	defer check()
	n := newTestNet(t)

	dataDir, confDir := t.TempDir(), t.TempDir()
	conf := filepath.Join(confDir, "redis.conf")
	// No "dir": redis must pick up WorkingDir as its data directory.
	if err := os.WriteFile(conf, []byte("port 6379\nbind * -::*\nprotected-mode no\nsave \"\"\nappendonly no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(t.TempDir(), "redis.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	p, err := Start(ctx, Spec{
		Name:       "redis",
		NetNS:      n.server,
		Path:       "redis-server",
		Args:       []string{"/conf/redis.conf"},
		Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SBX_SECRET=s3cret"},
		WorkingDir: "/data",
		Mounts: []Mount{
			{HostPath: dataDir, ContainerPath: "/data"},
			{HostPath: conf, ContainerPath: "/conf/redis.conf", ReadOnly: true},
		},
		Stdout: logFile,
		Stderr: logFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.Signal(syscall.SIGKILL)
		<-p.Done()
		if t.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("redis log:\n%s", log)
		}
	}()

	// The container's PID is redis itself, in the pod's network namespace.
	// Debian's redis-server is a symlink to redis-check-rdb.
	wantExe, err := filepath.EvalSymlinks("/usr/bin/redis-server")
	if err != nil {
		t.Fatal(err)
	}
	if exe, err := os.Readlink(filepath.Join("/proc", itoa(p.Pid()), "exe")); err != nil || exe != wantExe {
		t.Errorf("/proc/%d/exe = %q, %v; want %s", p.Pid(), exe, err, wantExe)
	}
	if !sameFile(t, filepath.Join("/proc", itoa(p.Pid()), "ns/net"), filepath.Join(podnet.NetnsDir, n.server)) {
		t.Error("redis is not in the pod network namespace")
	}
	if cmdline, _ := os.ReadFile(filepath.Join("/proc", itoa(p.Pid()), "cmdline")); bytes.Contains(cmdline, []byte("s3cret")) {
		t.Error("secret env leaked into cmdline")
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := n.redisCLI("ping")
		if err == nil && out == "PONG" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis not reachable from %s: %q %v", n.client, out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := n.redisCLI("config", "get", "dir"); err != nil || out != "dir\n/data" {
		t.Errorf("config get dir = %q, %v; want dir /data", out, err)
	}
	if out, err := n.redisCLI("set", "k", "v"); err != nil || out != "OK" {
		t.Errorf("set = %q, %v", out, err)
	}
	if out, err := n.redisCLI("save"); err != nil || out != "OK" {
		t.Errorf("save = %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "dump.rdb")); err != nil {
		t.Errorf("SAVE did not reach the host data dir: %v", err)
	}

	execIn := func(cmd []string, env []string, stdin string, tty bool, resize chan Size) (string, string, int) {
		t.Helper()
		var out, errOut bytes.Buffer
		var in *strings.Reader
		if stdin != "" {
			in = strings.NewReader(stdin)
		}
		var code int
		var err error
		if in != nil {
			code, err = Exec(ctx, p.Pid(), cmd, env, in, &out, &errOut, tty, resize)
		} else {
			code, err = Exec(ctx, p.Pid(), cmd, env, nil, &out, &errOut, tty, resize)
		}
		if err != nil {
			t.Fatalf("Exec %v: %v", cmd, err)
		}
		return out.String(), errOut.String(), code
	}
	if out, _, code := execIn([]string{"redis-cli", "ping"}, nil, "", false, nil); out != "PONG\n" || code != 0 {
		t.Errorf("exec redis-cli ping = %q, %d", out, code)
	}
	if _, _, code := execIn([]string{"sh", "-c", "exit 3"}, nil, "", false, nil); code != 3 {
		t.Errorf("exec exit 3 = %d", code)
	}
	if out, _, _ := execIn([]string{"ls", "/conf"}, nil, "", false, nil); out != "redis.conf\n" {
		t.Errorf("exec ls /conf = %q", out)
	}
	if out, _, _ := execIn([]string{"pwd"}, nil, "", false, nil); out != "/data\n" {
		t.Errorf("exec pwd = %q, want the container's working dir", out)
	}
	if out, _, _ := execIn([]string{"sh", "-c", "echo $SBX_SECRET"}, nil, "", false, nil); out != "s3cret\n" {
		t.Errorf("exec inherits env: %q", out)
	}
	if out, _, _ := execIn([]string{"env"}, []string{"ONLY=1"}, "", false, nil); out != "ONLY=1\n" {
		t.Errorf("exec with env = %q", out)
	}
	if out, _, code := execIn([]string{"cat"}, nil, "hello", false, nil); out != "hello" || code != 0 {
		t.Errorf("exec cat with stdin = %q, %d", out, code)
	}
	if _, errOut, code := execIn([]string{"sh", "-c", "echo oops >&2; touch /conf/redis.conf"}, nil, "", false, nil); code == 0 || !strings.Contains(errOut, "oops") {
		t.Errorf("exec stderr = %q, code %d; want oops and a failing touch on the read-only mount", errOut, code)
	}
	if _, _, code := execIn([]string{"sbx-no-such-command"}, nil, "", false, nil); code != 127 {
		t.Errorf("exec missing command = %d, want 127", code)
	}
	resize := make(chan Size, 1)
	resize <- Size{Width: 101, Height: 41}
	out, _, code := execIn([]string{"sh", "-c", "tty; stty size; exit 5"}, nil, "", true, resize)
	if code != 5 || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "41 101") {
		t.Errorf("exec tty = %q, %d", out, code)
	}
	// Everything written before exit arrives, even through a terminal.
	if out, _, code := execIn([]string{"seq", "100000"}, nil, "", true, nil); code != 0 || !strings.HasSuffix(out, "\r\n99999\r\n100000\r\n") {
		t.Errorf("exec tty large output: %d bytes ending %q, code %d", len(out), out[max(0, len(out)-20):], code)
	}
	if out, _, code := execIn([]string{"sh", "-c", "read x; echo got=$x"}, nil, "abc\n", true, nil); code != 0 || !strings.Contains(out, "got=abc") {
		t.Errorf("exec tty with stdin = %q, %d", out, code)
	}

	// Exec is bounded by its context.
	shortCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	start := time.Now()
	_, err = Exec(shortCtx, p.Pid(), []string{"sleep", "30"}, nil, nil, nil, nil, false, nil)
	cancel()
	if err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("exec past its context: %v after %v", err, time.Since(start))
	}

	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitDone(t, p); code != 0 {
		t.Errorf("redis exit code after SIGTERM = %d, want 0 (clean shutdown)", code)
	}
	if _, err := Exec(ctx, p.Pid(), []string{"true"}, nil, nil, nil, nil, false, nil); err == nil {
		t.Error("Exec into an exited container succeeded")
	}

	n.teardown(t)
	checkNoNewMounts(t, before, n.prefix, dataDir, confDir)
}

func itoa(i int) string { return strconv.Itoa(i) }

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(fa, fb)
}
