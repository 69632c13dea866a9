package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestREADMECommands: every `bin/redis-gitops COMMAND --flag ...` line in
// the README's code blocks names a command that exists and flags that
// command has, so the README cannot teach a command line that fails to
// parse. (What the commands do is tested by each command's own tests, the
// end-to-end tests and the demo's.)
func TestREADMECommands(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^bin/redis-gitops ([a-z]+)(.*(?:\\\n.*)*)$`)
	flagRe := regexp.MustCompile(`(?:^|[\s\[])(--[a-z][a-z-]*)`)
	matches := line.FindAllStringSubmatch(string(data), -1)
	if len(matches) < 5 {
		t.Fatalf("found %d command lines in README.md, expected the CLI's examples", len(matches))
	}
	help := map[string]string{}
	for _, m := range matches {
		cmd, rest := m[1], m[2]
		if i := strings.Index(rest, "#"); i >= 0 && !strings.Contains(rest[:i], "\\") {
			rest = rest[:i] // a comment
		}
		if _, ok := commands[cmd]; !ok {
			t.Errorf("README: `redis-gitops %s`: no such command", cmd)
			continue
		}
		if _, ok := help[cmd]; !ok {
			_, out, errOut := runCmd(t, cmd, "--help")
			help[cmd] = out + errOut
		}
		for _, f := range flagRe.FindAllStringSubmatch(rest, -1) {
			if f[1] == "--help" {
				continue
			}
			name := regexp.QuoteMeta(strings.TrimPrefix(f[1], "--"))
			if !regexp.MustCompile(`(?m)^\s+--?` + name + `(\s|=|$)`).MatchString(help[cmd]) {
				t.Errorf("README: `redis-gitops %s %s`: the command has no such flag", cmd, f[1])
			}
		}
	}
}

// TestREADMEMakeTargets: every `make TARGET` the README names is a target
// of the Makefile (make -n, which runs nothing but sub-makes, themselves
// dry runs, resolves it), so the README cannot send anyone to "No rule to
// make target".
func TestREADMEMakeTargets(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bmake ([a-z][a-z0-9-]*)`).FindAllStringSubmatch(string(data), -1) {
		target := m[1]
		if seen[target] {
			continue
		}
		seen[target] = true
		out, err := exec.Command("make", "-n", "-C", "../..", target).CombinedOutput()
		if err != nil {
			t.Errorf("README: `make %s`: %v\n%s", target, err, out)
		}
	}
	if !seen["demo"] || !seen["test"] {
		t.Errorf("README names make targets %v; it must name demo and test", seen)
	}
}
