package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/spec"
)

func init() {
	commands["plan"] = command{
		summary: "what a change of cluster specs will do: plan --base REF --head REF [--path clusters], or plan FILE...",
		run:     runPlan,
	}
}

// runPlan is `redis-gitops plan`. Exit 0: no change; 1: changes; 2: an
// error (an invalid spec included), as `flux diff` does, so CI can use it
// as is.
func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("plan", flag.ContinueOnError)
	flags.SetOutput(stderr)
	base := flags.String("base", "", "base revision (branch, tag or commit) of the Git checkout")
	head := flags.String("head", "", "head revision; with --base")
	specPath := flags.String("path", spec.DefaultPath, "directory of cluster specs in the repo (with --base/--head)")
	repoDir := flags.String("repo", ".", "the Git checkout (with --base/--head)")
	output := flags.String("output", "markdown", "markdown | json")
	kubeconfig := flags.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config or in-cluster)")
	offline := flags.Bool("offline", false, "do not reach Kubernetes: plan every cluster against an empty one")
	if err := flags.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	gitMode := *base != "" || *head != ""
	if (gitMode && (*base == "" || *head == "" || flags.NArg() > 0)) || (!gitMode && flags.NArg() == 0) || (*output != "markdown" && *output != "json") {
		fmt.Fprintln(stderr, "usage: redis-gitops plan --base REF --head REF [--path clusters] [--repo DIR] [--output markdown|json]\n       redis-gitops plan [--output markdown|json] FILE...")
		return &exitError{code: 2}
	}

	var baseClusters, headClusters []*spec.RedisCluster
	var headErrs spec.ErrorList
	if gitMode {
		repo, err := git.PlainOpenWithOptions(*repoDir, &git.PlainOpenOptions{DetectDotGit: true})
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("open Git checkout %s: %w", *repoDir, err)}
		}
		baseFiles, err := specFiles(repo, *base, *specPath)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		headFiles, err := specFiles(repo, *head, *specPath)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		baseClusters, _ = spec.LoadFiles(baseFiles) // the base's own errors are not this change's
		headClusters, headErrs = spec.LoadFiles(headFiles)
		if baseClusters == nil {
			baseClusters = []*spec.RedisCluster{} // not nil: "compare with base"
		}
	} else {
		headClusters, headErrs = spec.Load(flags.Args()...)
		if errors.As(headErrs, new(*fs.PathError)) {
			for _, e := range headErrs {
				fmt.Fprintln(stderr, e)
			}
			return &exitError{code: 2}
		}
	}

	p := reconcile.Planner{}
	if *offline {
		p.Unreachable = "--offline"
	} else if applier, err := newApplier(*kubeconfig); err != nil {
		p.Unreachable = "Kubernetes is not reachable: " + err.Error()
	} else {
		p.Applier = applier
		p.Redis = &reconcile.Redis{Client: applier.Client, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	}
	res := p.Plan(ctx, baseClusters, headClusters, headErrs)
	switch *output {
	case "json":
		b, err := res.JSON()
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		_, _ = stdout.Write(b)
	default:
		fmt.Fprint(stdout, res.Markdown())
	}
	switch {
	case len(res.SpecErrors) > 0 || res.Failed():
		return &exitError{code: 2}
	case res.HasChanges():
		return &exitError{code: 1}
	}
	return nil
}

// specFiles reads the spec files under dir at revision rev.
func specFiles(repo *git.Repository, rev, dir string) (map[string][]byte, error) {
	hash, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", rev, err)
	}
	commit, err := repo.CommitObject(*hash)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", rev, err)
	}
	root, err := commit.Tree()
	if err != nil {
		return nil, fmt.Errorf("tree of %s: %w", rev, err)
	}
	dir = strings.Trim(path.Clean(dir), "/")
	tree := root
	if dir != "" && dir != "." {
		tree, err = root.Tree(dir)
		if errors.Is(err, object.ErrDirectoryNotFound) {
			return map[string][]byte{}, nil // no specs at this revision
		}
		if err != nil {
			return nil, fmt.Errorf("%s at %s: %w", dir, rev, err)
		}
	}
	files := map[string][]byte{}
	err = tree.Files().ForEach(func(f *object.File) error {
		name := path.Join(dir, f.Name)
		if !spec.IsSpecFile(name) || hiddenDir(f.Name) {
			return nil
		}
		content, err := f.Contents()
		if err != nil {
			return fmt.Errorf("read %s at %s: %w", name, rev, err)
		}
		files[name] = []byte(content)
		return nil
	})
	return files, err
}

// hiddenDir: a file under a directory whose name starts with "." is not a
// spec, as spec.Load skips such directories.
func hiddenDir(name string) bool {
	parts := strings.Split(name, "/")
	for _, p := range parts[:len(parts)-1] {
		if strings.HasPrefix(p, ".") {
			return true
		}
	}
	return false
}
