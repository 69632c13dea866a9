package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/spec"
)

func init() {
	commands["render"] = command{
		summary: "print the Kubernetes objects of the clusters in PATH... as YAML",
		run:     runRender,
	}
}

// runRender is `redis-gitops render PATH...`: every cluster declared in the
// files (or directories, walked as the daemon does) rendered as one
// multi-document YAML stream, like `kustomize build`. Nothing reaches
// stdout unless every spec is valid. Exit 1: invalid specs; 2: a path
// cannot be read, or bad usage.
func runRender(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: redis-gitops render PATH...\n\n"+
			"Prints the Kubernetes objects of every RedisCluster in the files or\n"+
			"directories (*.yaml, *.yml) as YAML documents, in apply order.\n"+
			"For a cluster with spec.tls, a comment first lists the DNS names its\n"+
			"certificate must carry.")
		return &exitError{code: 2}
	}
	clusters, errs := spec.Load(args...)
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		if errors.As(errs, new(*fs.PathError)) {
			return &exitError{code: 2}
		}
		return &exitError{code: 1}
	}
	if len(clusters) == 0 {
		return &exitError{code: 1, err: fmt.Errorf("render: no RedisCluster in %v", args)}
	}
	out, err := renderYAML(clusters)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	_, err = stdout.Write(out)
	return err
}

// renderYAML renders each cluster, in order, into one YAML stream.
func renderYAML(clusters []*spec.RedisCluster) ([]byte, error) {
	var out []byte
	for i, c := range clusters {
		objs, err := render.Render(c)
		if err != nil {
			return nil, err
		}
		y, err := objs.YAML()
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", c.Key(), err)
		}
		if i > 0 {
			out = append(out, "---\n"...)
		}
		if c.Spec.TLS != nil {
			// What the certificate must carry, before the objects that
			// mount it; YAML tools skip comments.
			out = append(out, render.CertificateNamesFor(c).Comment(c)...)
		}
		out = append(out, y...)
	}
	return out, nil
}
