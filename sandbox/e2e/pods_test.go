package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestNodes checks what placement tests rely on: every node Ready, with its
// hostname and zone labels.
func TestNodes(t *testing.T) {
	nodes, err := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"sandbox-node-a": "zone-a", "sandbox-node-b": "zone-b", "sandbox-node-c": "zone-c"}
	if len(nodes.Items) != len(want) {
		t.Fatalf("nodes: got %d, want %d", len(nodes.Items), len(want))
	}
	for _, n := range nodes.Items {
		if got := n.Labels[corev1.LabelHostname]; got != n.Name {
			t.Errorf("%s: hostname label %q", n.Name, got)
		}
		if got := n.Labels[corev1.LabelTopologyZone]; got != want[n.Name] {
			t.Errorf("%s: zone label %q, want %q", n.Name, got, want[n.Name])
		}
		if ok, _ := nodeReady(n.Name); !ok {
			t.Errorf("%s: not Ready", n.Name)
		}
	}
}

// TestPodFeatures exercises what the kubelet must do for a pod beyond
// running a process: init containers, env from the API and the downward
// API with $(VAR) expansion, content volumes, logs, exec, liveness probes.
func TestPodFeatures(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "pod-features")
	if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Data: map[string]string{"greeting": "hello", "file.txt": "from-configmap"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sec"}, Data: map[string][]byte{"token": []byte("s3cret")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	grace := int64(1)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "features", Labels: map[string]string{"app": "features"}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			InitContainers: []corev1.Container{{
				Name: "init", Image: "busybox:1.36",
				Command:      []string{"sh", "-c", "echo init-was-here > /work/init.txt && touch /work/alive"},
				VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: "/work"}},
			}},
			Containers: []corev1.Container{{
				Name: "main", Image: "busybox:1.36",
				Command: []string{"sh", "-c", `echo "greeting=$GREETING token=$TOKEN pod=$POD_NAME ip=$POD_IP arg=$1"; exec sleep 3600`, "--", "$(GREETING)-$(POD_NAME)"},
				Env: []corev1.EnvVar{
					{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "greeting"}}},
					{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "token"}}},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "work", MountPath: "/work"},
					{Name: "cfg", MountPath: "/cfg", ReadOnly: true},
					{Name: "sec", MountPath: "/secret", ReadOnly: true},
					{Name: "podinfo", MountPath: "/podinfo"},
				},
				LivenessProbe: &corev1.Probe{
					ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/work/alive"}}},
					PeriodSeconds:    1,
					FailureThreshold: 1,
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec"}}},
				{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
					{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				}}}},
			},
		},
	}
	createPod(t, ns, pod)
	p := waitPodReady(t, ns, "features", time.Minute)

	exec := func(cmd ...string) string {
		return strings.TrimSpace(kubectl(t, append([]string{"-n", ns, "exec", "features", "-c", "main", "--"}, cmd...)...))
	}
	wantLog := fmt.Sprintf("greeting=hello token=s3cret pod=features ip=%s arg=hello-features", p.Status.PodIP)
	eventually(t, 10*time.Second, "kubectl logs shows the resolved env and args", func() error {
		if got := strings.TrimSpace(kubectl(t, "-n", ns, "logs", "features", "-c", "main")); got != wantLog {
			return fmt.Errorf("got %q, want %q", got, wantLog)
		}
		return nil
	})
	for path, want := range map[string]string{
		"/work/init.txt": "init-was-here",
		"/cfg/file.txt":  "from-configmap",
		"/secret/token":  "s3cret",
	} {
		if got := exec("cat", path); got != want {
			t.Errorf("cat %s: got %q, want %q", path, got, want)
		}
	}
	// A Secret or ConfigMap update reaches the running container's volume
	// (whole-volume mounts), as the kubelet's sync does, and in one piece.
	sec, err := client.CoreV1().Secrets(ns).Get(ctx, "sec", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec.Data = map[string][]byte{"token": []byte("renewed"), "extra": []byte("added")}
	if _, err := client.CoreV1().Secrets(ns).Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the renewed Secret reaches /secret", func() error {
		if got := exec("sh", "-c", "cat /secret/token /secret/extra 2>/dev/null; true"); got != "renewedadded" {
			return fmt.Errorf("cat /secret/token /secret/extra: %q", got)
		}
		return nil
	})
	// The API server may add the node's topology labels to the pod; ours must be there.
	if got := exec("cat", "/podinfo/labels"); !strings.Contains(got, `app="features"`) {
		t.Errorf("downward API labels: got %q, want a line app=\"features\"", got)
	}
	if got := p.Status.InitContainerStatuses; len(got) != 1 || got[0].State.Terminated == nil || got[0].State.Terminated.ExitCode != 0 {
		t.Errorf("init container status: %+v", got)
	}

	// Liveness: remove the file the probe reads, and the kubelet restarts the container.
	exec("rm", "/work/alive")
	eventually(t, 30*time.Second, "liveness failure restarts the container", func() error {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "features", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cs := p.Status.ContainerStatuses[0]; cs.RestartCount < 1 {
			return fmt.Errorf("restartCount %d", cs.RestartCount)
		}
		return nil
	})
	if prev := kubectl(t, "-n", ns, "logs", "features", "-c", "main", "--previous"); !strings.Contains(prev, "greeting=hello") {
		t.Errorf("kubectl logs --previous: %q", prev)
	}
}

// TestUnknownImage: an image with no local program fails like a missing
// image would, with a reason a user recognises.
func TestUnknownImage(t *testing.T) {
	ns := namespace(t, "unknown-image")
	createPod(t, ns, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27"}}},
	})
	eventually(t, 30*time.Second, "nginx waits with ErrImagePull", func() error {
		p, err := client.CoreV1().Pods(ns).Get(context.Background(), "nginx", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return fmt.Errorf("status %+v", p.Status.ContainerStatuses)
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		if w.Reason != "ErrImagePull" || !strings.Contains(w.Message, "nginx:1.27") {
			return fmt.Errorf("waiting %s: %s", w.Reason, w.Message)
		}
		if p.Status.Phase != corev1.PodPending {
			return fmt.Errorf("phase %s, want Pending", p.Status.Phase)
		}
		return nil
	})
}
