package kubelet

import (
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// fakeObjects serves ConfigMaps and Secrets from maps.
type fakeObjects struct {
	cms     map[string]map[string]string
	secrets map[string]map[string][]byte
}

func (f fakeObjects) ConfigMap(_, name string) (*corev1.ConfigMap, error) {
	d, ok := f.cms[name]
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
	}
	return &corev1.ConfigMap{Data: d}, nil
}

func (f fakeObjects) Secret(_, name string) (*corev1.Secret, error) {
	d, ok := f.secrets[name]
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
	}
	return &corev1.Secret{Data: d}, nil
}

func TestContainerEnv(t *testing.T) {
	yes := true
	objs := fakeObjects{
		cms:     map[string]map[string]string{"cfg": {"MODE": "cluster", "PORT": "6379"}},
		secrets: map[string]map[string][]byte{"auth": {"password": []byte("pw")}},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "redis-0", Namespace: "prod", Labels: map[string]string{"app": "r"}},
		Spec:       corev1.PodSpec{NodeName: "sandbox-node-a", ServiceAccountName: "sa"},
	}
	ref := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	c := &corev1.Container{
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi"), corev1.ResourceCPU: resource.MustParse("1500m")}},
		EnvFrom:   []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		Env: []corev1.EnvVar{
			{Name: "POD_IP", ValueFrom: ref("status.podIP")},
			{Name: "HOST_IP", ValueFrom: ref("status.hostIP")},
			{Name: "NAME", ValueFrom: ref("metadata.name")},
			{Name: "NS", ValueFrom: ref("metadata.namespace")},
			{Name: "NODE", ValueFrom: ref("spec.nodeName")},
			{Name: "APP", ValueFrom: ref("metadata.labels['app']")},
			{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "auth"}, Key: "password"}}},
			{Name: "OPTIONAL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "x", Optional: &yes}}},
			{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory"}}},
			{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "ANNOUNCE", Value: "$(POD_IP):$(CFG_PORT)"},
			{Name: "ESCAPED", Value: "$$(POD_IP)"},
			{Name: "UNKNOWN", Value: "$(NOPE)"},
		},
	}
	got, err := containerEnv(pod, c, Image{}, podRuntime{PodIP: "10.244.0.7", HostIP: "127.0.1.1"}, objs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"PATH": basePath, "HOSTNAME": "redis-0",
		"CFG_MODE": "cluster", "CFG_PORT": "6379",
		"POD_IP": "10.244.0.7", "HOST_IP": "127.0.1.1", "NAME": "redis-0", "NS": "prod", "NODE": "sandbox-node-a", "APP": "r",
		"PASSWORD": "pw", "MEM": "1073741824", "CPU": "2",
		"ANNOUNCE": "10.244.0.7:6379", "ESCAPED": "$(POD_IP)", "UNKNOWN": "$(NOPE)",
	}
	if !maps.Equal(got, want) {
		t.Errorf("env:\n got  %v\n want %v", got, want)
	}
	if got := expandArgs([]string{"--cluster-announce-ip $(POD_IP)"}, got); got[0] != "--cluster-announce-ip 10.244.0.7" {
		t.Errorf("expandArgs: got %q", got[0])
	}
}

func TestContainerEnvErrors(t *testing.T) {
	objs := fakeObjects{cms: map[string]map[string]string{"cfg": {"a": "b"}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	tests := []struct {
		name string
		env  corev1.EnvVar
		want string
	}{
		{"missing secret", corev1.EnvVar{Name: "S", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}}, `env S: secret nope`},
		{"missing key", corev1.EnvVar{Name: "C", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "zz"}}}, `env C: configmap cfg has no key "zz"`},
		{"bad field", corev1.EnvVar{Name: "F", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nope"}}}, `env F:`},
	}
	for _, tt := range tests {
		_, err := containerEnv(pod, &corev1.Container{Env: []corev1.EnvVar{tt.env}}, Image{}, podRuntime{}, objs)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error starting %q", tt.name, err, tt.want)
		}
	}
}
