package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// immutableStatefulSetFields are the StatefulSet spec fields the API server
// refuses to update (apps/v1 validation allows only replicas, ordinals,
// template, updateStrategy, revisionHistoryLimit,
// persistentVolumeClaimRetentionPolicy and minReadySeconds).
var immutableStatefulSetFields = []string{"volumeClaimTemplates", "selector", "serviceName", "podManagementPolicy"}

// isImmutableChange recognises the dry-run error of an update to an
// immutable StatefulSet field, by its field path.
func isImmutableChange(err error) bool {
	if !apierrors.IsInvalid(err) {
		return false
	}
	status, ok := err.(apierrors.APIStatus)
	if !ok || status.Status().Details == nil {
		return false
	}
	for _, c := range status.Status().Details.Causes {
		// Before 1.37 one cause on "spec" listed the fields that may change;
		// 1.37 names each immutable field ("spec.volumeClaimTemplates:
		// field is immutable").
		if c.Field == "spec" && c.Type == metav1.CauseTypeForbidden && strings.Contains(c.Message, "updates to statefulset spec") {
			return true
		}
		for _, f := range immutableStatefulSetFields {
			if c.Field == "spec."+f || strings.HasPrefix(c.Field, "spec."+f+"[") || strings.HasPrefix(c.Field, "spec."+f+".") {
				return true
			}
		}
	}
	return false
}

// immutableDiffs names the immutable fields the rendered object changes,
// comparing only what it sets (the live object also carries defaults).
func immutableDiffs(live, rendered *unstructured.Unstructured) []FieldDiff {
	var out []FieldDiff
	for _, f := range immutableStatefulSetFields {
		want, found, _ := unstructured.NestedFieldNoCopy(rendered.Object, "spec", f)
		if !found {
			continue
		}
		have, _, _ := unstructured.NestedFieldNoCopy(live.Object, "spec", f)
		var diffs []FieldDiff
		diffValue([]segment{{field: "spec", index: -1}, {field: f, index: -1}}, have, want, &diffs, true)
		out = append(out, diffs...)
	}
	return out
}

// recreateStatefulSet replaces a StatefulSet whose immutable fields changed:
// it is deleted with orphan propagation, so its pods keep running and its
// PVCs stay, then created again; the new StatefulSet adopts the pods by
// their labels. No pod restarts.
func (a *Applier) recreateStatefulSet(ctx context.Context, res dynamic.ResourceInterface, u, live *unstructured.Unstructured, dryRunErr error, opts Options) (Change, []Drift, error) {
	ref := ObjectRef{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
	fields := immutableDiffs(live, u)
	var names []string
	for _, f := range fields {
		names = append(names, f.Path)
	}
	change := Change{
		Object: ref, Action: Recreated, Fields: fields, Applied: !opts.DryRun,
		Reason: fmt.Sprintf("immutable fields changed (%s): delete with orphaned pods and create again; no pod restarts, PVCs kept", strings.Join(names, ", ")),
	}
	if len(fields) == 0 {
		change.Reason = fmt.Sprintf("the API server refused the update as immutable (%v): delete with orphaned pods and create again", dryRunErr)
	}
	if opts.DryRun {
		return change, nil, nil
	}
	uid := live.GetUID()
	orphan := metav1.DeletePropagationOrphan
	err := a.retry(ctx, func() error {
		return res.Delete(ctx, ref.Name, metav1.DeleteOptions{PropagationPolicy: &orphan, Preconditions: &metav1.Preconditions{UID: &uid}})
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return Change{}, nil, fmt.Errorf("delete (orphan) for recreate: %w", err)
	}
	// The orphan finalizer runs in the garbage collector: wait until the
	// object is gone before creating its successor.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cur, err := res.Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && cur.GetUID() != uid) {
			break
		}
		if time.Now().After(deadline) {
			return Change{}, nil, fmt.Errorf("recreate: old StatefulSet still present after 2m (finalizers %v)", finalizers(cur))
		}
		select {
		case <-ctx.Done():
			return Change{}, nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if _, err := a.patch(ctx, res, u, false); err != nil {
		return Change{}, nil, fmt.Errorf("create after orphan delete: %w", err)
	}
	return change, nil, nil
}

func finalizers(u *unstructured.Unstructured) []string {
	if u == nil {
		return nil
	}
	return u.GetFinalizers()
}
