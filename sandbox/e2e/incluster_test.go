package e2e

// In-cluster clients: a pod's kubectl (a mapped image) reaches the API
// server with the ServiceAccount token, CA and namespace the kubelet
// mounts, and gets exactly the rights RBAC gives that ServiceAccount.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// e2eImage is mapped by runMain with `sandbox up --image`, to bin/kubectl.
const e2eImage = "example.com/e2e/kubectl-copy"

// finishedPod waits for a pod to end and returns its phase, exit code and logs.
func finishedPod(t *testing.T, ns, name string, timeout time.Duration) (corev1.PodPhase, int32, string) {
	t.Helper()
	ctx := context.Background()
	var pod *corev1.Pod
	eventually(t, timeout, ns+"/"+name+" finished", func() error {
		p, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			return fmt.Errorf("phase %s, statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
		}
		pod = p
		return nil
	})
	logs, err := client.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of %s/%s: %v", ns, name, err)
	}
	var code int32 = -1
	if cs := pod.Status.ContainerStatuses; len(cs) > 0 && cs[0].State.Terminated != nil {
		code = cs[0].State.Terminated.ExitCode
	}
	return pod.Status.Phase, code, string(logs)
}

func TestInClusterRBAC(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "incluster")

	// The status names where pods reach the API server and the images.
	var st struct {
		PodAPIServer string `json:"podAPIServer"`
		Gateway      string `json:"gateway"`
		Images       []struct {
			Name, Runs string
			Local      bool
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(sandbox(t, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.PodAPIServer, st.Gateway+":") {
		t.Fatalf("podAPIServer %q is not on the gateway %s", st.PodAPIServer, st.Gateway)
	}
	mapped := map[string]bool{}
	for _, img := range st.Images {
		if img.Local {
			mapped[img.Name] = true
		}
	}
	if !mapped["*/kubectl"] || !mapped["e2e/kubectl-copy"] {
		t.Fatalf("status images lack */kubectl or e2e/kubectl-copy: %+v", st.Images)
	}
	if text := sandbox(t, "status"); !strings.Contains(text, "api server for pods: https://"+st.PodAPIServer) || !strings.Contains(text, "*/kubectl") {
		t.Fatalf("status text lacks the api server for pods or the image map:\n%s", text)
	}

	// The root CA publisher puts the cluster CA in every namespace: the
	// kube-api-access volume's ca.crt comes from it.
	caPEM, err := os.ReadFile(filepath.Join(sandboxDir, "certs", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "kube-root-ca.crt in "+ns, func() error {
		cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data["ca.crt"] != string(caPEM) {
			return fmt.Errorf("ca.crt is not the cluster CA")
		}
		return nil
	})

	// A ServiceAccount that may get and list pods in its namespace, nothing else.
	if _, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "reader-reads-pods"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "reader", Namespace: ns}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	pod := func(name, image string, command, args []string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{
				RestartPolicy:      corev1.RestartPolicyNever,
				ServiceAccountName: "reader",
				Containers:         []corev1.Container{{Name: "kubectl", Image: image, Command: command, Args: args}},
			},
		}
	}
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount"
	// Each kubectl finds its config in-cluster: no kubeconfig, no flags.
	createPod(t, ns, pod("list-pods", "bitnami/kubectl:1.37", nil, []string{"get", "pods", "-o", "name"}))
	createPod(t, ns, pod("list-secrets", "registry.k8s.io/kubectl:v1.37.2", nil, []string{"get", "secrets"}))
	createPod(t, ns, pod("mapped", e2eImage+":v1", nil, []string{"auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"}))
	createPod(t, ns, pod("shell", "bitnami/kubectl:latest", []string{"sh", "-c", `
echo "host=$KUBERNETES_SERVICE_HOST port=$KUBERNETES_SERVICE_PORT https=$KUBERNETES_SERVICE_PORT_HTTPS"
echo "namespace=$(cat ` + sa + `/namespace)"
echo "token=$(test -s ` + sa + `/token && echo yes)"
cat ` + sa + `/ca.crt
kubectl get pods -n kube-system >/dev/null 2>/tmp/err; echo "kube-system rc=$?"; cat /tmp/err
kubectl get pod shell -o jsonpath='self={.metadata.name}{"\n"}'
`}, nil))

	phase, code, logs := finishedPod(t, ns, "list-pods", 2*time.Minute)
	if phase != corev1.PodSucceeded || !strings.Contains(logs, "pod/list-pods") {
		t.Errorf("kubectl get pods in a pod: phase %s, exit %d, logs:\n%s", phase, code, logs)
	}
	phase, code, logs = finishedPod(t, ns, "list-secrets", 2*time.Minute)
	wantForbidden := `secrets is forbidden: User "system:serviceaccount:incluster:reader" cannot list resource "secrets"`
	if phase != corev1.PodFailed || code != 1 || !strings.Contains(logs, wantForbidden) {
		t.Errorf("kubectl get secrets in a pod: phase %s, exit %d, want Failed, 1 and %q; logs:\n%s", phase, code, wantForbidden, logs)
	}
	phase, code, logs = finishedPod(t, ns, "mapped", 2*time.Minute)
	if phase != corev1.PodSucceeded || strings.TrimSpace(logs) != "system:serviceaccount:incluster:reader" {
		t.Errorf("--image mapped kubectl: phase %s, exit %d, logs:\n%s", phase, code, logs)
	}
	phase, code, logs = finishedPod(t, ns, "shell", 2*time.Minute)
	host, port, _ := strings.Cut(st.PodAPIServer, ":")
	for _, want := range []string{
		fmt.Sprintf("host=%s port=%s https=%s\n", host, port, port),
		"namespace=" + ns + "\n",
		"token=yes\n",
		string(caPEM),
		"kube-system rc=1\n",
		`pods is forbidden: User "system:serviceaccount:incluster:reader" cannot list resource "pods" in API group "" in the namespace "kube-system"`,
		"self=shell\n",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("shell pod (phase %s, exit %d): logs lack %q:\n%s", phase, code, want, logs)
		}
	}
}
