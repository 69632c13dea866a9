// Command sandbox runs a real Kubernetes control plane on this machine with
// process kubelets that run pods as local processes, for redis-gitops's
// end-to-end tests and demo.
//
//	sandbox up [--dir .sandbox] [--nodes 3] [--zones N] [--measure] [--image NAME=PATH ...]
//	sandbox down [--dir .sandbox]
//	sandbox status [--dir .sandbox] [--json]
//	sandbox node kill|start|partition|heal NAME [--dir .sandbox]
//	sandbox pod kill NAMESPACE/NAME [-c CONTAINER] [--dir .sandbox]
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/proc"
)

const usage = `usage:
  sandbox up [--dir .sandbox] [--nodes 3] [--zones N] [--measure] [--image NAME=PATH ...]
      (--image: run local program PATH for image repository NAME, any tag;
       default list in SANDBOX_IMAGES=NAME=PATH,NAME=PATH)
  sandbox down [--dir .sandbox]
  sandbox status [--dir .sandbox] [--json]
  sandbox node kill|start|partition|heal NAME [--dir .sandbox]
  sandbox pod kill NAMESPACE/NAME [-c CONTAINER] [--dir .sandbox]
`

func main() {
	// A container's init runs this same binary; it never returns here.
	proc.Init()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	var ec exitCode
	switch {
	case errors.As(err, &ec):
		os.Exit(int(ec))
	case err != nil:
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

// exitCode ends the program with a code and no further message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return exitCode(2)
	}
	switch args[0] {
	case "up":
		return cmdUp(ctx, args[1:])
	case "down":
		return cmdDown(ctx, args[1:])
	case "status":
		return cmdStatus(ctx, args[1:])
	case "node":
		return cmdNode(ctx, args[1:])
	case "pod":
		return cmdPod(ctx, args[1:])
	case "run":
		return cmdRun(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprintf(os.Stderr, "sandbox: unknown command %q\n%s", args[0], usage)
	return exitCode(2)
}
