package render

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/spec"
)

func authCluster() *spec.RedisCluster {
	c := testCluster()
	c.Spec.Auth = &spec.Auth{SecretRef: spec.SecretRef{Name: "cache-auth", Key: "password"}}
	return c
}

// TestAuthWiring checks that the password travels only through the
// Secret: env vars from secretKeyRef, never a literal value, never $(VAR)
// in argv (the kubelet would expand it into the process's arguments), and
// nothing in the ConfigMap.
func TestAuthWiring(t *testing.T) {
	objs := mustRender(t, authCluster())
	pod := objs.StatefulSet.Spec.Template.Spec

	if len(pod.InitContainers) != 1 || *pod.InitContainers[0].Name != authInitContainer {
		t.Fatalf("init containers = %v, want %q", pod.InitContainers, authInitContainer)
	}
	byName := map[string]bool{}
	for _, ctr := range append(pod.InitContainers, pod.Containers...) {
		for _, e := range ctr.Env {
			byName[*ctr.Name+"/"+*e.Name] = true
			if *e.Name != envPassword && *e.Name != envCLIAuth {
				continue
			}
			if e.Value != nil {
				t.Errorf("%s: env %s has a literal value", *ctr.Name, *e.Name)
			}
			ref := e.ValueFrom.SecretKeyRef
			if ref == nil || *ref.Name != "cache-auth" || *ref.Key != "password" {
				t.Errorf("%s: env %s is not from secret cache-auth key password", *ctr.Name, *e.Name)
			}
		}
		for _, arg := range append(append([]string{}, ctr.Command...), ctr.Args...) {
			for _, v := range []string{envPassword, envCLIAuth} {
				if strings.Contains(arg, "$("+v+")") {
					t.Errorf("%s: argv expands $(%s)", *ctr.Name, v)
				}
			}
			if strings.Contains(strings.ReplaceAll(arg, "$(POD_IP)", ""), "$(") {
				t.Errorf("%s: argv %q contains %q, which the kubelet may expand", *ctr.Name, arg, "$(")
			}
		}
	}
	for _, want := range []string{"auth/" + envPassword, ContainerName + "/" + envCLIAuth} {
		if !byName[want] {
			t.Errorf("no env %s", want)
		}
	}
	if byName[ContainerName+"/"+envPassword] {
		t.Errorf("the redis container gets %s; only redis-cli's %s belongs there", envPassword, envCLIAuth)
	}

	conf := objs.ConfigMap.Data[configFile]
	for _, word := range []string{"requirepass", "masterauth"} {
		if strings.Contains(conf, word) {
			t.Errorf("redis.conf in the ConfigMap mentions %s:\n%s", word, conf)
		}
	}
	if !strings.Contains(conf, "include /auth/auth.conf\n") {
		t.Errorf("redis.conf does not include the auth file:\n%s", conf)
	}

	var emptyDir, mounted bool
	for _, v := range pod.Volumes {
		if *v.Name == authVolume && v.EmptyDir != nil && *v.EmptyDir.Medium == "Memory" {
			emptyDir = true
		}
	}
	for _, m := range pod.Containers[0].VolumeMounts {
		if *m.Name == authVolume && *m.MountPath == authDir && *m.ReadOnly {
			mounted = true
		}
	}
	if !emptyDir || !mounted {
		t.Errorf("auth volume: memory emptyDir %v, mounted read-only at %s in redis %v", emptyDir, authDir, mounted)
	}
}

// TestNoAuthNoAuthWiring: a cluster without auth has no init container,
// no auth volume and no include.
func TestNoAuthNoAuthWiring(t *testing.T) {
	y, err := mustRender(t, testCluster()).YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, word := range []string{"initContainers", "secretKeyRef", envCLIAuth, "/auth", "include"} {
		if bytes.Contains(y, []byte(word)) {
			t.Errorf("rendered YAML without auth mentions %q", word)
		}
	}
}

// trickyPasswords are passwords that break naive quoting in sh or in
// redis.conf, or try to add a directive.
var trickyPasswords = []string{
	"s3cret",
	"with space",
	`quote"inside`,
	`back\slash`,
	`trailing\`,
	`\"`,
	"it's",
	"'",
	"new\nline requirepass x",
	"\ttab and\rcr",
	"$(echo pwned)",
	"`id`",
	"${HOME}",
	"*",
	"-n",
	"=",
	"#comment",
	"pässwörd",
	strings.Repeat("x", 512),
}

// runAuthScript runs authScript with the given password, writing into dir
// instead of /auth, and returns the file it wrote.
func runAuthScript(t *testing.T, dir, password string) ([]byte, error) {
	t.Helper()
	script := strings.ReplaceAll(authScript, authFilePath, filepath.Join(dir, authFile))
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/bin:/bin", envPassword + "=" + password}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, &scriptError{err, stderr.String()}
	}
	return os.ReadFile(filepath.Join(dir, authFile))
}

type scriptError struct {
	err    error
	stderr string
}

func (e *scriptError) Error() string { return e.err.Error() + ": " + e.stderr }

func TestAuthScriptQuoting(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh")
	}
	tests := []struct{ password, want string }{
		{"s3cret", `"s3cret"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"a\nb", `"a\nb"`},
		{"it's $x", `"it's $x"`},
	}
	for _, tt := range tests {
		got, err := runAuthScript(t, t.TempDir(), tt.password)
		if err != nil {
			t.Fatalf("password %q: %v", tt.password, err)
		}
		if want := "requirepass " + tt.want + "\nmasterauth " + tt.want + "\n"; string(got) != want {
			t.Errorf("password %q: auth.conf =\n%s\nwant\n%s", tt.password, got, want)
		}
	}
	dir := t.TempDir()
	if _, err := runAuthScript(t, dir, "x"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, authFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("auth.conf: %v, %v; want mode 0600", fi, err)
	}
	if _, err := runAuthScript(t, t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty password: error = %v, want a refusal", err)
	}
}

// TestAuthScriptWithRedis has a real redis-server read the file the init
// container writes, for passwords that break naive quoting: the password
// works, a wrong one does not, and the readiness probe passes whatever
// password the pod started with (it logs in as the PING-only probe user,
// so a rotated password cannot fail it), while that user can do nothing
// else.
func TestAuthScriptWithRedis(t *testing.T) {
	for _, prog := range []string{"sh", "redis-server", "redis-cli"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("needs %s", prog)
		}
	}
	for i, password := range trickyPasswords {
		dir := t.TempDir()
		if _, err := runAuthScript(t, dir, password); err != nil {
			t.Fatalf("password %d %q: %v", i, password, err)
		}
		sock := filepath.Join(dir, "redis.sock")
		conf := "port 0\nunixsocket " + sock + "\ndir " + dir + "\nsave \"\"\nappendonly no\nuser " + probeUser + " on nopass -@all +ping\ninclude " + filepath.Join(dir, authFile) + "\n"
		if err := os.WriteFile(filepath.Join(dir, "redis.conf"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		srv := exec.CommandContext(ctx, "redis-server", filepath.Join(dir, "redis.conf"))
		var log bytes.Buffer
		srv.Stdout, srv.Stderr = &log, &log
		if err := srv.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		stop := func() { cancel(); srv.Wait() }

		probe := strings.Replace(readinessScriptAuth, "-h 127.0.0.1 -p 6379", "-s "+sock, 1)
		ready := func(auth string) bool {
			cmd := exec.CommandContext(ctx, "sh", "-c", probe)
			cmd.Env = []string{"PATH=/usr/bin:/bin", envCLIAuth + "=" + auth}
			return cmd.Run() == nil
		}
		cli := func(auth string, args ...string) string {
			cmd := exec.CommandContext(ctx, "redis-cli", append([]string{"--no-auth-warning", "-s", sock}, args...)...)
			cmd.Env = []string{"PATH=/usr/bin:/bin", envCLIAuth + "=" + auth}
			out, _ := cmd.CombinedOutput()
			return strings.TrimSpace(string(out))
		}
		deadline := time.Now().Add(10 * time.Second)
		for !ready(password) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if !ready(password) {
			stop()
			t.Fatalf("password %d %q: probe never passed; redis said:\n%s", i, password, log.String())
		}
		if !ready(password + "x") {
			t.Errorf("password %d %q: probe fails once the pod's start-time password is not the node's", i, password)
		}
		if got := cli(password, "set", "k", "v"); got != "OK" {
			t.Errorf("password %d %q: SET with the password: %q", i, password, got)
		}
		if got := cli(password+"x", "get", "k"); !strings.Contains(got, "WRONGPASS") && !strings.Contains(got, "NOAUTH") {
			t.Errorf("password %d %q: GET with a wrong password: %q, want an auth error", i, password, got)
		}
		if got := cli("", "--user", probeUser, "--pass", "x", "get", "k"); !strings.Contains(got, "NOPERM") {
			t.Errorf("password %d %q: GET as the probe user: %q, want NOPERM", i, password, got)
		}
		stop()
	}
}
