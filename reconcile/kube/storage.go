package kube

import (
	"context"
	"fmt"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
)

// expandClaims grows the PVCs of a StatefulSet's existing pods to the size of
// its volumeClaimTemplates where their StorageClass allows volume expansion,
// and warns where it does not (or where the spec asks for less: PVCs never
// shrink).
func (a *Applier) expandClaims(ctx context.Context, sts *unstructured.Unstructured, dryRun bool) ([]Change, []string, error) {
	templates, _, _ := unstructured.NestedSlice(sts.Object, "spec", "volumeClaimTemplates")
	var changes []Change
	var warnings []string
	ns := sts.GetNamespace()
	var claims *corev1.PersistentVolumeClaimList
	for _, t := range templates {
		tm, _ := t.(map[string]any)
		tname, _, _ := unstructured.NestedString(tm, "metadata", "name")
		sizeStr, _, _ := unstructured.NestedString(tm, "spec", "resources", "requests", "storage")
		want, err := resource.ParseQuantity(sizeStr)
		if tname == "" || err != nil {
			continue
		}
		if claims == nil {
			if claims, err = a.Client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{}); err != nil {
				return nil, nil, fmt.Errorf("list claims: %w", err)
			}
		}
		owned := regexp.MustCompile("^" + regexp.QuoteMeta(tname+"-"+sts.GetName()+"-") + "[0-9]+$")
		for _, pvc := range claims.Items {
			if !owned.MatchString(pvc.Name) {
				continue
			}
			have := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
			switch cmp := want.Cmp(have); {
			case cmp == 0:
				continue
			case cmp < 0:
				warnings = append(warnings, fmt.Sprintf("PersistentVolumeClaim %s/%s requests %s and the spec asks %s: volumes never shrink; only new claims get %s",
					ns, pvc.Name, have.String(), want.String(), want.String()))
				continue
			}
			ref := ObjectRef{Kind: "PersistentVolumeClaim", Namespace: ns, Name: pvc.Name}
			ok, why, err := a.expandable(ctx, &pvc)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				warnings = append(warnings, fmt.Sprintf("PersistentVolumeClaim %s/%s stays at %s (spec: %s): %s", ns, pvc.Name, have.String(), want.String(), why))
				continue
			}
			change := Change{Object: ref, Action: Expanded, Applied: !dryRun,
				Fields: []FieldDiff{{Path: "spec.resources.requests.storage", Live: have.String(), Desired: want.String()}}}
			if !dryRun {
				ac := corev1ac.PersistentVolumeClaim(pvc.Name, ns).WithSpec(corev1ac.PersistentVolumeClaimSpec().
					WithResources(corev1ac.VolumeResourceRequirements().WithRequests(corev1.ResourceList{corev1.ResourceStorage: want})))
				err := a.retry(ctx, func() error {
					_, err := a.Client.CoreV1().PersistentVolumeClaims(ns).Apply(ctx, ac, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
					return err
				})
				if err != nil {
					return nil, nil, fmt.Errorf("expand %s: %w", ref, err)
				}
			}
			changes = append(changes, change)
		}
	}
	return changes, warnings, nil
}

// expandable tells whether a claim's StorageClass allows expansion, and why not.
func (a *Applier) expandable(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (bool, string, error) {
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "" {
		return false, "the claim has no StorageClass, so it cannot be expanded", nil
	}
	sc, err := a.Client.StorageV1().StorageClasses().Get(ctx, *pvc.Spec.StorageClassName, metav1.GetOptions{})
	if err != nil {
		return false, "", fmt.Errorf("storageclass %s: %w", *pvc.Spec.StorageClassName, err)
	}
	if sc.AllowVolumeExpansion == nil || !*sc.AllowVolumeExpansion {
		return false, fmt.Sprintf("StorageClass %s does not allow volume expansion", sc.Name), nil
	}
	return true, "", nil
}
