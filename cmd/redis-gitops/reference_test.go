package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

var updateCLI = flag.Bool("update-cli", false, "rewrite docs/cli.md from the commands' own help")

// cliReference is the CLI reference the README points to.
const cliReference = "../../docs/cli.md"

// TestCLIReference: docs/cli.md is each command's own --help, so the
// documentation cannot drift from the flags. Refresh it with:
// go test ./cmd/redis-gitops -run TestCLIReference -update-cli
func TestCLIReference(t *testing.T) {
	var b strings.Builder
	b.WriteString("# redis-gitops CLI reference\n\n")
	b.WriteString("<!-- Generated from each command's --help by `go test ./cmd/redis-gitops -run TestCLIReference -update-cli`; do not edit. -->\n\n")
	_, _, top := runCmd(t, "help")
	b.WriteString("```\n" + strings.TrimSpace(top) + "\n```\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == "version" {
			continue
		}
		code, out, errOut := runCmd(t, n, "--help")
		help := strings.TrimSpace(out + errOut)
		if code != 0 && code != 2 || help == "" {
			t.Errorf("%s --help: exit %d, %q", n, code, help)
		}
		fmt.Fprintf(&b, "\n## %s\n\n```\n%s\n```\n", n, help)
	}
	got := b.String()
	if *updateCLI {
		if err := os.WriteFile(cliReference, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(cliReference)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("%s is stale: run go test ./cmd/redis-gitops -run TestCLIReference -update-cli", cliReference)
	}
}
