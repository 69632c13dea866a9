package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/proc"
)

// apiObjects reads ConfigMaps and Secrets straight from the API server, so a
// pod created right after its ConfigMap never sees a stale cache.
type apiObjects struct {
	ctx    context.Context
	client kubernetes.Interface
}

func (o apiObjects) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	return o.client.CoreV1().ConfigMaps(ns).Get(o.ctx, name, metav1.GetOptions{})
}

func (o apiObjects) Secret(ns, name string) (*corev1.Secret, error) {
	return o.client.CoreV1().Secrets(ns).Get(o.ctx, name, metav1.GetOptions{})
}

// errVolumeNotReady marks a volume that cannot be set up yet (a claim not
// bound yet); the pod stays in ContainerCreating and the kubelet retries.
type errVolumeNotReady struct{ msg string }

func (e *errVolumeNotReady) Error() string { return e.msg }

// prepareVolumes makes every pod volume a host directory and returns their
// paths by volume name. Content volumes (configMap, secret, downwardAPI,
// projected) are written at pod start; refreshContent keeps configMap and
// secret volumes up to date afterwards, as the kubelet does.
func prepareVolumes(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, rt podRuntime, podDir string) (map[string]string, error) {
	objs := apiObjects{ctx: ctx, client: client}
	paths := make(map[string]string, len(pod.Spec.Volumes))
	for _, v := range pod.Spec.Volumes {
		dir := filepath.Join(podDir, "volumes", v.Name)
		var err error
		switch {
		case v.EmptyDir != nil:
			err = os.MkdirAll(dir, 0o777)
		case v.HostPath != nil:
			dir = v.HostPath.Path
		case v.PersistentVolumeClaim != nil:
			dir, err = claimPath(ctx, client, pod.Namespace, v.PersistentVolumeClaim.ClaimName)
		case v.ConfigMap != nil:
			err = writeFiles(dir, configMapFiles(objs, pod.Namespace, v.ConfigMap.LocalObjectReference.Name, v.ConfigMap.Items, v.ConfigMap.Optional), v.ConfigMap.DefaultMode)
		case v.Secret != nil:
			err = writeFiles(dir, secretFiles(objs, pod.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional), v.Secret.DefaultMode)
		case v.DownwardAPI != nil:
			err = writeFiles(dir, downwardFiles(pod, v.DownwardAPI.Items, rt), v.DownwardAPI.DefaultMode)
		case v.Projected != nil:
			err = writeFiles(dir, projectedFiles(ctx, client, objs, pod, v.Projected, rt), v.Projected.DefaultMode)
		default:
			err = fmt.Errorf("volume type not supported by the sandbox")
		}
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		paths[v.Name] = dir
	}
	return paths, nil
}

// claimPath follows a claim to its bound PersistentVolume's directory.
func claimPath(ctx context.Context, client kubernetes.Interface, ns, claim string) (string, error) {
	pvc, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", &errVolumeNotReady{fmt.Sprintf("persistentvolumeclaim %q not found", claim)}
	}
	if err != nil {
		return "", err
	}
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
		return "", &errVolumeNotReady{fmt.Sprintf("persistentvolumeclaim %q is not bound yet", claim)}
	}
	pv, err := client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("persistentvolume %s: %w", pvc.Spec.VolumeName, err)
	}
	switch {
	case pv.Spec.HostPath != nil:
		return pv.Spec.HostPath.Path, os.MkdirAll(pv.Spec.HostPath.Path, 0o777)
	case pv.Spec.Local != nil:
		return pv.Spec.Local.Path, nil
	}
	return "", fmt.Errorf("persistentvolume %s: only hostPath and local volumes can be mounted in the sandbox", pv.Name)
}

// file is one file of a content volume; a nil files func result with err
// set fails the volume.
type file struct {
	path string
	data []byte
	mode *int32
}

type fileSource func() ([]file, error)

func writeFiles(dir string, src fileSource, defaultMode *int32) error {
	files, err := src()
	if err != nil {
		return err
	}
	_, err = writeAtomic(dir, files, defaultMode)
	return err
}

// keyFiles picks items (key to path) from data, or every key when items is empty.
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, what string) ([]file, error) {
	if len(items) == 0 {
		files := make([]file, 0, len(data))
		for k, v := range data {
			files = append(files, file{path: k, data: v})
		}
		return files, nil
	}
	files := make([]file, 0, len(items))
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			return nil, fmt.Errorf("%s has no key %q", what, it.Key)
		}
		files = append(files, file{path: it.Path, data: v, mode: it.Mode})
	}
	return files, nil
}

func configMapFiles(objs objects, ns, name string, items []corev1.KeyToPath, optional *bool) fileSource {
	return func() ([]file, error) {
		cm, err := objs.ConfigMap(ns, name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional != nil && *optional {
				return nil, nil
			}
			return nil, fmt.Errorf("configmap %s: %w", name, err)
		}
		data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
		for k, v := range cm.Data {
			data[k] = []byte(v)
		}
		for k, v := range cm.BinaryData {
			data[k] = v
		}
		return keyFiles(data, items, "configmap "+name)
	}
}

func secretFiles(objs objects, ns, name string, items []corev1.KeyToPath, optional *bool) fileSource {
	return func() ([]file, error) {
		s, err := objs.Secret(ns, name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional != nil && *optional {
				return nil, nil
			}
			return nil, fmt.Errorf("secret %s: %w", name, err)
		}
		return keyFiles(s.Data, items, "secret "+name)
	}
}

func downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, rt podRuntime) fileSource {
	return func() ([]file, error) {
		files := make([]file, 0, len(items))
		for _, it := range items {
			var v string
			switch {
			case it.FieldRef != nil:
				var err error
				if v, err = podField(pod, it.FieldRef.FieldPath, rt); err != nil {
					return nil, fmt.Errorf("downwardAPI %s: %w", it.Path, err)
				}
			case it.ResourceFieldRef != nil:
				for i := range pod.Spec.Containers {
					if pod.Spec.Containers[i].Name == it.ResourceFieldRef.ContainerName || it.ResourceFieldRef.ContainerName == "" {
						v = resourceField(&pod.Spec.Containers[i], it.ResourceFieldRef)
						break
					}
				}
			}
			files = append(files, file{path: it.Path, data: []byte(v), mode: it.Mode})
		}
		return files, nil
	}
}

// projectedFiles covers the kube-api-access volume every pod gets from the
// ServiceAccount admission plugin: a bound token, the cluster CA and the
// namespace.
func projectedFiles(ctx context.Context, client kubernetes.Interface, objs objects, pod *corev1.Pod, p *corev1.ProjectedVolumeSource, rt podRuntime) fileSource {
	return func() ([]file, error) {
		var all []file
		for _, s := range p.Sources {
			var src fileSource
			switch {
			case s.ConfigMap != nil:
				src = configMapFiles(objs, pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional)
			case s.Secret != nil:
				src = secretFiles(objs, pod.Namespace, s.Secret.Name, s.Secret.Items, s.Secret.Optional)
			case s.DownwardAPI != nil:
				src = downwardFiles(pod, s.DownwardAPI.Items, rt)
			case s.ServiceAccountToken != nil:
				src = tokenFile(ctx, client, pod, s.ServiceAccountToken)
			default:
				continue
			}
			files, err := src()
			if err != nil {
				return nil, err
			}
			all = append(all, files...)
		}
		return all, nil
	}
}

func tokenFile(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, t *corev1.ServiceAccountTokenProjection) fileSource {
	return func() ([]file, error) {
		sa := pod.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: t.ExpirationSeconds,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		}}
		if t.Audience != "" {
			req.Spec.Audiences = []string{t.Audience}
		}
		tr, err := client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("token for serviceaccount %s: %w", sa, err)
		}
		return []file{{path: t.Path, data: []byte(tr.Status.Token)}}, nil
	}
}

// containerMounts turns a container's volumeMounts into bind mounts.
func containerMounts(c *corev1.Container, volumes map[string]string) ([]proc.Mount, error) {
	mounts := make([]proc.Mount, 0, len(c.VolumeMounts))
	for _, vm := range c.VolumeMounts {
		host, ok := volumes[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %s: no volume named %q", vm.MountPath, vm.Name)
		}
		if vm.SubPath != "" {
			if strings.Contains(vm.SubPath, "..") || filepath.IsAbs(vm.SubPath) {
				return nil, fmt.Errorf("volumeMount %s: invalid subPath %q", vm.MountPath, vm.SubPath)
			}
			host = filepath.Join(host, vm.SubPath)
			if _, err := os.Stat(host); os.IsNotExist(err) {
				if err := os.MkdirAll(host, 0o777); err != nil {
					return nil, err
				}
			}
		}
		mounts = append(mounts, proc.Mount{HostPath: host, ContainerPath: vm.MountPath, ReadOnly: vm.ReadOnly})
	}
	return mounts, nil
}
