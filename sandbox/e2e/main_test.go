// Package e2e runs the sandbox as a user would, through bin/sandbox and
// bin/kubectl, and checks what a user would check.
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// One sandbox per test binary; tests isolate themselves by namespace.
var (
	binDir     string
	sandboxDir string
	kubeconfig string
	client     kubernetes.Interface
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: the sandbox needs root")
		return 1
	}
	binDir = os.Getenv("SANDBOX_BIN")
	if binDir == "" {
		binDir, _ = filepath.Abs("../../bin")
	}
	for _, b := range []string{"sandbox", "kubectl", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %s missing in %s; run `make build` (or set SANDBOX_BIN)\n", b, binDir)
			return 1
		}
	}
	var err error
	sandboxDir, err = os.MkdirTemp("", "sandbox-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := 0
	// One image mapped by flag (see e2eImage), besides the kubectl images
	// the sandbox maps to the kubectl next to it.
	out, err := runCmd(context.Background(), filepath.Join(binDir, "sandbox"), "up", "--dir", sandboxDir, "--nodes", "3", "--measure",
		"--image", "example.com/e2e/kubectl-copy="+filepath.Join(binDir, "kubectl"))
	fmt.Print(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: sandbox up:", err)
		code = 1
	} else {
		kubeconfig = filepath.Join(sandboxDir, "kubeconfig")
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err == nil {
			client, err = kubernetes.NewForConfig(cfg)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: client:", err)
			code = 1
		} else {
			code = m.Run()
		}
	}
	// Pass or fail, the sandbox goes and nothing may remain.
	out, err = runCmd(context.Background(), filepath.Join(binDir, "sandbox"), "down", "--dir", sandboxDir)
	fmt.Print(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: sandbox down:", err)
		code = 1
	}
	if left := leftovers(sandboxDir); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: left behind after sandbox down:\n  %s\n", strings.Join(left, "\n  "))
		code = 1
	}
	return code
}

// leftovers checks, independently of the sandbox's own code, that nothing
// of the sandbox remains: processes, network namespaces, links, mounts, dir.
func leftovers(dir string) []string {
	var left []string
	if _, err := os.Stat(dir); err == nil {
		left = append(left, "directory "+dir)
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil && bytes.Contains(mi, []byte(dir)) {
		left = append(left, "a mount under "+dir)
	}
	// Pods of other sandboxes on this machine live in namespaces pinned
	// under /run/netns; a redis-server of ours that outlived `down` is in a
	// pod namespace none of those accounts for.
	pinned := map[string]bool{}
	if ns, err := os.ReadDir("/run/netns"); err == nil {
		for _, n := range ns {
			var st syscall.Stat_t
			if syscall.Stat(filepath.Join("/run/netns", n.Name()), &st) == nil {
				pinned[fmt.Sprintf("net:[%d]", st.Ino)] = true
			}
		}
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmd, []byte(dir)) {
			left = append(left, fmt.Sprintf("process %s: %s", e.Name(), bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
		}
		// Every redis-server the tests ran lived in a pod.
		if err == nil && bytes.HasPrefix(cmd, []byte("redis-server")) {
			if ns, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "net")); err == nil && ns != hostNetns() && !pinned[ns] {
				left = append(left, fmt.Sprintf("process %s: %s (in a pod network namespace)", e.Name(), bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
			}
		}
	}
	// Other sandboxes may run on this machine (another test binary, a
	// demo): only this one's names count. They derive from the dir's hash;
	// a pod veth left behind has lost its bridge, so it has no master.
	sum := sha256.Sum256([]byte(dir))
	prefix := "sbx" + hex.EncodeToString(sum[:3])
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil && bytes.Contains(out, []byte(prefix)) {
		left = append(left, "network namespaces: "+strings.TrimSpace(string(out)))
	}
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, ": "+prefix) || strings.Contains(l, ": sv") && !strings.Contains(l, " master ") {
				left = append(left, "link: "+strings.TrimSpace(l))
			}
		}
	}
	return left
}

func hostNetns() string {
	ns, _ := os.Readlink("/proc/self/ns/net")
	return ns
}

func runCmd(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// kubectl runs bin/kubectl against the sandbox.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := runCmd(ctx, filepath.Join(binDir, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sandbox(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runCmd(context.Background(), filepath.Join(binDir, "sandbox"), append(args, "--dir", sandboxDir)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func namespace(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not true after %s: %v", what, timeout, err)
}
