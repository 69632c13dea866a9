// Package sandboxtest gives end-to-end tests of the product one sandbox per
// test binary: a real Kubernetes control plane with process kubelets,
// started through bin/sandbox (the sandbox is its own module and stays out
// of the product's import graph).
package sandboxtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	binDir string
	dir    string
	config *rest.Config
	nsSeq  atomic.Int64
)

// Main starts a 3-node sandbox, runs the tests, and stops it, checking that
// nothing is left behind. Call it from TestMain: os.Exit(sandboxtest.Main(m)).
func Main(m *testing.M) int { return MainWithImages(m) }

// MainWithImages is Main with images mapped to programs of bin/: for each
// name, every tag of image repository name (any owner) runs bin/<name> in
// the sandbox, e.g. "redis-gitops" for ghcr.io/redis-gitops/redis-gitops.
func MainWithImages(m *testing.M, images ...string) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "sandboxtest: end-to-end tests need root (the sandbox makes network namespaces)")
		return 1
	}
	var err error
	if binDir, err = findBin(); err != nil {
		fmt.Fprintln(os.Stderr, "sandboxtest:", err)
		return 1
	}
	if dir, err = os.MkdirTemp("", "redis-gitops-e2e-"); err != nil {
		fmt.Fprintln(os.Stderr, "sandboxtest:", err)
		return 1
	}
	sandbox := filepath.Join(binDir, "sandbox")
	code := 1
	up := []string{"up", "--dir", dir}
	for _, name := range images {
		up = append(up, "--image", name+"="+filepath.Join(binDir, name))
	}
	if out, err := run(sandbox, up...); err != nil {
		fmt.Fprintln(os.Stderr, "sandboxtest: sandbox up:", err, out)
	} else if config, err = clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig")); err != nil {
		fmt.Fprintln(os.Stderr, "sandboxtest:", err)
	} else {
		code = m.Run()
	}
	if out, err := run(sandbox, "down", "--dir", dir); err != nil {
		fmt.Fprintln(os.Stderr, "sandboxtest: sandbox down:", err, out)
		code = 1
	}
	return code
}

// findBin finds bin/ (with sandbox and kubectl) from $SANDBOX_BIN or by
// walking up from the test's directory to the repository root.
func findBin() (string, error) {
	if b := os.Getenv("SANDBOX_BIN"); b != "" {
		return b, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "bin", "sandbox")); err == nil {
			return filepath.Join(d, "bin"), nil
		}
	}
	return "", fmt.Errorf("bin/sandbox not found above %s: run `make build` first", wd)
}

func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Config is a REST config for the sandbox (admin).
func Config() *rest.Config { return rest.CopyConfig(config) }

// Client is a typed client for the sandbox.
func Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(Config())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Dynamic is a dynamic client for the sandbox.
func Dynamic(t testing.TB) dynamic.Interface {
	t.Helper()
	c, err := dynamic.NewForConfig(Config())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Namespace creates a fresh namespace for one test.
func Namespace(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, nsSeq.Add(1))
	_, err := Client(t).CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// Kubectl runs bin/kubectl against the sandbox; env entries (KEY=VALUE) are
// added to its environment (KUBE_EDITOR, for example).
func Kubectl(t testing.TB, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "kubectl"), append([]string{"--kubeconfig", filepath.Join(dir, "kubeconfig")}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Eventually retries f until it returns nil or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
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

// Sandbox runs bin/sandbox against the test binary's sandbox (node kill,
// start, partition, heal; pod kill).
func Sandbox(t testing.TB, args ...string) string {
	t.Helper()
	out, err := run(filepath.Join(binDir, "sandbox"), append(args, "--dir", dir)...)
	if err != nil {
		t.Fatalf("sandbox %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Kubeconfig is the path of the sandbox's admin kubeconfig, for programs
// a test starts.
func Kubeconfig() string { return filepath.Join(dir, "kubeconfig") }

// Bin is the path of a program in the repository's bin/ (built by `make
// build`), such as "redis-gitops".
func Bin(name string) string { return filepath.Join(binDir, name) }
