package gitsource

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// Environment variables read for HTTPS credentials whose file is not set.
const (
	EnvUsername = "REDIS_GITOPS_GIT_USERNAME"
	EnvPassword = "REDIS_GITOPS_GIT_PASSWORD"
	EnvToken    = "REDIS_GITOPS_GIT_TOKEN"
)

// AuthConfig says where the Git credentials are. Secrets come from files
// (a mounted Kubernetes Secret) or, for HTTPS, from the environment; never
// from flags, which any process can read. Trailing newlines in files are
// ignored.
type AuthConfig struct {
	// SSHKeyFile holds the private key for ssh:// and git@host:path URLs.
	SSHKeyFile string
	// SSHKeyPassphraseFile holds the key's passphrase, if it has one.
	SSHKeyPassphraseFile string
	// KnownHostsFile lists the server's host keys. It is required for SSH:
	// host keys are always verified.
	KnownHostsFile string
	// SSHUser is the SSH login; the URL's user, else "git", when empty.
	SSHUser string

	// UsernameFile holds the HTTPS username; else $REDIS_GITOPS_GIT_USERNAME,
	// else "git" with a token.
	UsernameFile string
	// PasswordFile holds the HTTPS password; else $REDIS_GITOPS_GIT_PASSWORD.
	PasswordFile string
	// TokenFile holds an HTTPS access token, sent as the basic-auth
	// password; else $REDIS_GITOPS_GIT_TOKEN.
	TokenFile string
	// InsecureHTTP allows credentials over plain http to a host that is
	// not loopback: only for a Git server on a network you trust (inside
	// the cluster, a test bed). Off by default.
	InsecureHTTP bool
}

// Method returns the go-git auth method for rawURL, reading the files now
// (call it again after a credential rotates): public keys with known-hosts
// verification for SSH, basic auth for HTTP(S), nil when no credentials are
// configured or the URL is local.
func (a AuthConfig) Method(rawURL string) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return nil, fmt.Errorf("git URL %s: %w", redact(rawURL), err)
	}
	switch ep.Protocol {
	case "ssh":
		return a.sshMethod(ep)
	case "https", "http":
		return a.httpMethod(ep)
	case "file", "git":
		return nil, nil
	default:
		return nil, fmt.Errorf("git URL %s: unsupported protocol %q", redact(rawURL), ep.Protocol)
	}
}

func (a AuthConfig) sshMethod(ep *transport.Endpoint) (transport.AuthMethod, error) {
	host := ep.Host
	if a.KnownHostsFile == "" {
		return nil, fmt.Errorf("ssh to %s: no known_hosts file (KnownHostsFile); host keys are always verified", host)
	}
	if a.SSHKeyFile == "" {
		return nil, fmt.Errorf("ssh to %s: no SSH key file (SSHKeyFile)", host)
	}
	key, err := os.ReadFile(a.SSHKeyFile)
	if err != nil {
		return nil, fmt.Errorf("read SSH key file: %w", err)
	}
	var passphrase string
	if a.SSHKeyPassphraseFile != "" {
		if passphrase, err = readSecret("SSH key passphrase", a.SSHKeyPassphraseFile); err != nil {
			return nil, err
		}
	}
	signer, err := ssh.ParsePrivateKey(key)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing) && a.SSHKeyPassphraseFile == "":
		return nil, fmt.Errorf("SSH key file %s is encrypted and no passphrase file is set (SSHKeyPassphraseFile)", a.SSHKeyFile)
	case errors.As(err, &missing):
		signer, err = ssh.ParsePrivateKeyWithPassphrase(key, []byte(passphrase))
	}
	if err != nil {
		return nil, fmt.Errorf("SSH key file %s: %w", a.SSHKeyFile, err)
	}
	pk := &gitssh.PublicKeys{User: cmp.Or(a.SSHUser, ep.User, "git"), Signer: signer}

	if _, err := os.Stat(a.KnownHostsFile); err != nil {
		return nil, fmt.Errorf("known_hosts file: %w", err)
	}
	db, err := gitssh.NewKnownHostsDb(a.KnownHostsFile)
	if err != nil {
		return nil, fmt.Errorf("known_hosts file %s: %w", a.KnownHostsFile, err)
	}
	port := ep.Port
	if port <= 0 {
		port = gitssh.DefaultPort
	}
	hostPort := net.JoinHostPort(host, strconv.Itoa(port))
	// With a callback of our own go-git leaves the algorithms to us; asking
	// for the key types known_hosts has for this host makes the server
	// present one of those rather than one we would reject.
	algos := db.HostKeyAlgorithms(hostPort)
	if len(algos) == 0 {
		return nil, fmt.Errorf("known_hosts file %s has no key for %s", a.KnownHostsFile, hostPort)
	}
	pk.HostKeyCallback = db.HostKeyCallback()
	pk.HostKeyAlgorithms = algos
	return pk, nil
}

func (a AuthConfig) httpMethod(ep *transport.Endpoint) (transport.AuthMethod, error) {
	user, err := secretFrom("username", a.UsernameFile, EnvUsername)
	if err != nil {
		return nil, err
	}
	password, err := secretFrom("password", a.PasswordFile, EnvPassword)
	if err != nil {
		return nil, err
	}
	token, err := secretFrom("token", a.TokenFile, EnvToken)
	if err != nil {
		return nil, err
	}

	var auth *githttp.BasicAuth
	switch {
	case token != "" && password != "":
		return nil, errors.New("git credentials: both a token and a password are set; set one")
	case token != "":
		auth = &githttp.BasicAuth{Username: cmp.Or(user, "git"), Password: token}
	case password != "":
		if user == "" {
			return nil, errors.New("git credentials: a password is set but no username")
		}
		auth = &githttp.BasicAuth{Username: user, Password: password}
	case user != "":
		return nil, errors.New("git credentials: a username is set but no password or token")
	default:
		return nil, nil
	}
	if ep.Protocol == "http" && !isLoopback(ep.Host) && !a.InsecureHTTP {
		return nil, fmt.Errorf("git credentials: refusing to send them in clear over http to %s; use https (or --git-insecure-http on a network you trust)", ep.Host)
	}
	return auth, nil
}

// secretFrom reads one credential from its file when set, else from env.
func secretFrom(what, file, env string) (string, error) {
	if file != "" {
		return readSecret(what, file)
	}
	return strings.TrimRight(os.Getenv(env), "\r\n"), nil
}

// readSecret reads a credential file. Errors name the file and the
// problem, never the content.
func readSecret(what, file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read git %s file: %w", what, err)
	}
	v := strings.TrimRight(string(data), "\r\n")
	if v == "" {
		return "", fmt.Errorf("git %s file %s is empty", what, file)
	}
	return v, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
