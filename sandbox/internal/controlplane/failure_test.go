package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// requireEtcd skips when the etcd binary is missing.
func requireEtcd(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath(NameEtcd)
	if err != nil {
		t.Fatalf("etcd not available (make deps installs etcd-server): %v", err)
	}
	return path
}

// startBareEtcd starts etcd for dir the way Start does and returns its pid,
// without any ControlPlane owning it: what a crashed supervisor leaves.
func startBareEtcd(t *testing.T, etcdBin, dir string) *process {
	t.Helper()
	l := layout{dir: dir}
	for _, d := range []string{l.logs(), l.pids(), l.etcdData()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	free, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	p, err := startProcess(NameEtcd, etcdBin, etcdArgs(l, ports{etcdClient: free[0], etcdPeer: free[1]}), l.log(NameEtcd), l.pid(NameEtcd), "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func waitExited(t *testing.T, pid int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !pidAlive(pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("pid %d still alive after %s", pid, timeout)
}

// pidAlive reports a live, non-zombie process.
func pidAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}

func TestStaleAndKillStale(t *testing.T) {
	etcdBin := requireEtcd(t)
	dir := t.TempDir()
	p := startBareEtcd(t, etcdBin, dir)

	if got := Stale(dir); len(got) != 1 || got[0] != p.pid() {
		t.Fatalf("Stale = %v, want [%d]", got, p.pid())
	}
	if got := Stale(t.TempDir()); len(got) != 0 {
		t.Errorf("Stale(other dir) = %v, want none", got)
	}
	_, err := Start(t.Context(), Config{Dir: dir, BinDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("Start over a stale run: err = %v, want 'still running'", err)
	}
	if err := KillStale(t.Context(), dir); err != nil {
		t.Fatalf("KillStale: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("etcd not reaped after KillStale")
	}
	if got := Stale(dir); len(got) != 0 {
		t.Errorf("Stale after KillStale = %v", got)
	}
	if _, err := os.Stat(layout{dir: dir}.pid(NameEtcd)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left behind: %v", err)
	}
}

// TestHelperOrphanParent is not a test: TestPdeathsig runs the test binary
// with CP_HELPER_DIR set so this starts etcd, reports its pid and waits to
// be killed.
func TestHelperOrphanParent(t *testing.T) {
	dir := os.Getenv("CP_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	p := startBareEtcd(t, os.Getenv("CP_HELPER_ETCD"), dir)
	fmt.Printf("PID %d\n", p.pid())
	time.Sleep(time.Minute)
}

// TestPdeathsig proves components die with a SIGKILLed supervisor.
func TestPdeathsig(t *testing.T) {
	etcdBin := requireEtcd(t)
	dir := t.TempDir()
	// On failure the orphaned etcd must not outlive the test; t.Context
	// is already cancelled here, so KillStale goes straight to SIGKILL.
	t.Cleanup(func() { _ = KillStale(t.Context(), dir) })
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperOrphanParent$", "-test.v")
	cmd.Env = append(os.Environ(), "CP_HELPER_DIR="+dir, "CP_HELPER_ETCD="+etcdBin)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	buf := make([]byte, 4096)
	var seen string
	for pid == 0 {
		n, err := out.Read(buf)
		if err != nil {
			t.Fatalf("helper output %q: %v", seen, err)
		}
		seen += string(buf[:n])
		if _, rest, ok := strings.Cut(seen, "PID "); ok {
			if line, _, ok := strings.Cut(rest, "\n"); ok {
				pid, _ = strconv.Atoi(line)
			}
		}
	}
	if len(Stale(dir)) != 1 {
		t.Fatalf("helper's etcd not found by Stale")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	waitExited(t, pid, 5*time.Second)
}

func TestStartFailureCleansUp(t *testing.T) {
	etcdBin := requireEtcd(t)
	binDir := t.TempDir()
	script := "#!/bin/sh\necho \"boom: flag provided but not defined\" >&2\nexit 3\n"
	for _, name := range []string{NameAPIServer, NameControllerManager, NameScheduler} {
		if err := os.WriteFile(filepath.Join(binDir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	_, err := Start(t.Context(), Config{Dir: dir, BinDir: binDir, EtcdBin: etcdBin})
	if err == nil {
		t.Fatal("Start succeeded with a broken kube-apiserver")
	}
	t.Logf("Start error: %v", err)
	for _, want := range []string{"kube-apiserver", "exited unexpectedly", "boom: flag provided"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if got := Stale(dir); len(got) != 0 {
		t.Errorf("components left running after failed Start: %v", got)
	}
}

func TestStartContextCancelled(t *testing.T) {
	binDir := testBinDir(t)
	requireEtcd(t)
	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
	defer cancel()
	dir := t.TempDir()
	_, err := Start(ctx, Config{Dir: dir, BinDir: binDir})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if got := Stale(dir); len(got) != 0 {
		t.Errorf("components left running: %v", got)
	}
}

// TestRestartAndCrash reuses a state dir (data must survive) and checks
// that an unexpected component exit is reported through Done and Err.
func TestRestartAndCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane twice")
	}
	binDir := testBinDir(t)
	dir := t.TempDir()
	ctx := t.Context()

	cp, err := Start(ctx, Config{Dir: dir, BinDir: binDir})
	if err != nil {
		t.Fatalf("first Start: %v", err)
	}
	client := kubernetes.NewForConfigOrDie(cp.RESTConfig())
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survivor"}}
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cp.Stop(ctx); err != nil {
		t.Fatalf("first Stop: %v", err)
	}

	cp, err = Start(ctx, Config{Dir: dir, BinDir: binDir})
	if err != nil {
		t.Fatalf("second Start: %v", err)
	}
	defer cp.Stop(ctx)
	t.Logf("restart took %.2fs", cp.StartupDuration().Seconds())
	client = kubernetes.NewForConfigOrDie(cp.RESTConfig())
	if _, err := client.CoreV1().ConfigMaps("default").Get(ctx, "survivor", metav1.GetOptions{}); err != nil {
		t.Fatalf("data lost across restart: %v", err)
	}

	var sched Component
	for _, c := range cp.Components() {
		if c.Name == NameScheduler {
			sched = c
		}
	}
	if err := syscall.Kill(sched.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cp.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after kube-scheduler was killed")
	}
	if err := cp.Err(); err == nil || !strings.Contains(err.Error(), NameScheduler) {
		t.Errorf("Err = %v, want it to name %s", err, NameScheduler)
	}
	if err := cp.Stop(ctx); err != nil {
		t.Errorf("Stop after crash: %v", err)
	}
	if got := Stale(dir); len(got) != 0 {
		t.Errorf("components left running: %v", got)
	}
}
