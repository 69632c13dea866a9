// Package modsync checks that the repository's three Go modules (the
// product, sandbox/ and sandbox/gitea/) build every module they share at
// the same version.
//
// Why it matters: the Go build cache keys a compiled package by its
// sources and by everything it imports. If the product compiles client-go
// over golang.org/x/net v0.57.0 and the sandbox over v0.59.0, a cold build
// compiles client-go, apimachinery and everything above them twice. With
// one version of each, the product's build leaves the sandbox, Kubernetes
// and Gitea builds most of their shared packages done; `make demo` on a
// fresh machine is minutes shorter (see the Makefile's build targets).
package modsync

import (
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// builds are what `make build` builds, per module directory (from the
// repository root) with its build tags.
var builds = []struct {
	dir, tags string
	pkgs      []string
}{
	{dir: ".", pkgs: []string{"./cmd/redis-gitops", "./hack/demo"}},
	{dir: "sandbox", pkgs: []string{"./cmd/sandbox",
		"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager",
		"k8s.io/kubernetes/cmd/kube-scheduler", "k8s.io/kubernetes/cmd/kubectl"}},
	{dir: "sandbox/gitea", tags: "sqlite sqlite_unlock_notify", pkgs: []string{"code.gitea.io/gitea"}},
}

// TestSharedModulesAgree fails when a module compiled into two of the
// builds is selected at two versions, and says which module to move where.
func TestSharedModulesAgree(t *testing.T) {
	// versions[module path][version] = the module directories that build it.
	versions := map[string]map[string][]string{}
	for _, b := range builds {
		deps, err := buildModules(b.dir, b.tags, b.pkgs)
		if err != nil {
			t.Fatal(err)
		}
		for path, v := range deps {
			if versions[path] == nil {
				versions[path] = map[string][]string{}
			}
			versions[path][v] = append(versions[path][v], b.dir)
		}
	}
	var paths []string
	for p := range versions {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if len(versions[p]) < 2 {
			continue
		}
		var at []string
		for v, dirs := range versions[p] {
			at = append(at, fmt.Sprintf("%s in %s", v, strings.Join(dirs, ", ")))
		}
		sort.Strings(at)
		t.Errorf("%s: %s; `go get %s@<the highest>` in the others, so a cold build compiles it once", p, strings.Join(at, "; "), p)
	}
}

// buildModules is every module that provides a package of pkgs' build in
// the module at dir, with its selected version (after replace directives).
func buildModules(dir, tags string, pkgs []string) (map[string]string, error) {
	args := []string{"list", "-deps", "-f", "{{with .Module}}{{.Path}} {{.Version}}{{with .Replace}} {{.Version}}{{end}}{{end}}"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, pkgs...)...)
	cmd.Dir = "../../" + dir
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("go list in %s: %v\n%s", dir, err, ee.Stderr)
		}
		return nil, fmt.Errorf("go list in %s: %w", dir, err)
	}
	mods := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		switch len(f) {
		case 2: // a required module
			mods[f[0]] = f[1]
		case 3: // replaced: the replacement's version is what is built
			mods[f[0]] = f[2]
		}
		// One field: the main module itself, which no other build shares.
	}
	return mods, nil
}
