package kube

import (
	"fmt"
	"sort"
	"strings"
)

// TemplateChange says why every pod of a StatefulSet restarts when changes
// are applied: its pod template changes (image, resources, probes ...; the
// StatefulSet is OnDelete, so the reconciler rolls the pods one at a
// time). "" when no change touches spec.template.
func TemplateChange(changes []Change) string {
	var paths []string
	for _, c := range changes {
		if c.Object.Kind != "StatefulSet" || c.Action == Unchanged || c.Action == Pruned {
			continue
		}
		for _, f := range c.Fields {
			if strings.HasPrefix(f.Path, "spec.template.") {
				paths = append(paths, strings.TrimPrefix(f.Path, "spec.template."))
			}
		}
	}
	if len(paths) == 0 {
		return ""
	}
	sort.Strings(paths)
	const most = 3
	if len(paths) > most {
		paths = append(paths[:most], fmt.Sprintf("%d more", len(paths)-most))
	}
	return "its pod template changes (" + strings.Join(paths, ", ") + ")"
}

// CompareRendered is what applying head's objects would change if base's
// were live: the plan of a change between two revisions without a
// Kubernetes API to ask (an offline plan). Server defaults are absent on
// both sides, so only fields the specs set show up. Objects only in head
// are created, objects only in base pruned.
func CompareRendered(base, head []any) ([]Change, error) {
	before := map[ObjectRef]map[string]any{}
	var order []ObjectRef
	for _, o := range base {
		u, err := toUnstructured(o)
		if err != nil {
			return nil, err
		}
		ref := ObjectRef{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
		before[ref] = u.Object
		order = append(order, ref)
	}
	var out []Change
	seen := map[ObjectRef]bool{}
	for _, o := range head {
		u, err := toUnstructured(o)
		if err != nil {
			return nil, err
		}
		ref := ObjectRef{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
		seen[ref] = true
		old, ok := before[ref]
		switch {
		case !ok:
			out = append(out, Change{Object: ref, Action: Created})
		default:
			if fields := Diff(old, u.Object); len(fields) > 0 {
				out = append(out, Change{Object: ref, Action: Configured, Fields: fields})
			} else {
				out = append(out, Change{Object: ref, Action: Unchanged})
			}
		}
	}
	for _, ref := range order {
		if !seen[ref] {
			out = append(out, Change{Object: ref, Action: Pruned, Reason: "no longer rendered for the cluster"})
		}
	}
	return out, nil
}
