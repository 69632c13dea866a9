package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/redis-gitops/redis-gitops/daemon/gitsource"
	"github.com/redis-gitops/redis-gitops/reconcile"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
)

// Config is everything `redis-gitops daemon` is configured with. Defaults
// are applied by SetDefaults, in one place.
type Config struct {
	Repo, Branch, SpecPath string
	// Source names this repo, branch and path in a label on every object
	// applied (default: derived from them), so that a daemon prunes only
	// its own clusters when several repos share a Kubernetes cluster.
	Source                  string
	StateDir                string
	StatusBranch            string
	StatusPath              string
	AuthorName, AuthorEmail string
	Interval                time.Duration
	// Concurrent is how many clusters are reconciled at once (default
	// DefaultConcurrent); Resync is how often every cluster is scanned at
	// the least (default DefaultResync; negative: never).
	Concurrent int
	Resync     time.Duration
	// KubeQPS and KubeBurst bound the reconciles' requests to the API
	// server, shared by every worker (defaults DefaultKubeQPS and
	// DefaultKubeBurst; client-go's own, 5 and 10, would make workers wait
	// on each other).
	KubeQPS   float32
	KubeBurst int
	Listen    string
	// WebhookSecretFile holds the webhooks' shared secret; without it
	// every webhook is refused (the poll still runs).
	WebhookSecretFile string
	MaxWebhookBody    int64
	GitAuth           gitsource.AuthConfig

	LeaderElect                               bool
	LeaseNamespace, LeaseName, Identity       string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// ShutdownTimeout bounds how long SIGTERM waits for the step under way.
	ShutdownTimeout time.Duration

	// Forge, when set ("github" or "gitea"), plans pull requests (their
	// webhook events) and sets the commit status of every applied commit.
	Forge string
	// ForgeURL is the forge's API base: the Gitea server's URL; for GitHub,
	// empty for github.com or https://HOST/api/v3/ for Enterprise.
	ForgeURL string
	// ForgeRepo is owner/name on the forge.
	ForgeRepo string
	// ForgeTokenFile holds the forge's API token (or $REDIS_GITOPS_FORGE_TOKEN).
	ForgeTokenFile string
	// DriftPullRequests, with Forge, proposes lasting drift back to Git
	// as a pull request per cluster: DriftPRsOff (default), DriftPRsOptIn
	// (clusters whose spec sets reconcile.driftPullRequests) or
	// DriftPRsAll. The branches are pushed with the Git credentials.
	DriftPullRequests string

	Kube *rest.Config
	Log  *slog.Logger
}

// SetDefaults fills what is left empty.
func (c *Config) SetDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Branch, "main")
	def(&c.SpecPath, "clusters")
	def(&c.StateDir, "/var/lib/redis-gitops")
	def(&c.StatusPath, "status")
	def(&c.AuthorName, "redis-gitops")
	def(&c.AuthorEmail, "redis-gitops@localhost")
	def(&c.Listen, ":8080")
	def(&c.LeaseName, "redis-gitops")
	def(&c.DriftPullRequests, DriftPRsOff)
	if c.Source == "" {
		c.Source = DefaultSource(c.Repo, c.Branch, c.SpecPath)
	}
	if c.Identity == "" {
		host, _ := os.Hostname()
		c.Identity = fmt.Sprintf("%s_%d", host, os.Getpid())
	}
	if c.Concurrent == 0 {
		c.Concurrent = DefaultConcurrent
	}
	if c.Resync == 0 {
		c.Resync = DefaultResync
	}
	if c.KubeQPS == 0 {
		c.KubeQPS = DefaultKubeQPS
	}
	if c.KubeBurst == 0 {
		c.KubeBurst = DefaultKubeBurst
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 5 * time.Minute
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// Validate says what is missing or contradictory, naming the flag.
func (c *Config) Validate() error {
	var errs []string
	if c.Repo == "" {
		errs = append(errs, "--repo: the Git repository to watch is required")
	}
	if c.LeaderElect && c.LeaseNamespace == "" {
		errs = append(errs, "--lease-namespace: required with leader election (the namespace the daemon runs in)")
	}
	if errs2 := validation.IsValidLabelValue(c.Source); len(errs2) > 0 {
		errs = append(errs, "--source: not a label value: "+strings.Join(errs2, ", "))
	}
	if c.Interval < 0 {
		errs = append(errs, "--interval: must not be negative")
	}
	if c.Concurrent < 1 {
		errs = append(errs, "--concurrent: at least 1")
	}
	if c.KubeQPS < 0 || c.KubeBurst < 0 {
		errs = append(errs, "--kube-api-qps, --kube-api-burst: must not be negative")
	}
	if strings.HasPrefix(c.StatusPath, "/") || strings.Contains(c.StatusPath, "..") {
		errs = append(errs, "--status-path: a relative path inside the repo")
	}
	if c.Kube == nil {
		errs = append(errs, "no Kubernetes configuration")
	}
	switch c.Forge {
	case "":
	case "github", "gitea":
		if owner, name, ok := strings.Cut(c.ForgeRepo, "/"); !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			errs = append(errs, "--forge-repo: owner/name of the repository on the forge")
		}
		if c.Forge == "gitea" && c.ForgeURL == "" {
			errs = append(errs, "--forge-url: the Gitea server's URL")
		}
	default:
		errs = append(errs, fmt.Sprintf("--forge: github or gitea, not %q", c.Forge))
	}
	switch c.DriftPullRequests {
	case DriftPRsOff:
	case DriftPRsOptIn, DriftPRsAll:
		if c.Forge == "" {
			errs = append(errs, "--drift-pull-requests: needs --forge, where the pull requests are opened")
		}
	default:
		errs = append(errs, fmt.Sprintf("--drift-pull-requests: off, opt-in or all, not %q", c.DriftPullRequests))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Run is the daemon: the HTTP server, leader election and, while leading,
// the loop. ctx ending (SIGTERM) lets the step under way finish and its
// report be pushed, then releases the Lease. Losing the Lease stops at once
// and returns an error, so the process exits.
func Run(ctx context.Context, cfg Config) error {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Log
	var secret []byte
	if cfg.WebhookSecretFile != "" {
		b, err := os.ReadFile(cfg.WebhookSecretFile)
		if err != nil {
			return fmt.Errorf("--webhook-secret-file: %w", err)
		}
		secret = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(secret) == 0 {
			return fmt.Errorf("--webhook-secret-file %s is empty", cfg.WebhookSecretFile)
		}
	}
	auth, err := cfg.GitAuth.Method(cfg.Repo)
	if err != nil {
		return err
	}
	metrics := NewMetrics()

	// The reconcile's clients count their writes; leader election's own
	// renewals go through a client of their own.
	counted := rest.CopyConfig(cfg.Kube)
	counted.Wrap(metrics.CountKubernetesWrites)
	counted.QPS, counted.Burst = cfg.KubeQPS, cfg.KubeBurst
	client, err := kubernetes.NewForConfig(counted)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(counted)
	if err != nil {
		return err
	}
	leClient, err := kubernetes.NewForConfig(cfg.Kube)
	if err != nil {
		return err
	}

	src := &gitsource.Source{URL: cfg.Repo, Branch: cfg.Branch, Dir: filepath.Join(cfg.StateDir, "repo"), Auth: auth, SpecPath: cfg.SpecPath, Log: log}
	// Events are the notification of a change, not a change: they go
	// through the uncounted client (a drift: report pass records one when
	// its report changes, and writes nothing else).
	events := &KubeEvents{Client: leClient, Log: log}
	d := &Daemon{
		Git: src, SpecPath: cfg.SpecPath, StatusBranch: cfg.StatusBranch, StatusPath: cfg.StatusPath,
		AuthorName: cfg.AuthorName, AuthorEmail: cfg.AuthorEmail, Interval: cfg.Interval, Source: cfg.Source,
		Concurrent: cfg.Concurrent, Resync: cfg.Resync,
		Applier: &kube.Applier{Client: client, Dynamic: dyn, Log: log},
		Redis: &reconcile.Redis{Client: client, Log: log, Wrap: metrics.CountRedisWrites, Progress: metrics.MigrationProgress,
			Paused: suspendedInGit(src, cfg.Branch, log)},
		Events: events, Metrics: metrics, Log: log,
	}
	var prs *PullRequests
	if cfg.Forge != "" {
		provider, err := newForge(cfg)
		if err != nil {
			return err
		}
		d.Statuses, d.StatusURL = provider, statusURL(cfg)
		prs = &PullRequests{Git: src, Forge: provider, BaseBranch: cfg.Branch, Log: log,
			Planner: reconcile.Planner{Applier: d.Applier, Redis: d.Redis, Source: cfg.Source}}
		if cfg.DriftPullRequests != DriftPRsOff {
			d.DriftPRs = &DriftPullRequests{Git: src, Forge: provider, Base: cfg.Branch, All: cfg.DriftPullRequests == DriftPRsAll,
				Author: object.Signature{Name: cfg.AuthorName, Email: cfg.AuthorEmail}, Log: log, Planned: prs.Enqueue}
		}
	}
	var leading atomic.Bool
	hooks := &Webhooks{Secret: secret, MaxBody: cfg.MaxWebhookBody, OnEvent: func(ev Event) {
		switch {
		case ev.Kind == "push" && (ev.Ref == "" || ev.Ref == "refs/heads/"+cfg.Branch):
			log.Info("webhook: push", "provider", ev.Provider, "ref", ev.Ref, "after", short(ev.After))
			d.Kick()
		case ev.Kind == "pull_request" && prs != nil && (ev.Base == "" || ev.Base == cfg.Branch):
			log.Info("webhook: pull request", "provider", ev.Provider, "pr", ev.PullRequest, "action", ev.Action, "head", short(ev.After))
			prs.Enqueue(ev)
		case ev.Kind == "pull_request":
			log.Info("webhook: pull request not planned", "pr", ev.PullRequest, "base", ev.Base, "forgeConfigured", prs != nil)
		}
	}}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	srv := &http.Server{Handler: (&Server{Webhooks: hooks, Metrics: metrics, Daemon: d, Leading: &leading}).Handler(),
		ReadHeaderTimeout: 10 * time.Second}
	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	log.Info("redis-gitops daemon", "repo", redactURL(cfg.Repo), "branch", cfg.Branch, "path", cfg.SpecPath,
		"listen", ln.Addr().String(), "concurrent", cfg.Concurrent, "resync", cfg.Resync.String(), "leaderElect", cfg.LeaderElect, "identity", cfg.Identity, "source", cfg.Source)

	// Events go out until the daemon is done, not until the signal.
	evCtx, cancelEvents := context.WithCancel(context.WithoutCancel(ctx))
	if err := events.Start(evCtx); err != nil {
		log.Warn("events disabled", "err", err)
	}

	// stop is SIGTERM for the loop; actCtx ends only when the loop has
	// finished (or the shutdown timeout passes), and its end releases the
	// Lease.
	stop := make(chan struct{})
	actCtx, cancelAct := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-ctx.Done():
		case <-actCtx.Done():
			return
		}
		log.Info("shutting down: finishing the step under way")
		close(stop)
		if !leading.Load() {
			cancelAct()
		}
		select {
		case <-actCtx.Done():
		case <-time.After(cfg.ShutdownTimeout):
			log.Warn("shutdown timeout: stopping now", "timeout", cfg.ShutdownTimeout)
			cancelAct()
		}
	}()
	lead := func(ctx context.Context) {
		leading.Store(true)
		metrics.Leader.Set(1)
		prDone := make(chan struct{})
		prCtx, cancelPRs := context.WithCancel(ctx)
		go func() {
			defer close(prDone)
			if prs != nil {
				prs.Run(prCtx)
			}
		}()
		if err := d.Run(ctx, stop); err != nil && ctx.Err() == nil {
			log.Error("daemon loop", "err", err)
		}
		cancelPRs()
		<-prDone
		leading.Store(false)
		metrics.Leader.Set(0)
		cancelAct()
	}
	var runErr error
	if cfg.LeaderElect {
		runErr = (&Leader{Client: leClient, Namespace: cfg.LeaseNamespace, Name: cfg.LeaseName, Identity: cfg.Identity,
			LeaseDuration: cfg.LeaseDuration, RenewDeadline: cfg.RenewDeadline, RetryPeriod: cfg.RetryPeriod, Log: log}).Run(actCtx, lead)
	} else {
		lead(actCtx)
	}
	cancelAct()
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	<-srvDone
	events.Stop()
	cancelEvents()
	log.Info("stopped")
	return runErr
}

// The reconciles' API request budget by default, as Flux's controllers
// (--kube-api-qps 50): a pass makes a few dozen requests, and
// --concurrent passes share it.
const (
	DefaultKubeQPS   = 50
	DefaultKubeBurst = 100
)

// DefaultSource is a label value that stands for one repo, branch and
// spec path: "git-" and 16 hex digits of their SHA-256 (credentials
// dropped from the URL first).
func DefaultSource(repo, branch, path string) string {
	sum := sha256.Sum256([]byte(redactURL(repo) + "\x00" + branch + "\x00" + path))
	return "git-" + hex.EncodeToString(sum[:8])
}

// redactURL drops credentials a URL may carry, for logs.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 && strings.Contains(rest[:at], ":") {
		return scheme + "://***@" + rest[at+1:]
	}
	return u
}
