// Package deploy holds the kustomize manifests of deploy/ and the
// end-to-end test that runs them.
package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/internal/giteatest"
	"github.com/redis-gitops/redis-gitops/internal/sandboxtest"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
)

// The daemon's image runs bin/redis-gitops in the sandbox.
func TestMain(m *testing.M) {
	os.Exit(giteatest.Main(func() int { return sandboxtest.MainWithImages(m, "redis-gitops") }))
}

// TestDeployBase applies deploy/base as a user would (kubectl apply -k, an
// overlay with the repository and the two Secrets) and has the daemon it
// runs, a pod with only its ServiceAccount's rights, reconcile the minimal
// example from a Git repository: the cluster forms and its Ready report is
// committed back. A rule missing from deploy/base/rbac.yaml shows here as
// a daemon that cannot apply, converge, hold its Lease or push.
func TestDeployBase(t *testing.T) {
	ctx := context.Background()
	srv := giteatest.Shared(t)
	repo := srv.CreateRepo(t, "deploy-e2e")
	ns := sandboxtest.Namespace(t, "deployed")
	example, err := os.ReadFile("../examples/minimal/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec := strings.Replace(string(example), "namespace: default", "namespace: "+ns, 1)
	spec = strings.Replace(spec, "spec:\n", "spec:\n  redis:\n    nodeTimeout: 3s\n", 1)
	srv.PutFile(t, repo, "main", "clusters/cache.yaml", spec, "cache: 3 masters x 1 replica")

	// Pods reach the host through the bridge gateway only: Gitea is put
	// there for them, over plain http inside the sandbox's own network
	// (hence --git-insecure-http below).
	var status struct {
		Gateway string `json:"gateway"`
	}
	if err := json.Unmarshal([]byte(sandboxtest.Sandbox(t, "status", "--json")), &status); err != nil || status.Gateway == "" {
		t.Fatalf("sandbox status: %v, gateway %q", err, status.Gateway)
	}
	gitea, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	fwd := forward(t, status.Gateway, gitea.Host)
	repoURL := "http://" + fwd + "/" + repo.Owner + "/" + repo.Name + ".git"

	// The overlay a user writes: the repository, the Git credentials and
	// the webhook secret; the base as it is.
	dir := t.TempDir()
	base, err := filepath.Abs("base")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(dir, base)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("git-token", srv.Token)
	write("webhook-secret", "e2e-webhook-secret")
	kust := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  []string{rel},
		"secretGenerator": []map[string]any{
			{"name": "redis-gitops-git", "namespace": "redis-gitops", "files": []string{"token=git-token"}, "options": map[string]any{"disableNameSuffixHash": true}},
			{"name": "redis-gitops-webhook", "namespace": "redis-gitops", "files": []string{"secret=webhook-secret"}, "options": map[string]any{"disableNameSuffixHash": true}},
		},
		"patches": []map[string]any{{
			"target": map[string]any{"kind": "Deployment", "name": "redis-gitops"},
			"patch": fmt.Sprintf(`- op: replace
  path: /spec/template/spec/containers/0/env/0/value
  value: %s
- op: add
  path: /spec/template/spec/containers/0/env/-
  value: {name: REDIS_GITOPS_GIT_USERNAME, value: %s}
- op: add
  path: /spec/template/spec/containers/0/env/-
  value: {name: REDIS_GITOPS_INTERVAL, value: 10s}
- op: add
  path: /spec/template/spec/containers/0/env/-
  value: {name: REDIS_GITOPS_GIT_INSECURE_HTTP, value: "true"}
`, repoURL, repo.Username),
		}},
	}
	b, err := yaml.Marshal(kust)
	if err != nil {
		t.Fatal(err)
	}
	write("kustomization.yaml", string(b))
	t.Cleanup(func() {
		sandboxtest.Kubectl(t, nil, "delete", "--ignore-not-found", "--wait=false", "-k", dir)
	})
	out := sandboxtest.Kubectl(t, nil, "apply", "-k", dir)
	t.Logf("kubectl apply -k:\n%s", out)

	client := sandboxtest.Client(t)
	sandboxtest.Eventually(t, 2*time.Minute, "both daemon pods Ready", func() error {
		pods, err := client.CoreV1().Pods("redis-gitops").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=redis-gitops"})
		if err != nil {
			return err
		}
		ready := 0
		for _, p := range pods.Items {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if ready != 2 {
			return fmt.Errorf("%d of %d daemon pods Ready", ready, len(pods.Items))
		}
		return nil
	})
	sandboxtest.Eventually(t, 5*time.Minute, "the daemon's Ready report in Git", func() error {
		text, ok := srv.GetFile(t, repo, "main", "status/"+ns+"/cache.yaml")
		if !ok {
			return fmt.Errorf("no report yet%s", daemonLogs(t))
		}
		r, err := report.Parse([]byte(text))
		if err != nil {
			return err
		}
		if r.Condition(report.Ready).Status != report.True {
			return fmt.Errorf("report: %s", r.Verdict())
		}
		return nil
	})
	// The independent judge: redis-cli in a pod.
	check := sandboxtest.Kubectl(t, nil, "-n", ns, "exec", "cache-0", "-c", "redis", "--", "redis-cli", "--cluster", "check", "127.0.0.1:6379")
	if !strings.Contains(check, "[OK] All 16384 slots covered.") {
		t.Errorf("redis-cli --cluster check:\n%s", check)
	}
	// Only the Lease holder acts.
	lease, err := client.CoordinationV1().Leases("redis-gitops").Get(ctx, "redis-gitops", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || !strings.HasPrefix(*lease.Spec.HolderIdentity, "redis-gitops-") {
		t.Errorf("the Lease: %v, %+v", err, lease)
	}
}

// daemonLogs is the end of each daemon pod's log, for a failure message.
func daemonLogs(t *testing.T) string {
	out, err := sandboxtest.Client(t).CoreV1().Pods("redis-gitops").List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=redis-gitops"})
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range out.Items {
		rc, err := sandboxtest.Client(t).CoreV1().Pods("redis-gitops").GetLogs(p.Name, &corev1.PodLogOptions{TailLines: ptr(int64(5))}).Stream(context.Background())
		if err != nil {
			continue
		}
		l, _ := io.ReadAll(rc)
		rc.Close()
		fmt.Fprintf(&b, "\n%s:\n%s", p.Name, l)
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }

// forward listens on ip (the sandbox's bridge gateway) and relays each
// connection to target on loopback, for as long as the test runs.
func forward(t *testing.T, ip, target string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				done := make(chan struct{})
				go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite(); close(done) }()
				io.Copy(c, u)
				c.(*net.TCPConn).CloseWrite()
				<-done
			}()
		}
	}()
	return l.Addr().String()
}
