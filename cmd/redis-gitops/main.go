// Command redis-gitops reconciles Redis Clusters declared in Git with
// Kubernetes. This is the skeleton: only `version` exists so far; `daemon`,
// `reconcile`, `plan`, `validate`, `render` and `status` come with their issues.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "redis-gitops:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	if len(args) == 1 && args[0] == "version" {
		fmt.Println("redis-gitops", version)
		return nil
	}
	return fmt.Errorf("usage: redis-gitops version (other subcommands are not built yet)")
}
