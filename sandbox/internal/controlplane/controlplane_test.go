package controlplane

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// testBinDir finds the kube binaries: $SANDBOX_BIN_DIR or the repo's bin/.
func testBinDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SANDBOX_BIN_DIR")
	if dir == "" {
		abs, err := filepath.Abs("../../../bin")
		if err != nil {
			t.Fatal(err)
		}
		dir = abs
	}
	for _, name := range []string{NameAPIServer, NameControllerManager, NameScheduler} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("control plane binaries not available (make build): %v", err)
		}
	}
	return dir
}

func TestControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real control plane")
	}
	binDir := testBinDir(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()

	dir := t.TempDir()
	// CP_TEST_DIR keeps the state dir (logs!) for inspection after a run.
	if keep := os.Getenv("CP_TEST_DIR"); keep != "" {
		dir = keep
	}
	cp, err := Start(ctx, Config{Dir: dir, BinDir: binDir, ClusterCIDR: "10.244.0.0/16", Logf: t.Logf})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("control plane started in %.2fs", cp.StartupDuration().Seconds())
	stopped := false
	defer func() {
		if !stopped {
			_ = cp.Stop(ctx)
		}
	}()

	comps := cp.Components()
	if len(comps) != 4 {
		t.Fatalf("components = %+v, want 4", comps)
	}
	for _, c := range comps {
		t.Logf("component %s pid %d running %v endpoint %s log %s", c.Name, c.Pid, c.Running, c.Endpoint, c.LogPath)
		if !c.Running || c.Pid <= 0 {
			t.Errorf("component %s not running: %+v", c.Name, c)
		}
	}
	if got := Stale(dir); len(got) != 4 {
		t.Errorf("Stale(dir) while running = %v, want the 4 live pids", got)
	}
	if _, err := os.Stat(cp.KubeconfigPath()); err != nil {
		t.Errorf("admin kubeconfig: %v", err)
	}

	client := kubernetes.NewForConfigOrDie(cp.RESTConfig())
	body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil || string(body) != "ok" {
		t.Fatalf("/readyz = %q, %v", body, err)
	}

	t.Run("namespace and configmap", func(t *testing.T) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cp-test"}}
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create namespace: %v", err)
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"k": "v"}}
		if _, err := client.CoreV1().ConfigMaps("cp-test").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create configmap: %v", err)
		}
		got, err := client.CoreV1().ConfigMaps("cp-test").Get(ctx, "cm", metav1.GetOptions{})
		if err != nil || got.Data["k"] != "v" {
			t.Fatalf("get configmap = %v, %v", got, err)
		}
	})

	t.Run("controller manager creates replicaset", func(t *testing.T) {
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example/web"}}},
				},
			},
		}
		if _, err := client.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create deployment: %v", err)
		}
		began := time.Now()
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			rs, err := client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				return false, err
			}
			for _, r := range rs.Items {
				if ref := metav1.GetControllerOf(&r); ref != nil && ref.Kind == "Deployment" && ref.Name == "web" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("no replicaset for deployment web: %v", err)
		}
		t.Logf("replicaset appeared after %s", time.Since(began).Round(time.Millisecond))
	})

	t.Run("scheduler reports no nodes", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "lonely"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example/c"}}},
		}
		// "default" works without retries: Start waits for its ServiceAccount.
		if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod: %v", err)
		}
		var message string
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			events, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{
				FieldSelector: fields.Set{"involvedObject.name": "lonely", "reason": "FailedScheduling"}.String(),
			})
			if err != nil {
				return false, err
			}
			if len(events.Items) > 0 {
				message = events.Items[0].Message
				return true, nil
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("no FailedScheduling event: %v", err)
		}
		t.Logf("scheduler event: %s", message)
		if !strings.Contains(message, "nodes") {
			t.Errorf("event %q does not mention nodes", message)
		}
		got, err := client.CoreV1().Pods("default").Get(ctx, "lonely", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Phase != corev1.PodPending || got.Spec.NodeName != "" {
			t.Errorf("pod phase %s node %q, want Pending and unbound", got.Status.Phase, got.Spec.NodeName)
		}
	})

	t.Run("node kubeconfig", func(t *testing.T) {
		path, err := cp.NodeKubeconfig("node-a")
		if err != nil {
			t.Fatal(err)
		}
		nodeCfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			t.Fatal(err)
		}
		review, err := kubernetes.NewForConfigOrDie(nodeCfg).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("self subject review as node: %v", err)
		}
		if u := review.Status.UserInfo; u.Username != "system:node:node-a" || !slices.Contains(u.Groups, "system:nodes") {
			t.Errorf("node identity = %+v", u)
		}
		if _, err := cp.NodeKubeconfig("../evil"); err == nil {
			t.Error("NodeKubeconfig accepted a path as node name")
		}
	})

	select {
	case <-cp.Done():
		t.Fatalf("Done closed while running: %v", cp.Err())
	default:
	}

	ports := []int{cp.ports.etcdClient, cp.ports.etcdPeer, cp.ports.apiserver, cp.ports.controllerManager, cp.ports.scheduler}
	stopBegan := time.Now()
	if err := cp.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	stopped = true
	t.Logf("stopped in %s", time.Since(stopBegan).Round(time.Millisecond))
	if err := cp.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	select {
	case <-cp.Done():
	default:
		t.Error("Done not closed after Stop")
	}
	if err := cp.Err(); err != nil {
		t.Errorf("Err after clean Stop = %v", err)
	}
	for _, c := range comps {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", c.Pid)); err == nil {
			t.Errorf("%s (pid %d) still exists after Stop", c.Name, c.Pid)
		}
	}
	for _, c := range cp.Components() {
		if c.Running {
			t.Errorf("%s reported running after Stop", c.Name)
		}
	}
	if got := Stale(dir); len(got) != 0 {
		t.Errorf("Stale after Stop = %v", got)
	}
	if open := listeningPorts(t, ports); len(open) > 0 {
		t.Errorf("ports still listening after Stop: %v", open)
	}
}

// listeningPorts returns which of ports have a TCP socket in LISTEN state.
func listeningPorts(t *testing.T, ports []int) []int {
	t.Helper()
	want := map[int]bool{}
	for _, p := range ports {
		want[p] = true
	}
	var open []int
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// fields[1] is local "HEXIP:HEXPORT", fields[3] the state; 0A = LISTEN.
			if len(fields) < 4 || fields[3] != "0A" {
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			port, err := strconv.ParseInt(hexPort, 16, 32)
			if err == nil && want[int(port)] {
				open = append(open, int(port))
			}
		}
		f.Close()
	}
	return open
}
