package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/redis-gitops/redis-gitops/daemon"
)

func init() {
	commands["daemon"] = command{
		summary: "watch a Git repo and keep its clusters reconciled (webhooks, poll, cron schedules)",
		run:     runDaemon,
	}
}

// envPrefix: every flag --some-flag can also be set as REDIS_GITOPS_SOME_FLAG;
// a flag on the command line wins.
const envPrefix = "REDIS_GITOPS_"

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// runDaemon is `redis-gitops daemon --repo URL [flags]`.
func runDaemon(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg daemon.Config
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Repo, "repo", "", "Git repository to watch: https://host/org/repo.git, ssh://git@host/org/repo.git or git@host:org/repo.git (required)")
	fs.StringVar(&cfg.Branch, "branch", "main", "branch to watch")
	fs.StringVar(&cfg.SpecPath, "path", "clusters", "directory of cluster specs in the repo (walked recursively)")
	fs.StringVar(&cfg.Source, "source", "", "label value naming this repo+branch+path on every object applied; pruning touches only clusters with it (default: git-<hash of repo, branch, path>)")
	fs.StringVar(&cfg.StateDir, "state-dir", "/var/lib/redis-gitops", "where the persistent clone lives")
	fs.StringVar(&cfg.StatusBranch, "status-branch", "", "branch that receives the status reports (default: the watched branch)")
	fs.StringVar(&cfg.StatusPath, "status-path", "status", "directory of the status reports in the repo: <path>/<namespace>/<name>.yaml and .md")
	fs.StringVar(&cfg.AuthorName, "author-name", "redis-gitops", "author name of status commits")
	fs.StringVar(&cfg.AuthorEmail, "author-email", "redis-gitops@localhost", "author email of status commits")
	fs.DurationVar(&cfg.Interval, "interval", time.Minute, "poll period, jittered by ±10% (0: webhooks and schedules only)")
	fs.IntVar(&cfg.Concurrent, "concurrent", daemon.DefaultConcurrent, "clusters reconciled at once; each cluster has its own queue and never two passes at once (see the README's sizing table)")
	qps := fs.Float64("kube-api-qps", daemon.DefaultKubeQPS, "requests per second to the Kubernetes API that the reconciles may make, shared by every worker")
	fs.IntVar(&cfg.KubeBurst, "kube-api-burst", daemon.DefaultKubeBurst, "burst above --kube-api-qps")
	resync := fs.Duration("resync", daemon.DefaultResync, "every cluster is scanned at least this often, spread in time, besides pushes and its reconcile.schedule (0: never)")
	fs.StringVar(&cfg.Listen, "listen", ":8080", "address of the HTTP server: /hooks/{github,gitea,gitlab,generic}, /metrics, /healthz, /readyz")
	fs.StringVar(&cfg.WebhookSecretFile, "webhook-secret-file", "", "file holding the webhooks' shared secret (HMAC key, or GitLab token); without it every webhook gets 401")
	fs.Int64Var(&cfg.MaxWebhookBody, "max-webhook-body", daemon.DefaultMaxWebhookBody, "largest webhook body accepted, in bytes (larger: 413)")
	fs.StringVar(&cfg.GitAuth.SSHKeyFile, "git-ssh-key-file", "", "SSH private key for ssh:// and git@ repos")
	fs.StringVar(&cfg.GitAuth.SSHKeyPassphraseFile, "git-ssh-key-passphrase-file", "", "file holding the SSH key's passphrase")
	fs.StringVar(&cfg.GitAuth.KnownHostsFile, "git-known-hosts-file", "", "known_hosts file; SSH host keys are always verified")
	fs.StringVar(&cfg.GitAuth.SSHUser, "git-ssh-user", "", "SSH user (default: from the URL, else git)")
	fs.StringVar(&cfg.GitAuth.UsernameFile, "git-username-file", "", "file holding the HTTPS username (or $REDIS_GITOPS_GIT_USERNAME)")
	fs.StringVar(&cfg.GitAuth.PasswordFile, "git-password-file", "", "file holding the HTTPS password (or $REDIS_GITOPS_GIT_PASSWORD)")
	fs.StringVar(&cfg.GitAuth.TokenFile, "git-token-file", "", "file holding an HTTPS access token (or $REDIS_GITOPS_GIT_TOKEN)")
	fs.BoolVar(&cfg.GitAuth.InsecureHTTP, "git-insecure-http", false, "send Git credentials over plain http to a host that is not loopback (only on a network you trust)")
	fs.BoolVar(&cfg.LeaderElect, "leader-elect", true, "elect one acting daemon with a Lease; followers wait ready to take over")
	fs.StringVar(&cfg.LeaseNamespace, "lease-namespace", os.Getenv("POD_NAMESPACE"), "namespace of the Lease (default $POD_NAMESPACE)")
	fs.StringVar(&cfg.LeaseName, "lease-name", "redis-gitops", "name of the Lease")
	fs.StringVar(&cfg.Identity, "identity", "", "this daemon's name in the Lease (default hostname_pid)")
	fs.DurationVar(&cfg.LeaseDuration, "lease-duration", 15*time.Second, "how long a Lease holds without renewal")
	fs.DurationVar(&cfg.RenewDeadline, "renew-deadline", 10*time.Second, "how long the leader keeps retrying to renew before it gives up")
	fs.DurationVar(&cfg.RetryPeriod, "retry-period", 2*time.Second, "how often candidates try the Lease")
	fs.StringVar(&cfg.Forge, "forge", "", "github or gitea: plan pull requests (pull_request webhooks) with a comment and commit statuses, and set the commit status of each applied commit")
	fs.StringVar(&cfg.ForgeURL, "forge-url", "", "the forge's API base: the Gitea server URL; for GitHub empty (github.com) or https://HOST/api/v3/")
	fs.StringVar(&cfg.ForgeRepo, "forge-repo", "", "owner/name of the repository on the forge")
	fs.StringVar(&cfg.ForgeTokenFile, "forge-token-file", "", "file holding the forge API token (or $REDIS_GITOPS_FORGE_TOKEN)")
	fs.StringVar(&cfg.DriftPullRequests, "drift-pull-requests", "off", "with --forge, propose lasting drift back to Git as one pull request per cluster: off, opt-in (clusters with spec.reconcile.driftPullRequests) or all (every cluster of the repo)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 5*time.Minute, "how long SIGTERM waits for the step under way (a slot being moved) to finish")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config or in-cluster)")
	logFormat := fs.String("log-format", "json", "log format: json or text")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: redis-gitops daemon --repo URL [flags]\n\n"+
			"Watches --branch of --repo, applies the RedisCluster specs under --path and converges every\n"+
			"cluster; on a push (webhook), on a poll (--interval) and on each cluster's reconcile.schedule.\n"+
			"Status reports are committed to --status-branch. Every flag can also be set in the environment:\n"+
			"--some-flag as %sSOME_FLAG (the command line wins). Secrets come from files or the\n"+
			"environment, never from flags.\n\nflags:\n", envPrefix)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(stderr, "  --%s  [$%s]\n      %s%s\n", f.Name, envName(f.Name), f.Usage, def)
		})
	}
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("daemon takes no arguments, got %q", fs.Args())}
	}
	if err := applyEnv(fs, os.LookupEnv); err != nil {
		return &exitError{code: 2, err: err}
	}
	cfg.KubeQPS = float32(*qps)
	cfg.Resync = *resync
	if *resync == 0 {
		cfg.Resync = -1
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	slog.SetDefault(log)
	cfg.Log = log
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = *kubeconfig
	cfg.Kube, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("kubeconfig: %w", err)}
	}
	if err := daemon.Run(ctx, cfg); err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}

// applyEnv sets every flag not given on the command line from its
// environment variable.
func applyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := lookup(envName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("$%s: %w", envName(f.Name), e)
			}
		}
	})
	return err
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want json or text", format)
}
