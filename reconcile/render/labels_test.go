package render

import (
	"fmt"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/labels"
)

func TestLabelsOnEveryObject(t *testing.T) {
	c := testCluster()
	c.Metadata.Labels = map[string]string{
		"team":         "payments",
		LabelManagedBy: "helm",   // the project wins
		LabelCluster:   "other",  // the project wins
		LabelName:      "valkey", // the project wins
	}
	c.Metadata.Annotations = map[string]string{"owner": "payments@example.com"}
	objs := mustRender(t, c)

	want := map[string]string{
		LabelManagedBy: ManagedByValue,
		LabelCluster:   "cache",
		LabelName:      "redis",
		LabelInstance:  "cache",
		"team":         "payments",
	}
	check := func(what string, m map[string]any) {
		t.Helper()
		for k, v := range want {
			if got := get(m, "labels", k); got != v {
				t.Errorf("%s: label %s = %v, want %q", what, k, got, v)
			}
		}
		if get(m, "labels", LabelComponent) == nil {
			t.Errorf("%s: no %s label", what, LabelComponent)
		}
		if got := get(m, "annotations", "owner"); got != "payments@example.com" {
			t.Errorf("%s: annotation owner = %v, want the cluster's", what, got)
		}
	}
	for _, obj := range objs.All() {
		m := generic(t, obj)
		check(fmt.Sprintf("%s %s", m["kind"], get(m, "metadata", "name")), get(m, "metadata").(map[string]any))
	}
	sts := generic(t, objs.StatefulSet)
	tmpl := get(sts, "spec", "template", "metadata").(map[string]any)
	check("pod template", tmpl)
	if get(tmpl, "annotations", AnnotationConfigHash) == nil {
		t.Errorf("pod template lacks %s", AnnotationConfigHash)
	}

	// Claim templates are immutable: only the project's stable labels.
	vct := get(sts, "spec", "volumeClaimTemplates", 0, "metadata")
	if got := get(vct, "labels", "team"); got != nil {
		t.Errorf("volume claim template has the user's label team=%v; a label change would make the StatefulSet unappliable", got)
	}
	if got := get(vct, "annotations"); got != nil {
		t.Errorf("volume claim template has annotations %v", got)
	}
	if got := get(vct, "labels", LabelManagedBy); got != ManagedByValue {
		t.Errorf("volume claim template: %s = %v", LabelManagedBy, got)
	}
}

func TestSelectorsMatchPods(t *testing.T) {
	objs := mustRender(t, testCluster())
	pod := labels.Set(objs.StatefulSet.Spec.Template.Labels)
	if got, want := Selector("cache"), map[string]string{LabelCluster: "cache"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Selector = %v, want %v", got, want)
	}
	sel := map[string]map[string]string{
		"StatefulSet":         objs.StatefulSet.Spec.Selector.MatchLabels,
		"headless Service":    objs.HeadlessService.Spec.Selector,
		"client Service":      objs.ClientService.Spec.Selector,
		"PodDisruptionBudget": objs.PodDisruptionBudget.Spec.Selector.MatchLabels,
	}
	for what, s := range sel {
		if !reflect.DeepEqual(s, Selector("cache")) {
			t.Errorf("%s selector = %v, want Selector(name)", what, s)
		}
		if !labels.SelectorFromSet(s).Matches(pod) {
			t.Errorf("%s selector %v does not match the pods (%v)", what, s, pod)
		}
	}
}

func TestManagedSelector(t *testing.T) {
	got := ManagedSelector("cache")
	if want := "app.kubernetes.io/managed-by=redis-gitops,redis-gitops.dev/cluster=cache"; got != want {
		t.Errorf("ManagedSelector = %q, want %q", got, want)
	}
	sel, err := labels.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range mustRender(t, testCluster()).All() {
		m := generic(t, obj)
		l := labels.Set{}
		for k, v := range get(m, "metadata", "labels").(map[string]any) {
			l[k] = v.(string)
		}
		if !sel.Matches(l) {
			t.Errorf("%s does not match ManagedSelector", m["kind"])
		}
	}
	other, _ := labels.Parse(ManagedSelector("cache2"))
	if other.Matches(labels.Set(mustRender(t, testCluster()).StatefulSet.Labels)) {
		t.Error("ManagedSelector(cache2) matches cluster cache")
	}
}
