// Package giteatest gives end-to-end tests of the daemon a real Git server:
// Gitea, built from its Go module into bin/gitea by `make build` (the module
// is sandbox/gitea and stays out of the product's import graph), listening
// on 127.0.0.1 with SQLite, one admin user and an access token.
//
// Start gives a test its own server; Shared gives every test of a binary the
// same one, which Main stops.
package giteatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// Server is a running Gitea with one admin user. Its methods fail the test
// on any error; they use t.Context(), so call them from tests, not from
// cleanups. They are safe for concurrent use.
type Server struct {
	// URL is the root URL, http://127.0.0.1:PORT, without a trailing slash.
	URL string
	// Username and Password are the admin's; Token is an access token of
	// the admin with all scopes, usable as a Basic-auth password for Git
	// over HTTP too.
	Username, Password, Token string
	// Dir holds app.ini, the SQLite database, the repositories and
	// gitea.log (Gitea's own output, warnings and up).
	Dir string

	cmd    *exec.Cmd
	exited chan struct{} // closed when gitea has exited and been reaped
	client *http.Client
}

const (
	readyTimeout = 90 * time.Second
	stopTimeout  = 10 * time.Second
	adminUser    = "tester"
)

// Start starts a Gitea server for one test and stops it, removing its
// directory, when the test ends. It fails the test (it does not skip it)
// when bin/gitea is missing.
func Start(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	s, err := start(dir)
	if err != nil {
		t.Fatalf("giteatest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("giteatest: %s", s.logTail())
		}
		if err := s.stop(); err != nil {
			t.Errorf("giteatest: %v", err)
		}
	})
	return s
}

// Run starts a Gitea server in dir outside a test (make demo), until Stop
// or until the calling process dies.
func Run(dir string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return start(dir)
}

// Stop stops a server that Run started.
func (s *Server) Stop() error { return s.stop() }

var shared struct {
	inMain bool
	once   sync.Once
	srv    *Server
	err    error
}

// Main calls run, which runs the tests, and then stops the server Shared
// started, if any. Call it from TestMain, alone or around another
// harness's Main:
//
//	os.Exit(giteatest.Main(m.Run))
//	os.Exit(giteatest.Main(func() int { return sandboxtest.Main(m) }))
func Main(run func() int) int {
	shared.inMain = true
	code := run()
	if s := shared.srv; s != nil {
		if code != 0 {
			fmt.Fprintln(os.Stderr, "giteatest:", s.logTail())
		}
		if err := s.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "giteatest:", err)
			code = 1
		}
		if err := os.RemoveAll(s.Dir); err != nil {
			fmt.Fprintln(os.Stderr, "giteatest:", err)
			code = 1
		}
	}
	return code
}

// Shared returns the test binary's Gitea server, starting it on first use.
// Tests sharing it must use distinct repository names. TestMain must call
// Main, which stops it.
func Shared(t testing.TB) *Server {
	t.Helper()
	if !shared.inMain {
		t.Fatal("giteatest: Shared needs TestMain to call giteatest.Main, which stops the shared server")
	}
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "giteatest-")
		if err != nil {
			shared.err = err
			return
		}
		if shared.srv, shared.err = start(dir); shared.err != nil {
			os.RemoveAll(dir)
		}
	})
	if shared.err != nil {
		t.Fatalf("giteatest: %v", shared.err)
	}
	return shared.srv
}

// start runs gitea in dir until it answers, then creates the admin user and
// its token. The free port is found by listening on :0 and closing, so
// another process may take it first: then gitea cannot bind and start
// tries again on another port.
func start(dir string) (*Server, error) {
	bin, root, err := findGitea()
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		s, err := startOnce(dir, bin, root)
		if err == nil || attempt == 3 || !errors.Is(err, errPortTaken) {
			return s, err
		}
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, err
		}
	}
}

var errPortTaken = errors.New("port taken")

func startOnce(dir, bin, root string) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		URL:      fmt.Sprintf("http://127.0.0.1:%d", port),
		Username: adminUser,
		Password: randomHex(16),
		Dir:      dir,
		exited:   make(chan struct{}),
		// No proxy, whatever the environment says: everything is on loopback.
		client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{Proxy: nil}},
	}
	config := filepath.Join(dir, "app.ini")
	if err := writeConfig(config, appConfig{
		WorkPath:      dir,
		StaticRoot:    root,
		Port:          port,
		RootURL:       s.URL + "/",
		SecretKey:     randomHex(32),
		InternalToken: randomHex(32),
	}); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "gitea.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close() // gitea holds its own descriptor

	s.cmd = exec.Command(bin, "--config", config, "--work-path", dir, "web")
	s.cmd.Dir = dir
	s.cmd.Env = giteaEnv(dir)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = sysProcAttr()
	began := time.Now()
	if err := startLocked(s.cmd, s.exited); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	if err := s.waitReady(); err != nil {
		s.stop()
		if strings.Contains(s.logTail(), "address already in use") {
			return nil, fmt.Errorf("gitea on port %d: %w", port, errPortTaken)
		}
		return nil, fmt.Errorf("%w\n%s", err, s.logTail())
	}
	web := time.Since(began)
	if err := s.createAdmin(bin, config); err != nil {
		s.stop()
		return nil, err
	}
	if testing.Testing() && testing.Verbose() {
		fmt.Fprintf(os.Stderr, "giteatest: gitea at %s ready in %s (web answering after %s)\n",
			s.URL, time.Since(began).Round(time.Millisecond), web.Round(time.Millisecond))
	}
	return s, nil
}

// startLocked starts cmd from a goroutine locked to its OS thread and keeps
// that thread until cmd exits: Pdeathsig fires when the thread that forked
// the child exits, not the process (prctl(2)), and Go may retire threads.
func startLocked(cmd *exec.Cmd, exited chan<- struct{}) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(exited)
	}()
	return <-started
}

// waitReady polls /api/healthz, which answers once the database is
// migrated and the routes are installed.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("gitea exited before answering: %v", s.cmd.ProcessState)
		default:
		}
		resp, err := s.client.Get(s.URL + "/api/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("healthz: %s", resp.Status)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("gitea not answering after %s: %v", readyTimeout, last)
}

var tokenLine = regexp.MustCompile(`Access token was successfully created\.\.\. ([0-9a-f]+)`)

// createAdmin creates the admin user and its token with gitea's own CLI,
// which writes to the database the server uses.
func (s *Server) createAdmin(bin, config string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config", config, "--work-path", s.Dir,
		"admin", "user", "create", "--admin",
		"--username", s.Username, "--password", s.Password, "--email", s.Username+"@example.com",
		"--must-change-password=false", "--access-token", "--access-token-scopes", "all")
	cmd.Dir = s.Dir
	cmd.Env = giteaEnv(s.Dir)
	cmd.SysProcAttr = sysProcAttr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("gitea admin user create: %w\n%s", err, out)
	}
	m := tokenLine.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("gitea admin user create: no access token in its output:\n%s", out)
	}
	s.Token = string(m[1])
	return nil
}

// stop asks gitea to shut down (it cancels the git processes it runs, each
// in a process group of its own), and kills it after stopTimeout.
func (s *Server) stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	killGroup(s.cmd.Process.Pid)
	<-s.exited
	return fmt.Errorf("gitea did not stop within %s of SIGTERM; killed", stopTimeout)
}

// logTail is the end of gitea's own output, for failure messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "gitea.log"))
	if err != nil {
		return "no gitea.log: " + err.Error()
	}
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return "gitea.log is empty"
	}
	return "gitea.log:\n" + string(b)
}

// findGitea finds bin/gitea and the Gitea source directory written into
// bin/gitea.root by `make build`: from $GITEA_BIN (the binary, or the
// directory holding it), $SANDBOX_BIN (the bin/ directory, as `make test`
// sets it), or by walking up from the test's directory to the repository
// root.
func findGitea() (bin, root string, err error) {
	switch {
	case os.Getenv("GITEA_BIN") != "":
		bin = os.Getenv("GITEA_BIN")
		if fi, err := os.Stat(bin); err == nil && fi.IsDir() {
			bin = filepath.Join(bin, "gitea")
		}
	case os.Getenv("SANDBOX_BIN") != "":
		bin = filepath.Join(os.Getenv("SANDBOX_BIN"), "gitea")
	default:
		wd, err := os.Getwd()
		if err != nil {
			return "", "", err
		}
		for d := wd; d != "/"; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "bin", "gitea")); err == nil {
				bin = filepath.Join(d, "bin", "gitea")
				break
			}
		}
		if bin == "" {
			return "", "", fmt.Errorf("bin/gitea not found above %s: run `make build` first", wd)
		}
	}
	if _, err := os.Stat(bin); err != nil {
		return "", "", fmt.Errorf("no gitea binary: %w; run `make build` first", err)
	}
	b, err := os.ReadFile(bin + ".root")
	if err != nil {
		return "", "", fmt.Errorf("no gitea source directory: %w; run `make build` first", err)
	}
	root = strings.TrimSpace(string(b))
	if _, err := os.Stat(filepath.Join(root, "options", "locale")); err != nil {
		return "", "", fmt.Errorf("gitea's templates and options are missing (%s.root names %s): %w; run `rm %s.root && make build`", bin, root, err, bin)
	}
	return bin, root, nil
}

// giteaEnv is the environment for gitea: ours without proxies (webhooks
// follow them otherwise) or Git variables, plus consent to run as root.
func giteaEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasSuffix(strings.ToLower(k), "_proxy"), strings.HasPrefix(k, "GIT_"), strings.HasPrefix(k, "GITEA_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true",
		"GITEA_WORK_DIR="+dir,
		"HOME="+filepath.Join(dir, "home"),
		"NO_PROXY=*", "no_proxy=*")
}

// FreePort is a TCP port free on 127.0.0.1 now (another process may take
// it before the caller binds it).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type appConfig struct {
	WorkPath, StaticRoot, RootURL string
	Port                          int
	SecretKey, InternalToken      string
}

// appTemplate is Gitea's configuration for tests: loopback only, no SSH,
// no mail, no indexers, no actions or packages, no periodic tasks (the
// update checker would call dl.gitea.com), in-memory queues, and webhooks
// allowed to reach loopback (the daemon under test listens there).
var appTemplate = template.Must(template.New("app.ini").Parse(`APP_NAME = giteatest
RUN_MODE = prod
WORK_PATH = {{.WorkPath}}

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = {{.Port}}
DOMAIN = 127.0.0.1
ROOT_URL = {{.RootURL}}
LOCAL_ROOT_URL = {{.RootURL}}
STATIC_ROOT_PATH = {{.StaticRoot}}
DISABLE_SSH = true
START_SSH_SERVER = false
; Never touch the user's ~/.ssh: two Giteas started at once (two test
; packages) raced on ~/.ssh/authorized_keys.tmp and one died in CI.
SSH_ROOT_PATH = {{.WorkPath}}/ssh
SSH_CREATE_AUTHORIZED_KEYS_FILE = false
SSH_CREATE_AUTHORIZED_PRINCIPALS_FILE = false
LFS_START_SERVER = false
OFFLINE_MODE = true
GRACEFUL_HAMMER_TIME = 3s

[database]
DB_TYPE = sqlite3
PATH = {{.WorkPath}}/data/gitea.db

[security]
INSTALL_LOCK = true
SECRET_KEY = {{.SecretKey}}
INTERNAL_TOKEN = {{.InternalToken}}

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true
ENABLE_NOTIFY_MAIL = false
DEFAULT_KEEP_EMAIL_PRIVATE = false

[repository]
DEFAULT_BRANCH = main
ROOT = {{.WorkPath}}/repositories

[repository.signing]
SIGNING_KEY = none

[webhook]
ALLOWED_HOST_LIST = loopback
DELIVER_TIMEOUT = 3
SKIP_TLS_VERIFY = false

[queue]
TYPE = channel

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[mailer]
ENABLED = false

[actions]
ENABLED = false

[packages]
ENABLED = false

[cron]
ENABLED = false

[cron.update_checker]
ENABLED = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[api]
ENABLE_SWAGGER = false

[log]
MODE = console
LEVEL = Warn
`))

func writeConfig(path string, c appConfig) error {
	var b bytes.Buffer
	if err := appTemplate.Execute(&b, c); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}
