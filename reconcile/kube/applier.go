package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// FieldManager is the one server-side apply field manager the project
// writes with (invariant 4).
const FieldManager = "redis-gitops"

// Action says what happened, or would happen, to one object.
type Action string

// Actions, in the words the report and the pull-request plan use.
const (
	Created    Action = "create"
	Configured Action = "configure"
	Unchanged  Action = "unchanged"
	Recreated  Action = "recreate" // deleted with orphaned pods and created again
	Pruned     Action = "prune"
	Expanded   Action = "expand" // a PVC grown in place
)

// ObjectRef names an object.
type ObjectRef struct {
	Kind      string `json:"kind" yaml:"kind"`
	Namespace string `json:"namespace" yaml:"namespace"`
	Name      string `json:"name" yaml:"name"`
}

func (r ObjectRef) String() string { return r.Kind + " " + r.Namespace + "/" + r.Name }

// Change is the outcome for one object.
type Change struct {
	Object ObjectRef `json:"object" yaml:"object"`
	Action Action    `json:"action" yaml:"action"`
	// Fields the apply changes (for configure), with their live values.
	Fields []FieldDiff `json:"fields,omitempty" yaml:"fields,omitempty"`
	// Reason explains recreate, prune and anything refused.
	Reason string `json:"reason,omitempty" yaml:"reason,omitempty"`
	// Applied is false when the change was only planned (dry run, drift:
	// report).
	Applied bool `json:"applied" yaml:"applied"`
}

// Drift is a managed field whose live value someone other than redis-gitops
// set: a `kubectl edit`, another controller.
type Drift struct {
	Object ObjectRef `json:"object" yaml:"object"`
	FieldDiff
}

// Result is what one Apply did and found.
type Result struct {
	Changes []Change `json:"changes" yaml:"changes"`
	Drift   []Drift  `json:"drift,omitempty" yaml:"drift,omitempty"`
	// Warnings are things the user should know and act on (a PVC that
	// cannot grow, for example).
	Warnings []string `json:"warnings,omitempty" yaml:"warnings,omitempty"`
}

// Writes counts the changes that wrote to the API server.
func (r Result) Writes() int {
	n := 0
	for _, c := range r.Changes {
		if c.Applied && c.Action != Unchanged {
			n++
		}
	}
	return n
}

// Options for one Apply.
type Options struct {
	// DryRun plans without writing (drift: report, pull-request plans).
	DryRun bool
	// Selector finds every object the project made for this cluster, for
	// pruning: objects that match but are not rendered any more are deleted.
	// Empty disables pruning.
	Selector string
}

// Applier server-side applies rendered objects.
type Applier struct {
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	Log     *slog.Logger
	// Backoff for transient API errors (timeouts, 429, 5xx, refused
	// connections). Default: 5 tries from 500 ms, doubling.
	Backoff wait.Backoff
}

// kinds the project renders and may prune, in apply order.
var kinds = []struct {
	kind string
	gvr  schema.GroupVersionResource
}{
	{"ConfigMap", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}},
	{"Service", schema.GroupVersionResource{Version: "v1", Resource: "services"}},
	{"PodDisruptionBudget", schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}},
	{"StatefulSet", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}},
}

func gvrFor(kind string) (schema.GroupVersionResource, bool) {
	for _, k := range kinds {
		if k.kind == kind {
			return k.gvr, true
		}
	}
	return schema.GroupVersionResource{}, false
}

// toUnstructured encodes a typed apply configuration (or any object that
// marshals to a Kubernetes object) for the dynamic client.
func toUnstructured(obj any) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return u, nil
}

// Apply makes the live objects match objs (typed apply configurations, in
// order), and with opts.Selector prunes what is no longer rendered. For each
// object it first applies with dryRun=All and compares the result with the
// live object: only an object that would change is written, so a pass with
// nothing to change makes no write (invariant 7).
func (a *Applier) Apply(ctx context.Context, objs []any, opts Options) (Result, error) {
	var res Result
	rendered := map[ObjectRef]bool{}
	namespace := ""
	for _, obj := range objs {
		u, err := toUnstructured(obj)
		if err != nil {
			return res, fmt.Errorf("encode %T: %w", obj, err)
		}
		ref := ObjectRef{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
		rendered[ref] = true
		namespace = ref.Namespace
		change, drift, err := a.applyOne(ctx, u, opts)
		if err != nil {
			return res, fmt.Errorf("apply %s: %w", ref, err)
		}
		res.Changes = append(res.Changes, change)
		res.Drift = append(res.Drift, drift...)
		if ref.Kind == "StatefulSet" {
			// The claims of existing pods do not follow the template: grow
			// them where the StorageClass allows it.
			expanded, warnings, err := a.expandClaims(ctx, u, opts.DryRun)
			if err != nil {
				return res, fmt.Errorf("expand claims of %s: %w", ref, err)
			}
			res.Changes = append(res.Changes, expanded...)
			res.Warnings = append(res.Warnings, warnings...)
		}
	}
	if opts.Selector != "" && namespace != "" {
		pruned, err := a.prune(ctx, namespace, opts.Selector, rendered, opts.DryRun)
		res.Changes = append(res.Changes, pruned...)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// applyOne plans one object with a dry run and writes it when it changes.
func (a *Applier) applyOne(ctx context.Context, u *unstructured.Unstructured, opts Options) (Change, []Drift, error) {
	ref := ObjectRef{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
	gvr, ok := gvrFor(ref.Kind)
	if !ok {
		return Change{}, nil, fmt.Errorf("kind %s is not one the project manages", ref.Kind)
	}
	res := a.Dynamic.Resource(gvr).Namespace(ref.Namespace)
	var live *unstructured.Unstructured
	err := a.retry(ctx, func() (err error) {
		live, err = res.Get(ctx, ref.Name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		live = nil
	} else if err != nil {
		return Change{}, nil, fmt.Errorf("get: %w", err)
	}

	planned, err := a.patch(ctx, res, u, true)
	if err != nil {
		if ref.Kind == "StatefulSet" && live != nil && isImmutableChange(err) {
			return a.recreateStatefulSet(ctx, res, u, live, err, opts)
		}
		return Change{}, nil, fmt.Errorf("dry run: %w", err)
	}
	if live == nil {
		change := Change{Object: ref, Action: Created, Applied: !opts.DryRun}
		if opts.DryRun {
			return change, nil, nil
		}
		if _, err := a.patch(ctx, res, u, false); err != nil {
			return Change{}, nil, err
		}
		return change, nil, nil
	}

	diffs := Diff(live.Object, planned.Object)
	attributeManagers(diffs, live.Object, live.GetManagedFields())
	var drift []Drift
	for _, d := range diffs {
		if isDrift(d) {
			drift = append(drift, Drift{Object: ref, FieldDiff: d})
		}
	}
	if len(diffs) == 0 {
		return Change{Object: ref, Action: Unchanged}, nil, nil
	}
	change := Change{Object: ref, Action: Configured, Fields: diffs, Applied: !opts.DryRun}
	if !opts.DryRun {
		if _, err := a.patch(ctx, res, u, false); err != nil {
			return Change{}, nil, err
		}
	}
	return change, drift, nil
}

// isDrift: a field differs and someone other than redis-gitops owns the live
// value. A field only redis-gitops owns differs because Git changed.
func isDrift(d FieldDiff) bool {
	for _, m := range d.Managers {
		if m != FieldManager {
			return true
		}
	}
	return false
}

// patch sends a server-side apply, forced: redis-gitops is the one writer of
// the fields it renders, so conflicting owners (a `kubectl edit`) lose them.
func (a *Applier) patch(ctx context.Context, res dynamic.ResourceInterface, u *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	data, err := u.MarshalJSON()
	if err != nil {
		return nil, err
	}
	force := true
	po := metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	if dryRun {
		po.DryRun = []string{metav1.DryRunAll}
	}
	var out *unstructured.Unstructured
	err = a.retry(ctx, func() (err error) {
		out, err = res.Patch(ctx, u.GetName(), types.ApplyPatchType, data, po)
		return err
	})
	return out, err
}

// retry runs f again on transient errors with backoff.
func (a *Applier) retry(ctx context.Context, f func() error) error {
	b := a.Backoff
	if b.Steps == 0 {
		b = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Steps: 5, Jitter: 0.1}
	}
	var last error
	for {
		last = f()
		if last == nil || !transient(last) {
			return last
		}
		if b.Steps <= 1 {
			return last
		}
		d := b.Step()
		if a.Log != nil {
			a.Log.Warn("kubernetes api: retrying", "err", last, "in", d)
		}
		select {
		case <-ctx.Done():
			return errors.Join(last, ctx.Err())
		case <-time.After(d):
		}
	}
}

func transient(err error) bool {
	if apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF")
}

// RefOf names a rendered object (a typed apply configuration); the zero
// ObjectRef when it does not encode.
func RefOf(obj any) ObjectRef {
	u, err := toUnstructured(obj)
	if err != nil {
		return ObjectRef{}
	}
	return ObjectRef{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}
