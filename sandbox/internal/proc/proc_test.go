package proc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/podnet"
)

func TestMain(m *testing.M) {
	Init()
	os.Exit(m.Run())
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root: containers need mount and network namespaces")
	}
}

// syncBuffer is a goroutine-safe bytes.Buffer, standing in for a writer that
// is not an *os.File.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// mountPoints returns the mount points of the test process's namespace.
func mountPoints(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			points = append(points, fields[4])
		}
	}
	return points
}

// checkNoNewMounts fails if the host gained mounts, ignoring ip's own
// /run/netns self-bind (created on first use and kept) and the netns pins of
// other tests running in parallel, i.e. those without netnsPrefix.
func checkNoNewMounts(t *testing.T, before []string, netnsPrefix string, dirs ...string) {
	t.Helper()
	for _, p := range mountPoints(t) {
		for _, d := range dirs {
			if p == d || strings.HasPrefix(p, d+"/") {
				t.Errorf("mount left under test dir: %s", p)
			}
		}
		if slices.Contains(before, p) || p == podnet.NetnsDir {
			continue
		}
		if name, ok := strings.CutPrefix(p, podnet.NetnsDir+"/"); ok && (netnsPrefix == "" || !strings.HasPrefix(name, netnsPrefix)) {
			continue
		}
		t.Errorf("new host mount left: %s", p)
	}
}

// hostMustNotExist skips the test if any of paths exists on the host and
// returns a check, to defer, that the test did not create them there: proof
// that container mountpoints and working dirs never land on the host.
func hostMustNotExist(t *testing.T, paths ...string) func() {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			t.Skipf("%s exists on the host", p)
		}
	}
	return func() {
		for _, p := range paths {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("%s was created on the host", p)
				os.RemoveAll(p)
			}
		}
	}
}

func waitDone(t *testing.T, p *Process) int {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("process %d did not exit", p.Pid())
	}
	code, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestHostNetnsBasics(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	before := mountPoints(t)
	check := hostMustNotExist(t, "/sbxwd-probe")
	defer check()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	p, err := Start(ctx, Spec{
		Name:       "basics",
		Path:       "sh",
		Args:       []string{"-c", `echo "env=$(env | sort | tr '\n' ,)"; echo "pwd=$PWD"; echo "ls=$(ls / | tr '\n' ,)"; cat /in/f; echo; touch /in/ro 2>/dev/null || echo rofail; touch /usr/sbx-probe 2>/dev/null || echo usrro; exit 7`},
		Env:        []string{"A=1", "PATH=/usr/bin:/bin"},
		WorkingDir: "/sbxwd-probe/a/b",
		Mounts:     []Mount{{HostPath: dir, ContainerPath: "/in", ReadOnly: true}},
		Stdout:     &out,
		Stderr:     &errOut,
	})
	if err != nil {
		t.Fatal(err)
	}
	if code := waitDone(t, p); code != 7 {
		t.Errorf("exit code %d, want 7; stderr: %s", code, errOut.String())
	}
	if p.ExitCode() != 7 {
		t.Errorf("ExitCode() = %d", p.ExitCode())
	}
	got := out.String()
	t.Logf("output:\n%s", got)
	for _, want := range []string{
		"env=A=1,PATH=/usr/bin:/bin,PWD=/sbxwd-probe/a/b,", // dash adds PWD
		"pwd=/sbxwd-probe/a/b",
		"ls=bin,dev,etc,",
		"\nx\nrofail\nusrro\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, hidden := range []string{"boot", "mnt", "work", ".oldroot"} {
		if strings.Contains(got, ","+hidden+",") {
			t.Errorf("container root shows %s", hidden)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ro")); err == nil {
		t.Error("read-only mount was writable")
	}
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after exit = %v, want os.ErrProcessDone", err)
	}
	checkNoNewMounts(t, before, "", dir)
}

func TestStartErrors(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	check := hostMustNotExist(t, "/usr/sbx-nonexistent-probe", "/etc/sbx-probe-dir")
	defer check()
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"no such program", Spec{Path: "sbx-no-such-program"}, "executable file not found"},
		{"missing source", Spec{Path: "true", Mounts: []Mount{{HostPath: dir + "/nope", ContainerPath: "/data"}}}, "mount /data: open " + dir + "/nope"},
		{"create in host dir", Spec{Path: "true", Mounts: []Mount{{HostPath: dir, ContainerPath: "/usr/sbx-nonexistent-probe"}}}, "would be created in host directory /usr"},
		{"create through symlink", Spec{Path: "true", Mounts: []Mount{{HostPath: dir, ContainerPath: "/bin/sbx-nonexistent-probe"}}}, "would be created in host directory /usr"},
		{"working dir in host dir", Spec{Path: "true", WorkingDir: "/etc/sbx-probe-dir"}, "working dir /etc/sbx-probe-dir"},
		{"dir over file", Spec{Path: "true", Mounts: []Mount{{HostPath: dir, ContainerPath: "/etc/hostname"}}}, "exists and is not a directory"},
		{"program outside container", Spec{Path: self}, "exec " + self},
		{"missing netns", Spec{Path: "true", NetNS: "sbx-no-such-netns"}, "join netns sbx-no-such-netns"},
		{"relative mount", Spec{Path: "true", Mounts: []Mount{{HostPath: "rel", ContainerPath: "/x"}}}, "must be absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Name = "bad"
			p, err := Start(ctx, tt.spec)
			if err == nil {
				waitDone(t, p)
				t.Fatal("Start succeeded")
			}
			t.Log(err)
			if !strings.HasPrefix(err.Error(), "container bad: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestGroupKilledWithProgram(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := Start(ctx, Spec{
		Name:   "group",
		Path:   "sh",
		Args:   []string{"-c", "sleep 1000 & echo $!; wait"},
		Env:    []string{"PATH=/usr/bin:/bin"},
		Stdout: w,
	})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child := strings.TrimSpace(line)
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := waitDone(t, p); code != 128+9 {
		t.Errorf("exit code %d, want 137", code)
	}
	// The orphaned sleep must be gone; it may linger as a zombie until the
	// host's init reaps it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + child + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %s survived: %s", child, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testNet creates a bridge and two pod namespaces, server and client.
type testNet struct {
	prefix         string
	subnet         netip.Prefix
	bridge         podnet.Bridge
	server, client string
	serverIP       netip.Addr
}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("needs iproute2 (make deps installs it)")
	}
	ctx := context.Background()
	b := make([]byte, 2)
	rand.Read(b)
	n := &testNet{prefix: "sbxt" + hex.EncodeToString(b) + "-"}
	// Not podnet's test subnets: go test runs packages in parallel, and two
	// bridges with the same subnet would make host-side routing ambiguous.
	for _, s := range []string{"10.246.0.0/16", "10.247.0.0/16", "172.30.0.0/16"} {
		p := netip.MustParsePrefix(s)
		over, err := podnet.OverlapsRoutes(p)
		if err != nil {
			t.Fatal(err)
		}
		if !over {
			n.subnet = p
			break
		}
	}
	if !n.subnet.IsValid() {
		t.Skip("no free test subnet")
	}
	ipam, err := podnet.NewIPAM(n.subnet, n.subnet.Addr().Next())
	if err != nil {
		t.Fatal(err)
	}
	n.bridge = podnet.Bridge{Name: n.prefix + "br", Gateway: netip.PrefixFrom(n.subnet.Addr().Next(), n.subnet.Bits())}
	n.server, n.client = n.prefix+"srv", n.prefix+"cli"
	t.Cleanup(func() {
		podnet.DeletePod(ctx, n.server)
		podnet.DeletePod(ctx, n.client)
		n.bridge.Teardown(ctx)
	})
	if err := n.bridge.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{n.server, n.client} {
		a, err := ipam.Allocate(ns)
		if err != nil {
			t.Fatal(err)
		}
		if ns == n.server {
			n.serverIP = a
		}
		if err := podnet.CreatePod(ctx, n.bridge, ns, netip.PrefixFrom(a, n.subnet.Bits())); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func (n *testNet) teardown(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, ns := range []string{n.server, n.client} {
		if err := podnet.DeletePod(ctx, ns); err != nil {
			t.Error(err)
		}
	}
	if err := n.bridge.Teardown(ctx); err != nil {
		t.Error(err)
	}
	if left, _ := podnet.ListNetns(n.prefix); len(left) > 0 {
		t.Errorf("netns left: %v", left)
	}
	if left, _ := podnet.ListLinks(n.prefix); len(left) > 0 {
		t.Errorf("links left: %v", left)
	}
	links, _ := podnet.ListLinks(podnet.VethPrefix)
	for _, ns := range []string{n.server, n.client} {
		if slices.Contains(links, podnet.VethName(ns)) {
			t.Errorf("veth of %s left", ns)
		}
	}
}

// redisCLI runs redis-cli against the server from the client namespace.
func (n *testNet) redisCLI(args ...string) (string, error) {
	full := append([]string{"netns", "exec", n.client, "redis-cli", "-h", n.serverIP.String()}, args...)
	out, err := exec.Command("ip", full...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
