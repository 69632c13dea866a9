package gitsource

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// write puts content in a new file under dir and returns its path.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sshKey(t *testing.T, passphrase string) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), sshPub
}

func TestAuthConfigSSH(t *testing.T) {
	dir := t.TempDir()
	plainKey, _ := sshKey(t, "")
	lockedKey, _ := sshKey(t, "open sesame")
	_, hostKey := sshKey(t, "")
	_, otherKey := sshKey(t, "")

	keyFile := write(t, dir, "id", plainKey)
	lockedFile := write(t, dir, "id-locked", lockedKey)
	passFile := write(t, dir, "passphrase", "open sesame\n")
	knownHosts := write(t, dir, "known_hosts",
		knownhosts.Line([]string{"git.example.com"}, hostKey)+"\n"+
			knownhosts.Line([]string{"[git.example.com]:2222"}, hostKey)+"\n")

	tests := []struct {
		name     string
		cfg      AuthConfig
		url      string
		wantUser string
		wantErr  string // substring; "" for success
	}{
		{name: "key and known_hosts", url: "ssh://git.example.com/org/repo.git",
			cfg: AuthConfig{SSHKeyFile: keyFile, KnownHostsFile: knownHosts}, wantUser: "git"},
		{name: "scp-like URL with its user", url: "deploy@git.example.com:org/repo.git",
			cfg: AuthConfig{SSHKeyFile: keyFile, KnownHostsFile: knownHosts}, wantUser: "deploy"},
		{name: "SSHUser wins over the URL's", url: "ssh://deploy@git.example.com/org/repo.git",
			cfg: AuthConfig{SSHKeyFile: keyFile, KnownHostsFile: knownHosts, SSHUser: "robot"}, wantUser: "robot"},
		{name: "other port, listed", url: "ssh://git@git.example.com:2222/org/repo.git",
			cfg: AuthConfig{SSHKeyFile: keyFile, KnownHostsFile: knownHosts}, wantUser: "git"},
		{name: "encrypted key with passphrase file", url: "ssh://git.example.com/org/repo.git",
			cfg: AuthConfig{SSHKeyFile: lockedFile, SSHKeyPassphraseFile: passFile, KnownHostsFile: knownHosts}, wantUser: "git"},

		{name: "no known_hosts", url: "ssh://git.example.com/org/repo.git",
			cfg: AuthConfig{SSHKeyFile: keyFile}, wantErr: "no known_hosts file"},
		{name: "known_hosts file missing", url: "ssh://git.example.com/org/repo.git",
			cfg: AuthConfig{SSHKeyFile: keyFile, KnownHostsFile: filepath.Join(dir, "nope")}, wantErr: filepath.Join(dir, "nope")},
		{name: "host not in known_hosts", url: "ssh://elsewhere.example.com/org/repo.git",
			cfg: AuthConfig{SSHKeyFile: keyFile, KnownHostsFile: knownHosts}, wantErr: "has no key for elsewhere.example.com:22"},
		{name: "port not in known_hosts", url: "ssh://git@git.example.com:2200/org/repo.git",
			cfg: AuthConfig{SSHKeyFile: keyFile, KnownHostsFile: knownHosts}, wantErr: "has no key for git.example.com:2200"},
		{name: "no key", url: "ssh://git.example.com/org/repo.git",
			cfg: AuthConfig{KnownHostsFile: knownHosts}, wantErr: "no SSH key file"},
		{name: "key file missing", url: "ssh://git.example.com/org/repo.git",
			cfg: AuthConfig{SSHKeyFile: filepath.Join(dir, "missing"), KnownHostsFile: knownHosts}, wantErr: filepath.Join(dir, "missing")},
		{name: "key file not a key", url: "ssh://git.example.com/org/repo.git",
			cfg: AuthConfig{SSHKeyFile: knownHosts, KnownHostsFile: knownHosts}, wantErr: "SSH key file " + knownHosts},
		{name: "encrypted key without passphrase", url: "ssh://git.example.com/org/repo.git",
			cfg: AuthConfig{SSHKeyFile: lockedFile, KnownHostsFile: knownHosts}, wantErr: "SSHKeyPassphraseFile"},
		{name: "wrong passphrase", url: "ssh://git.example.com/org/repo.git",
			cfg: AuthConfig{SSHKeyFile: lockedFile, SSHKeyPassphraseFile: knownHosts, KnownHostsFile: knownHosts}, wantErr: "SSH key file " + lockedFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.cfg.Method(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Method = %v, %v; want an error containing %q", m, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Method: %v", err)
			}
			pk, ok := m.(*gitssh.PublicKeys)
			if !ok {
				t.Fatalf("Method = %T, want *ssh.PublicKeys", m)
			}
			if pk.User != tt.wantUser {
				t.Errorf("User = %q, want %q", pk.User, tt.wantUser)
			}
			cfg, err := pk.ClientConfig()
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.HostKeyAlgorithms) == 0 || cfg.HostKeyAlgorithms[0] != ssh.KeyAlgoED25519 {
				t.Errorf("HostKeyAlgorithms = %v, want the known host's [%s]", cfg.HostKeyAlgorithms, ssh.KeyAlgoED25519)
			}
			// The host key is verified: the known one passes, another fails.
			host := "git.example.com:22"
			if strings.Contains(tt.url, ":2222") {
				host = "git.example.com:2222"
			}
			addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}
			if err := cfg.HostKeyCallback(host, addr, hostKey); err != nil {
				t.Errorf("known host key refused: %v", err)
			}
			if err := cfg.HostKeyCallback(host, addr, otherKey); err == nil {
				t.Error("a different host key was accepted")
			}
			if err := cfg.HostKeyCallback("unknown.example.com:22", addr, hostKey); err == nil {
				t.Error("an unknown host was accepted")
			}
		})
	}
}

func TestAuthConfigHTTP(t *testing.T) {
	dir := t.TempDir()
	tokenFile := write(t, dir, "token", "tok-file\n")
	userFile := write(t, dir, "user", "alice\r\n")
	passFile := write(t, dir, "password", "pw-file\n")
	emptyFile := write(t, dir, "empty", "\n")
	missing := filepath.Join(dir, "missing")

	const url = "https://git.example.com/org/repo.git"
	tests := []struct {
		name    string
		cfg     AuthConfig
		env     map[string]string
		url     string
		want    *githttp.BasicAuth // nil: no auth
		wantErr string
	}{
		{name: "nothing set"},
		{name: "token file", cfg: AuthConfig{TokenFile: tokenFile},
			want: &githttp.BasicAuth{Username: "git", Password: "tok-file"}},
		{name: "token and username files", cfg: AuthConfig{TokenFile: tokenFile, UsernameFile: userFile},
			want: &githttp.BasicAuth{Username: "alice", Password: "tok-file"}},
		{name: "username and password files", cfg: AuthConfig{UsernameFile: userFile, PasswordFile: passFile},
			want: &githttp.BasicAuth{Username: "alice", Password: "pw-file"}},
		{name: "token from env", env: map[string]string{EnvToken: "tok-env"},
			want: &githttp.BasicAuth{Username: "git", Password: "tok-env"}},
		{name: "username and password from env", env: map[string]string{EnvUsername: "bob", EnvPassword: "pw-env"},
			want: &githttp.BasicAuth{Username: "bob", Password: "pw-env"}},
		{name: "a file wins over its env var", cfg: AuthConfig{TokenFile: tokenFile}, env: map[string]string{EnvToken: "tok-env", EnvUsername: "bob"},
			want: &githttp.BasicAuth{Username: "bob", Password: "tok-file"}},
		{name: "plain http to loopback", cfg: AuthConfig{TokenFile: tokenFile}, url: "http://127.0.0.1:8080/repo.git",
			want: &githttp.BasicAuth{Username: "git", Password: "tok-file"}},
		{name: "local path takes none", cfg: AuthConfig{TokenFile: tokenFile}, url: "/srv/git/repo.git"},
		{name: "plain http elsewhere, allowed on purpose", cfg: AuthConfig{TokenFile: tokenFile, InsecureHTTP: true}, url: "http://10.244.0.1:3000/repo.git",
			want: &githttp.BasicAuth{Username: "git", Password: "tok-file"}},

		{name: "token and password", cfg: AuthConfig{TokenFile: tokenFile, PasswordFile: passFile}, wantErr: "both a token and a password"},
		{name: "token file and password env", cfg: AuthConfig{TokenFile: tokenFile}, env: map[string]string{EnvPassword: "pw"}, wantErr: "both a token and a password"},
		{name: "password without username", cfg: AuthConfig{PasswordFile: passFile}, wantErr: "no username"},
		{name: "username alone", env: map[string]string{EnvUsername: "bob"}, wantErr: "no password or token"},
		{name: "empty file", cfg: AuthConfig{TokenFile: emptyFile}, wantErr: emptyFile + " is empty"},
		{name: "missing file", cfg: AuthConfig{PasswordFile: missing, UsernameFile: userFile}, wantErr: missing},
		{name: "plain http elsewhere", cfg: AuthConfig{TokenFile: tokenFile}, url: "http://git.example.com/repo.git", wantErr: "use https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{EnvUsername, EnvPassword, EnvToken} {
				t.Setenv(k, tt.env[k])
			}
			u := tt.url
			if u == "" {
				u = url
			}
			m, err := tt.cfg.Method(u)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Method = %v, %v; want an error containing %q", m, err, tt.wantErr)
				}
				for _, secret := range []string{"tok-file", "pw-file", "tok-env", "pw-env"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q shows a secret", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Method: %v", err)
			}
			if tt.want == nil {
				if m != nil {
					t.Errorf("Method = %v, want none", m)
				}
				return
			}
			if !reflect.DeepEqual(m, tt.want) {
				t.Errorf("Method = %#v, want %#v", m, tt.want)
			}
		})
	}
}

// TestAuthOverHTTP runs Sync and Push against a server that demands the
// token, with the auth method AuthConfig builds.
func TestAuthOverHTTP(t *testing.T) {
	const token = "s3cret-token"
	r := newRemote(t, "http", func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if u, p, ok := req.BasicAuth(); !ok || u != "git" || p != token {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, req)
		})
	})
	seed(r)

	anonymous := r.source("")
	if _, err := anonymous.Sync(context.Background()); err == nil {
		t.Error("Sync without credentials succeeded")
	}

	auth, err := AuthConfig{TokenFile: write(t, t.TempDir(), "token", token+"\n")}.Method(r.url)
	if err != nil {
		t.Fatal(err)
	}
	s := r.source("")
	s.Auth = auth
	mustSync(t, s)
	if h := mustPush(t, s, report(map[string]string{"status/default/a.yaml": "ok\n"})); r.head("main") != h {
		t.Errorf("authenticated Push = %q, remote main %s", h, r.head("main"))
	}
}
