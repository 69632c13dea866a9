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
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/redis-gitops/redis-gitops/daemon"
	"github.com/redis-gitops/redis-gitops/daemon/forge"
	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/reconcile/plan"
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
	comment := flags.Bool("comment", false, "post the plan on the pull request (--pr) as one comment per cluster, edited in place on later runs, and set a commit status per cluster on --head")
	pr := flags.Int("pr", 0, "pull request number, with --comment")
	forgeKind := flags.String("forge", "", "github or gitea, with --comment")
	forgeURL := flags.String("forge-url", "", "the forge's API base (Gitea server URL; GitHub: empty or https://HOST/api/v3/)")
	forgeRepo := flags.String("forge-repo", "", "owner/name on the forge, with --comment")
	forgeToken := flags.String("forge-token-file", "", "file holding the forge API token (or $REDIS_GITOPS_FORGE_TOKEN)")
	if err := flags.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	gitMode := *base != "" || *head != ""
	if *comment && (!gitMode || *pr <= 0 || *forgeKind == "" || *forgeRepo == "") {
		fmt.Fprintln(stderr, "plan --comment needs --base, --head, --pr, --forge and --forge-repo")
		return &exitError{code: 2}
	}
	if (gitMode && (*base == "" || *head == "" || flags.NArg() > 0)) || (!gitMode && flags.NArg() == 0) || (*output != "markdown" && *output != "json") {
		fmt.Fprintln(stderr, "usage: redis-gitops plan --base REF --head REF [--path clusters] [--repo DIR] [--output markdown|json]\n       redis-gitops plan [--output markdown|json] FILE...")
		return &exitError{code: 2}
	}

	var baseClusters, headClusters []*spec.RedisCluster
	var headErrs spec.ErrorList
	headSHA := ""
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
		if h, err := repo.ResolveRevision(plumbing.Revision(*head)); err == nil {
			headSHA = h.String()
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
	postFailed := false
	if *comment {
		if err := postPlan(ctx, res, *forgeKind, *forgeURL, *forgeRepo, *forgeToken, *pr, headSHA); err != nil {
			// The plan still goes to stdout below; the exit code says it
			// did not reach the pull request.
			fmt.Fprintln(stderr, "plan --comment:", err)
			postFailed = true
		}
	}
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
	case len(res.SpecErrors) > 0 || res.Failed() || postFailed:
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

// postPlan is what the daemon does on a pull-request event, from CI: one
// comment per cluster (and one for invalid specs), a status per cluster.
func postPlan(ctx context.Context, res plan.Result, kind, apiURL, repo, tokenFile string, pr int, sha string) error {
	token, err := forge.TokenFromFileOrEnv(tokenFile, "REDIS_GITOPS_FORGE_TOKEN")
	if err != nil {
		return err
	}
	owner, name, _ := strings.Cut(repo, "/")
	var p forge.Provider
	switch kind {
	case "github":
		p, err = forge.NewGitHub(apiURL, owner, name, token, nil)
	case "gitea":
		p, err = forge.NewGitea(apiURL, owner, name, token, nil)
	default:
		err = fmt.Errorf("--forge: github or gitea, not %q", kind)
	}
	if err != nil {
		return err
	}
	p = forge.WithRetry(p, 5, 500*time.Millisecond)
	var errs []error
	if len(res.SpecErrors) > 0 {
		marker := daemon.SpecsMarker
		if _, err := forge.Upsert(ctx, p, pr, marker, marker+"\n"+plan.SpecErrorsMarkdown(res.SpecErrors)); err != nil {
			errs = append(errs, err)
		}
		if sha != "" {
			errs = append(errs, p.SetStatus(ctx, sha, forge.Status{Context: daemon.SpecsContext, State: forge.Failure,
				Description: fmt.Sprintf("%d invalid spec error(s): %s", len(res.SpecErrors), res.SpecErrors[0])}))
		}
	}
	for _, c := range res.Clusters {
		marker := daemon.PlanMarker(c.Cluster)
		if _, err := forge.Upsert(ctx, p, pr, marker, marker+"\n"+c.Markdown()); err != nil {
			errs = append(errs, err)
		}
		if sha != "" {
			st := forge.Status{Context: daemon.PlanContext + c.Cluster, State: forge.Success, Description: c.Summary()}
			if c.Failed() {
				st.State = forge.Failure
			}
			errs = append(errs, p.SetStatus(ctx, sha, st))
		}
	}
	return errors.Join(errs...)
}
