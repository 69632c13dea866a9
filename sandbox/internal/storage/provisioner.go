// Package storage is the sandbox's dynamic volume provisioner: a default
// StorageClass whose claims become directories under the sandbox dir, bound
// through real PersistentVolumes so the controller-manager's PV binder does
// the binding exactly as it would in a real cluster.
package storage

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

const (
	// ClassName is the name of the sandbox's default StorageClass.
	ClassName = "standard"
	// ProvisionerName is the provisioner the StorageClass names. The PV
	// controller stamps it on claims as volume.kubernetes.io/storage-provisioner.
	ProvisionerName = "sandbox.redis-gitops.dev/hostpath"

	annProvisionedBy    = "pv.kubernetes.io/provisioned-by"
	annStorageProvision = "volume.kubernetes.io/storage-provisioner"
	annDefaultClass     = "storageclass.kubernetes.io/is-default-class"
)

// Provisioner creates a hostPath PersistentVolume under Root for every claim
// of its class, and removes the directory when a Delete-policy volume is
// released.
type Provisioner struct {
	Client kubernetes.Interface
	// Root is where volume directories live: Root/<pv-name>.
	Root string
	Log  *slog.Logger
}

// EnsureClass creates the default StorageClass if it does not exist.
func (p *Provisioner) EnsureClass(ctx context.Context) error {
	mode := storagev1.VolumeBindingImmediate
	reclaim := corev1.PersistentVolumeReclaimDelete
	expand := true
	sc := &storagev1.StorageClass{
		ObjectMeta:           metav1.ObjectMeta{Name: ClassName, Annotations: map[string]string{annDefaultClass: "true"}},
		Provisioner:          ProvisionerName,
		ReclaimPolicy:        &reclaim,
		VolumeBindingMode:    &mode,
		AllowVolumeExpansion: &expand,
	}
	_, err := p.Client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create storageclass %s: %w", ClassName, err)
	}
	return nil
}

// Run provisions and deletes volumes until ctx ends.
func (p *Provisioner) Run(ctx context.Context) error {
	if err := os.MkdirAll(p.Root, 0o755); err != nil {
		return fmt.Errorf("create volume root: %w", err)
	}
	if err := p.EnsureClass(ctx); err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(p.Client, 5*time.Minute)
	claims := factory.Core().V1().PersistentVolumeClaims()
	volumes := factory.Core().V1().PersistentVolumes()
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer queue.ShutDown()

	enqueue := func(prefix string) func(obj any) {
		return func(obj any) {
			if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
				queue.Add(prefix + key)
			}
		}
	}
	handler := func(prefix string) cache.ResourceEventHandlerFuncs {
		return cache.ResourceEventHandlerFuncs{
			AddFunc:    enqueue(prefix),
			UpdateFunc: func(_, obj any) { enqueue(prefix)(obj) },
		}
	}
	if _, err := claims.Informer().AddEventHandler(handler("pvc/")); err != nil {
		return err
	}
	if _, err := volumes.Informer().AddEventHandler(handler("pv/")); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	factory.WaitForCacheSync(ctx.Done())

	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	for {
		item, quit := queue.Get()
		if quit {
			return nil
		}
		var err error
		switch {
		case len(item) > 4 && item[:4] == "pvc/":
			ns, name, _ := cache.SplitMetaNamespaceKey(item[4:])
			var pvc *corev1.PersistentVolumeClaim
			if pvc, err = claims.Lister().PersistentVolumeClaims(ns).Get(name); err == nil {
				err = p.provision(ctx, pvc)
				if err == nil {
					err = p.resize(ctx, pvc)
				}
			} else if apierrors.IsNotFound(err) {
				err = nil
			}
		case len(item) > 3 && item[:3] == "pv/":
			var pv *corev1.PersistentVolume
			if pv, err = volumes.Lister().Get(item[3:]); err == nil {
				err = p.reclaim(ctx, pv)
			} else if apierrors.IsNotFound(err) {
				err = nil
			}
		}
		if err != nil && ctx.Err() == nil {
			p.Log.Warn("storage", "item", item, "err", err)
			queue.AddRateLimited(item)
		} else {
			queue.Forget(item)
		}
		queue.Done(item)
	}
}

// provision creates the PV for a pending claim of our class. The PV's
// claimRef pre-binds it, so the PV controller binds exactly this pair.
func (p *Provisioner) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.VolumeName != "" {
		return nil
	}
	if pvc.Annotations[annStorageProvision] != ProvisionerName {
		return nil
	}
	name := "pvc-" + string(pvc.UID)
	path := filepath.Join(p.Root, name)
	if err := os.MkdirAll(path, 0o777); err != nil {
		return fmt.Errorf("create volume dir for %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	hostPathType := corev1.HostPathDirectoryOrCreate
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{annProvisionedBy: ProvisionerName}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              ClassName,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: path, Type: &hostPathType},
			},
		},
	}
	_, err := p.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create pv %s for %s/%s: %w", name, pvc.Namespace, pvc.Name, err)
	}
	if err == nil {
		p.Log.Info("provisioned volume", "pv", name, "claim", pvc.Namespace+"/"+pvc.Name, "path", path)
	}
	return nil
}

// resize is the sandbox's volume resizer: a directory has no size, so
// growing a bound claim of ours is recording the new capacity on the PV and
// in the claim's status, which is what a CSI resizer ends with.
func (p *Provisioner) resize(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Annotations[annStorageProvision] != ProvisionerName {
		return nil
	}
	want := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	have := pvc.Status.Capacity[corev1.ResourceStorage]
	if want.Cmp(have) <= 0 {
		return nil
	}
	pv, err := p.Client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("resize %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	if pv.Annotations[annProvisionedBy] != ProvisionerName {
		return nil
	}
	if cur := pv.Spec.Capacity[corev1.ResourceStorage]; want.Cmp(cur) > 0 {
		pv.Spec.Capacity[corev1.ResourceStorage] = want
		if _, err := p.Client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("resize pv %s: %w", pv.Name, err)
		}
	}
	pvc = pvc.DeepCopy()
	if pvc.Status.Capacity == nil {
		pvc.Status.Capacity = corev1.ResourceList{}
	}
	pvc.Status.Capacity[corev1.ResourceStorage] = want
	if _, err := p.Client.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("resize %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	p.Log.Info("resized volume", "claim", pvc.Namespace+"/"+pvc.Name, "size", want.String())
	return nil
}

// reclaim deletes the directory and the PV of a released Delete-policy volume
// that this provisioner made. Retain-policy volumes keep their data.
func (p *Provisioner) reclaim(ctx context.Context, pv *corev1.PersistentVolume) error {
	if pv.Annotations[annProvisionedBy] != ProvisionerName || pv.Status.Phase != corev1.VolumeReleased ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || pv.Spec.HostPath == nil {
		return nil
	}
	if filepath.Dir(pv.Spec.HostPath.Path) != filepath.Clean(p.Root) {
		return fmt.Errorf("pv %s: path %s is outside the volume root, not deleting", pv.Name, pv.Spec.HostPath.Path)
	}
	if err := os.RemoveAll(pv.Spec.HostPath.Path); err != nil {
		return fmt.Errorf("delete volume dir of pv %s: %w", pv.Name, err)
	}
	err := p.Client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pv %s: %w", pv.Name, err)
	}
	p.Log.Info("deleted released volume", "pv", pv.Name)
	return nil
}
