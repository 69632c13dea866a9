// Package kube applies a cluster's rendered objects to Kubernetes with
// server-side apply, and reports how the live objects differ from them.
package kube

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FieldDiff is one field whose live value differs from the desired one.
type FieldDiff struct {
	// Path reads like kubectl's JSONPath, with list items named by their
	// key where they have one: spec.template.spec.containers[name=redis].image.
	Path    string `json:"path" yaml:"path"`
	Live    any    `json:"live,omitempty" yaml:"live,omitempty"`
	Desired any    `json:"desired,omitempty" yaml:"desired,omitempty"`
	// Managers are the field managers that own the live value (from
	// metadata.managedFields); empty when no one does.
	Managers []string `json:"managers,omitempty" yaml:"managers,omitempty"`

	segs []segment
}

// segment is one step of a field path: a map key, or a list item found by
// key field (keyName=keyValue) or by index.
type segment struct {
	field   string
	keyName string
	keyVal  any
	index   int // -1 unless a list index
}

func (s segment) String() string {
	switch {
	case s.keyName != "":
		return fmt.Sprintf("[%s=%v]", s.keyName, s.keyVal)
	case s.index >= 0:
		return "[" + strconv.Itoa(s.index) + "]"
	}
	return s.field
}

func pathString(p []segment) string {
	var b strings.Builder
	for i, s := range p {
		if s.field != "" && i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.String())
	}
	return b.String()
}

// ignoredPaths are bookkeeping fields that differ on every write and are
// never drift.
var ignoredPaths = map[string]bool{
	"metadata.managedFields":     true,
	"metadata.resourceVersion":   true,
	"metadata.generation":        true,
	"metadata.creationTimestamp": true,
	"metadata.uid":               true,
	"status":                     true,
}

// listKeys are the fields that identify items of Kubernetes' associative
// lists, in the order they are tried.
var listKeys = []string{"name", "mountPath", "containerPort", "port", "key", "type", "topologyKey"}

// Diff returns the fields where live and desired differ. Both are full
// objects as the API returns them: desired is the dry-run result of applying
// the rendered object, so server defaults are the same on both sides and
// only fields the apply would change show up.
func Diff(live, desired map[string]any) []FieldDiff {
	var out []FieldDiff
	diffValue(nil, live, desired, &out, false)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// diffValue compares two decoded JSON values. With subset, only fields
// present in desired count (desired is a rendered object without defaults).
func diffValue(path []segment, live, desired any, out *[]FieldDiff, subset bool) {
	if ignoredPaths[pathString(path)] {
		return
	}
	lm, lok := live.(map[string]any)
	dm, dok := desired.(map[string]any)
	if lok && dok {
		keys := map[string]bool{}
		if !subset {
			for k := range lm {
				keys[k] = true
			}
		}
		for k := range dm {
			keys[k] = true
		}
		for k := range keys {
			diffValue(appendPath(path, segment{field: k, index: -1}), lm[k], dm[k], out, subset)
		}
		return
	}
	ll, lok := live.([]any)
	dl, dok := desired.([]any)
	if lok && dok {
		if key := commonKey(ll, dl); key != "" {
			diffKeyedList(path, key, ll, dl, out, subset)
			return
		}
		if len(ll) == len(dl) {
			for i := range ll {
				diffValue(appendPath(path, segment{index: i}), ll[i], dl[i], out, subset)
			}
			return
		}
	}
	if !equalJSON(live, desired) {
		*out = append(*out, FieldDiff{Path: pathString(path), Live: live, Desired: desired, segs: path})
	}
}

func diffKeyedList(path []segment, key string, live, desired []any, out *[]FieldDiff, subset bool) {
	index := func(l []any) (map[string]any, []string) {
		m := map[string]any{}
		var order []string
		for _, item := range l {
			k := fmt.Sprint(item.(map[string]any)[key])
			if _, dup := m[k]; !dup {
				order = append(order, k)
			}
			m[k] = item
		}
		return m, order
	}
	lm, lorder := index(live)
	dm, dorder := index(desired)
	seen := map[string]bool{}
	order := append(lorder, dorder...)
	if subset {
		order = dorder
	}
	for _, k := range order {
		if seen[k] {
			continue
		}
		seen[k] = true
		var kv any = k
		if item, ok := lm[k]; ok {
			kv = item.(map[string]any)[key]
		} else {
			kv = dm[k].(map[string]any)[key]
		}
		diffValue(appendPath(path, segment{keyName: key, keyVal: kv, index: -1}), lm[k], dm[k], out, subset)
	}
}

// commonKey is the first list key that every item of both lists has.
func commonKey(a, b []any) string {
	all := append(append([]any{}, a...), b...)
	if len(all) == 0 {
		return ""
	}
	for _, k := range listKeys {
		ok := true
		for _, item := range all {
			m, isMap := item.(map[string]any)
			if !isMap {
				return ""
			}
			if _, has := m[k]; !has {
				ok = false
				break
			}
		}
		if ok {
			return k
		}
	}
	return ""
}

func appendPath(p []segment, s segment) []segment {
	out := make([]segment, len(p), len(p)+1)
	copy(out, p)
	return append(out, s)
}

// equalJSON compares decoded JSON values, treating the numeric types that
// different decoders produce (int64, float64, json.Number) alike.
func equalJSON(a, b any) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case json.Number:
		f, _ := x.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			out[k] = normalize(v)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			out[i] = normalize(v)
		}
		return out
	}
	return v
}

// attributeManagers fills each diff's Managers from the live object's
// managedFields: the managers whose field set contains the live value.
func attributeManagers(diffs []FieldDiff, live map[string]any, managed []metav1.ManagedFieldsEntry) {
	for i := range diffs {
		for _, m := range managed {
			if m.FieldsV1 == nil {
				continue
			}
			var set map[string]any
			if err := json.Unmarshal(m.FieldsV1.Raw, &set); err != nil {
				continue
			}
			if owns(set, live, diffs[i].segs) && !contains(diffs[i].Managers, m.Manager) {
				diffs[i].Managers = append(diffs[i].Managers, m.Manager)
			}
		}
		sort.Strings(diffs[i].Managers)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// owns walks a fieldsV1 set (f:field, k:{key}, i:index, v:value nodes)
// along path, resolving list items against the live object.
func owns(set map[string]any, live any, path []segment) bool {
	node := set
	cur := live
	for _, s := range path {
		var next any
		var ok bool
		switch {
		case s.field != "":
			next, ok = node["f:"+s.field]
			if m, isMap := cur.(map[string]any); isMap {
				cur = m[s.field]
			} else {
				cur = nil
			}
		default:
			list, _ := cur.([]any)
			var item any
			for idx, it := range list {
				if (s.keyName != "" && matchesKey(it, s.keyName, s.keyVal)) || (s.keyName == "" && idx == s.index) {
					item = it
					break
				}
			}
			if item == nil {
				return false
			}
			next, ok = findItem(node, item, s.index)
			cur = item
		}
		if !ok {
			return false
		}
		if node, ok = next.(map[string]any); !ok {
			return false
		}
	}
	return true
}

func matchesKey(item any, key string, val any) bool {
	m, ok := item.(map[string]any)
	return ok && equalJSON(m[key], val)
}

// findItem finds the fieldsV1 node of a list item: k:{...} whose fields all
// equal the item's, v:<value> for sets of scalars, or i:<index>.
func findItem(node map[string]any, item any, index int) (any, bool) {
	for k, v := range node {
		switch {
		case strings.HasPrefix(k, "k:"):
			var keys map[string]any
			if json.Unmarshal([]byte(k[2:]), &keys) != nil {
				continue
			}
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			match := true
			for kk, kv := range keys {
				if !equalJSON(m[kk], kv) {
					match = false
					break
				}
			}
			if match {
				return v, true
			}
		case strings.HasPrefix(k, "v:"):
			var val any
			if json.Unmarshal([]byte(k[2:]), &val) == nil && equalJSON(val, item) {
				return v, true
			}
		case k == "i:"+strconv.Itoa(index):
			return v, true
		}
	}
	return nil, false
}
