package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs `make demo`'s program as the README says, up then down:
// the cluster forms from a Git push through the daemon, a key round-trips,
// the status report is committed; a second up refuses to break the first;
// down leaves no directory and no process behind.
func TestDemo(t *testing.T) {
	bin := os.Getenv("SANDBOX_BIN")
	if bin == "" {
		bin, _ = filepath.Abs("../../bin")
	}
	if _, err := os.Stat(filepath.Join(bin, "demo")); err != nil {
		t.Fatalf("bin/demo: %v (make build builds it)", err)
	}
	dir := filepath.Join(t.TempDir(), "demo")
	run := func(args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(bin, "demo"), append(args, "--dir", dir, "--bin", bin)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { run("down") })
	out, err := run("up", "--examples", "../../examples")
	t.Logf("demo up:\n%s", out)
	if err != nil {
		t.Fatalf("demo up: %v", err)
	}
	for _, want := range []string{
		"pods running: 6/6",
		"ok, slots assigned 16384/16384, nodes known 6",
		"no master shares a Kubernetes node with its replica",
		`GET hello -> "world"`,
		"/status/default/cache.md",
		"Stop: make demo-down",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo up did not print %q", want)
		}
	}
	again, err := run("up", "--examples", "../../examples")
	if err == nil || !strings.Contains(again, "already runs") {
		t.Errorf("a second demo up: %v\n%s", err, again)
	}
	down, err := run("down")
	t.Logf("demo down:\n%s", down)
	if err != nil || !strings.Contains(down, "nothing left behind") {
		t.Errorf("demo down: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", dir, err)
	}
	if ps, _ := exec.Command("pgrep", "-f", dir).Output(); len(strings.TrimSpace(string(ps))) > 0 {
		t.Errorf("processes left: %s", ps)
	}
}
