package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"

	"github.com/redis-gitops/redis-gitops/spec"
)

func init() {
	commands["validate"] = command{
		summary: "check RedisCluster specs in files and directories",
		run:     runValidate,
	}
}

const validateUsage = `usage: redis-gitops validate PATH...

Checks the RedisCluster specs in each PATH: a file, or a directory searched
recursively for *.yaml and *.yml files. Prints each valid cluster on stdout
and every problem on stderr as FILE:LINE:COL: FIELD: MESSAGE. What is valid
but unwise (more than 500 nodes in one cluster, or a node timeout short
enough that each node would send over 1 MB/s of cluster-bus messages) is
printed on stderr as "warning: FILE:LINE:COL: FIELD: MESSAGE", with the
estimated traffic and this project's measurements, and does not fail
validation.

Exit status: 0 when every spec is valid, 1 when any is not, 2 when a path
cannot be read.
`

// runValidate is the validate subcommand; the checks are spec.Load's.
func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("validate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { fmt.Fprint(stderr, validateUsage) }
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2}
	}
	if flags.NArg() == 0 {
		flags.Usage()
		return &exitError{code: 2, err: errors.New("validate: no PATH given")}
	}

	clusters, errs := spec.Load(flags.Args()...)
	for _, c := range clusters {
		fmt.Fprintf(stdout, "ok  %s  %s:%d\n", c.Key(), c.Source.File, c.Source.Line)
	}
	// Warnings do not fail validation: the spec is valid, only unwise.
	for _, c := range clusters {
		for _, w := range c.Warnings() {
			fmt.Fprintln(stderr, "warning: "+w.Error())
		}
	}
	for _, e := range errs {
		fmt.Fprintln(stderr, e)
	}

	var unreadable *fs.PathError
	switch {
	case errors.As(errs, &unreadable):
		return &exitError{code: 2, err: fmt.Errorf("validate: cannot read %s", unreadable.Path)}
	case len(errs) > 0:
		return &exitError{code: 1, err: fmt.Errorf("validate: %s", plural(len(errs), "problem"))}
	case len(clusters) == 0:
		fmt.Fprintln(stderr, "redis-gitops: validate: no RedisCluster found")
	}
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
