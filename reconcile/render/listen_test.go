package render

import (
	"testing"

	"github.com/redis-gitops/redis-gitops/reconcile/tlsplan"
)

// TestRenderAtStage: the stage of a switch goes into listen.conf only, so
// writing another stage into the ConfigMap changes no pod template (the
// config hash) and restarts no pod; and the stage reads back from it.
func TestRenderAtStage(t *testing.T) {
	c := tlsCluster(nil)
	want := mustRender(t, c)
	if got := TargetStage(c); got != tlsplan.Only {
		t.Errorf("target of spec.tls: %v", got)
	}
	for s := tlsplan.Off; s <= tlsplan.Only; s++ {
		objs, err := RenderAt(c, s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := objs.StatefulSet.Spec.Template.Annotations[AnnotationConfigHash], want.StatefulSet.Spec.Template.Annotations[AnnotationConfigHash]; got != want {
			t.Errorf("stage %v: config hash %s, want the target's %s", s, got, want)
		}
		if got, ok := StageOf(objs.ConfigMap.Data[ListenFileKey]); !ok || got != s {
			t.Errorf("stage %v reads back as %v (%v)", s, got, ok)
		}
	}
	c.Spec.TLS.PlaintextPort = true
	if got := TargetStage(c); got != tlsplan.Bus {
		t.Errorf("target with the plaintext port kept: %v", got)
	}
	plain := testCluster()
	if got := TargetStage(plain); got != tlsplan.Off {
		t.Errorf("target without spec.tls: %v", got)
	}
	if _, ok := mustRender(t, plain).ConfigMap.Data[ListenFileKey]; ok {
		t.Errorf("a cluster without spec.tls has a %s", ListenFileKey)
	}
	if _, ok := StageOf("port 6379\n"); ok {
		t.Errorf("a partial stage file read as a stage")
	}
}
