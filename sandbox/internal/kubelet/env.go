package kubelet

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/kubernetes/pkg/fieldpath"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
)

// objects is what env and volume resolution read from the API.
type objects interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// basePath is the PATH a container gets when its spec sets none, as the
// official images set it.
const basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// podRuntime is what the kubelet knows of a pod once it runs: the values the
// downward API and $(VAR) expansion need.
type podRuntime struct {
	PodIP  string
	HostIP string
	// APIServer is where pods reach the API server; invalid: nowhere.
	APIServer netip.AddrPort
}

// apiServerEnv is what the kubelet derives from the default/kubernetes
// Service for every container, whatever enableServiceLinks says: the
// Service's docker-links variables, with the address pods really reach
// (the sandbox has no ClusterIP routing) and the Service's port name
// "https".
func apiServerEnv(ap netip.AddrPort) map[string]string {
	if !ap.IsValid() {
		return nil
	}
	host, port := ap.Addr().String(), strconv.Itoa(int(ap.Port()))
	url := "tcp://" + ap.String()
	return map[string]string{
		"KUBERNETES_SERVICE_HOST":                host,
		"KUBERNETES_SERVICE_PORT":                port,
		"KUBERNETES_SERVICE_PORT_HTTPS":          port,
		"KUBERNETES_PORT":                        url,
		"KUBERNETES_PORT_" + port + "_TCP":       url,
		"KUBERNETES_PORT_" + port + "_TCP_PROTO": "tcp",
		"KUBERNETES_PORT_" + port + "_TCP_PORT":  port,
		"KUBERNETES_PORT_" + port + "_TCP_ADDR":  host,
	}
}

// containerEnv resolves a container's environment as the kubelet does:
// the image's PATH and the API server's service variables as defaults (a
// container may override them and refer to them with $(VAR)), then envFrom,
// then env in order, each value able to refer to earlier ones with $(VAR);
// fieldRef and resourceFieldRef from the pod, secretKeyRef and
// configMapKeyRef from the API.
func containerEnv(pod *corev1.Pod, c *corev1.Container, img Image, rt podRuntime, objs objects) (map[string]string, error) {
	env := map[string]string{"PATH": basePath, "HOSTNAME": pod.Name}
	if img.containerProgram() != "" {
		env["PATH"] = ProgramDir + ":" + basePath
	}
	for k, v := range apiServerEnv(rt.APIServer) {
		env[k] = v
	}
	for _, from := range c.EnvFrom {
		data, err := envFromSource(pod.Namespace, from, objs)
		if err != nil {
			return nil, err
		}
		for k, v := range data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = expansion.Expand(e.Value, expansion.MappingFuncFor(env))
			continue
		}
		v, ok, err := envValueFrom(pod, c, e, rt, objs)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			env[e.Name] = v
		}
	}
	return env, nil
}

func envFromSource(ns string, from corev1.EnvFromSource, objs objects) (map[string]string, error) {
	switch {
	case from.ConfigMapRef != nil:
		cm, err := objs.ConfigMap(ns, from.ConfigMapRef.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("envFrom configmap %s: %w", from.ConfigMapRef.Name, err)
		}
		return cm.Data, nil
	case from.SecretRef != nil:
		s, err := objs.Secret(ns, from.SecretRef.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && from.SecretRef.Optional != nil && *from.SecretRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("envFrom secret %s: %w", from.SecretRef.Name, err)
		}
		out := make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			out[k] = string(v)
		}
		return out, nil
	}
	return nil, nil
}

// envValueFrom resolves one valueFrom; ok is false for an optional reference
// that does not exist.
func envValueFrom(pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar, rt podRuntime, objs objects) (string, bool, error) {
	vf := e.ValueFrom
	switch {
	case vf.FieldRef != nil:
		v, err := podField(pod, vf.FieldRef.FieldPath, rt)
		return v, err == nil, err
	case vf.ResourceFieldRef != nil:
		return resourceField(c, vf.ResourceFieldRef), true, nil
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := objs.ConfigMap(pod.Namespace, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %s: %w", ref.Name, err)
		}
		v, ok := cm.Data[ref.Key]
		if !ok && !optional {
			return "", false, fmt.Errorf("configmap %s has no key %q", ref.Name, ref.Key)
		}
		return v, ok, nil
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, err := objs.Secret(pod.Namespace, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %s: %w", ref.Name, err)
		}
		v, ok := s.Data[ref.Key]
		if !ok && !optional {
			return "", false, fmt.Errorf("secret %s has no key %q", ref.Name, ref.Key)
		}
		return string(v), ok, nil
	}
	return "", false, fmt.Errorf("unsupported valueFrom")
}

// podField is the downward API: the fields a kubelet fills from what it
// knows at run time, and metadata through the shared fieldpath helper.
func podField(pod *corev1.Pod, path string, rt podRuntime) (string, error) {
	switch path {
	case "status.podIP":
		return rt.PodIP, nil
	case "status.podIPs":
		return rt.PodIP, nil
	case "status.hostIP", "status.hostIPs":
		return rt.HostIP, nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	}
	return fieldpath.ExtractFieldPathAsString(pod, path)
}

// resourceField gives requests/limits in the units Kubernetes would: CPU in
// whole cores (rounded up), memory in bytes.
func resourceField(c *corev1.Container, ref *corev1.ResourceFieldSelector) string {
	kind, name, _ := strings.Cut(ref.Resource, ".")
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		return "0"
	}
	if name == "cpu" {
		return fmt.Sprint((q.MilliValue() + 999) / 1000)
	}
	return fmt.Sprint(q.Value())
}

// expandArgs applies $(VAR) expansion to command and args, as the kubelet does.
func expandArgs(argv []string, env map[string]string) []string {
	mapping := expansion.MappingFuncFor(env)
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = expansion.Expand(a, mapping)
	}
	return out
}

// envList renders the environment as KEY=VALUE, sorted for stable output.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
