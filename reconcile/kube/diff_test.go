package kube

import (
	"encoding/json"
	"reflect"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name          string
		live, desired string
		want          []string
	}{
		{"equal", `{"a":1,"b":{"c":"x"}}`, `{"a":1,"b":{"c":"x"}}`, nil},
		{"bookkeeping ignored", `{"metadata":{"resourceVersion":"1","managedFields":[1],"generation":1},"status":{"x":1}}`,
			`{"metadata":{"resourceVersion":"2","managedFields":[2],"generation":2},"status":{"x":2}}`, nil},
		{"scalar changed", `{"data":{"k":"a"}}`, `{"data":{"k":"b"}}`, []string{"data.k"}},
		{"field added and removed", `{"data":{"old":"a"}}`, `{"data":{"new":"b"}}`, []string{"data.new", "data.old"}},
		{"keyed list item by name", `{"spec":{"containers":[{"name":"redis","image":"redis:7.0"},{"name":"side","image":"x"}]}}`,
			`{"spec":{"containers":[{"name":"side","image":"x"},{"name":"redis","image":"redis:7.2"}]}}`,
			[]string{"spec.containers[name=redis].image"}},
		{"keyed list item added", `{"env":[{"name":"A","value":"1"}]}`, `{"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}`,
			[]string{"env[name=B]"}},
		{"ports keyed by containerPort", `{"ports":[{"containerPort":6379,"protocol":"TCP"}]}`, `{"ports":[{"containerPort":6379,"protocol":"UDP"}]}`,
			[]string{"ports[containerPort=6379].protocol"}},
		{"scalar list", `{"args":["a","b"]}`, `{"args":["a","c"]}`, []string{"args[1]"}},
		{"scalar list length", `{"args":["a"]}`, `{"args":["a","c"]}`, []string{"args"}},
		{"numbers of different types", `{"replicas":3}`, `{"replicas":3.0}`, nil},
	}
	for _, tt := range tests {
		var got []string
		for _, d := range Diff(obj(t, tt.live), obj(t, tt.desired)) {
			got = append(got, d.Path)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestAttributeManagers(t *testing.T) {
	live := obj(t, `{"data":{"policy":"allkeys-lru","port":"6379"},
		"spec":{"containers":[{"name":"redis","image":"redis:7.2","env":[{"name":"A","value":"1"}]}]}}`)
	desired := obj(t, `{"data":{"policy":"noeviction","port":"6379"},
		"spec":{"containers":[{"name":"redis","image":"redis:7.0","env":[{"name":"A","value":"2"}]}]}}`)
	managed := []metav1.ManagedFieldsEntry{
		{Manager: "redis-gitops", Operation: metav1.ManagedFieldsOperationApply, FieldsV1: &metav1.FieldsV1{Raw: []byte(
			`{"f:data":{"f:port":{}},"f:spec":{"f:containers":{"k:{\"name\":\"redis\"}":{".":{},"f:env":{"k:{\"name\":\"A\"}":{".":{},"f:name":{},"f:value":{}}}}}}}`)}},
		{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: &metav1.FieldsV1{Raw: []byte(
			`{"f:data":{"f:policy":{}},"f:spec":{"f:containers":{"k:{\"name\":\"redis\"}":{"f:image":{}}}}}`)}},
	}
	diffs := Diff(live, desired)
	attributeManagers(diffs, live, managed)
	got := map[string][]string{}
	for _, d := range diffs {
		got[d.Path] = d.Managers
	}
	want := map[string][]string{
		"data.policy":                                   {"kubectl-edit"},
		"spec.containers[name=redis].image":             {"kubectl-edit"},
		"spec.containers[name=redis].env[name=A].value": {"redis-gitops"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("managers:\n got  %v\n want %v", got, want)
	}
	for _, d := range diffs {
		if wantDrift := d.Path != "spec.containers[name=redis].env[name=A].value"; isDrift(d) != wantDrift {
			t.Errorf("%s: isDrift %v, want %v", d.Path, isDrift(d), wantDrift)
		}
	}
}

func TestIsImmutableChange(t *testing.T) {
	invalid := func(causes ...metav1.StatusCause) error {
		return &apierrors.StatusError{ErrStatus: metav1.Status{Reason: metav1.StatusReasonInvalid, Details: &metav1.StatusDetails{Causes: causes}}}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"1.37: field is immutable", invalid(metav1.StatusCause{Type: metav1.CauseTypeForbidden, Field: "spec.volumeClaimTemplates", Message: "field is immutable"}), true},
		{"older: updates to statefulset spec", invalid(metav1.StatusCause{Type: metav1.CauseTypeForbidden, Field: "spec", Message: "updates to statefulset spec for fields other than ... are forbidden"}), true},
		{"selector item", invalid(metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.selector.matchLabels", Message: "field is immutable"}), true},
		{"other invalid field", invalid(metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.replicas", Message: "must be >= 0"}), false},
		{"not invalid", apierrors.NewConflict(schema.GroupResource{Resource: "statefulsets"}, "x", nil), false},
	}
	for _, tt := range tests {
		if got := isImmutableChange(tt.err); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
