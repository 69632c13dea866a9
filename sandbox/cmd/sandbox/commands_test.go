package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageTable: the kubectl next to the binary maps kubectl images,
// SANDBOX_IMAGES adds and overrides, --image flags win over both.
func TestImageTable(t *testing.T) {
	dir := t.TempDir()
	progs := map[string]string{}
	for _, n := range []string{"kubectl", "env-tool", "flag-tool", "my-kubectl"} {
		progs[n] = filepath.Join(dir, n)
		if err := os.WriteFile(progs[n], nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	table, err := imageTable("tool="+progs["env-tool"]+",kubectl="+progs["my-kubectl"], []string{"tool=" + progs["flag-tool"], "org/app=" + progs["env-tool"]}, progs["kubectl"])
	if err != nil {
		t.Fatal(err)
	}
	for image, want := range map[string]string{
		"bitnami/kubectl:1.37": progs["my-kubectl"],
		"x.io/tool:1":          progs["flag-tool"],
		"org/app:2":            progs["env-tool"],
		"redis:7":              "",
	} {
		img, err := table.Resolve(image)
		if err != nil || img.Program != want {
			t.Errorf("%s: program %q, %v; want %q", image, img.Program, err, want)
		}
	}
	// No kubectl next to the binary: no kubectl image.
	table, err = imageTable("", nil, filepath.Join(dir, "absent"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := table.Resolve("bitnami/kubectl"); err == nil {
		t.Error("kubectl mapped without a kubectl binary")
	}
	if _, err := imageTable("broken", nil, ""); err == nil || !strings.Contains(err.Error(), imagesEnv) {
		t.Errorf("bad SANDBOX_IMAGES: err %v", err)
	}
	if _, err := imageTable("", []string{"x:1=" + progs["env-tool"]}, ""); err == nil || !strings.Contains(err.Error(), "--image") {
		t.Errorf("bad --image: err %v", err)
	}
}
