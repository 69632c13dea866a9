package render_test

import (
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/spec"
)

// TestTogglingMonitoringRollsThePods: turning monitoring on or off
// changes the pod template, which is what the planner turns into one
// rolling restart (kube.TemplateChange, then topology.PlanRoll), and adds
// or prunes the metrics Service.
func TestTogglingMonitoringRollsThePods(t *testing.T) {
	cluster := func(on bool) []any {
		c := &spec.RedisCluster{
			APIVersion: spec.APIVersion, Kind: spec.Kind,
			Metadata: spec.Metadata{Name: "cache", Namespace: "prod"},
			Spec:     spec.ClusterSpec{Masters: 3, Monitoring: spec.Monitoring{Enabled: on}},
		}
		c.SetDefaults()
		if errs := c.Validate(); errs != nil {
			t.Fatal(errs)
		}
		objs, err := render.Render(c)
		if err != nil {
			t.Fatal(err)
		}
		return objs.All()
	}
	off, on := cluster(false), cluster(true)
	for _, tc := range []struct {
		name       string
		from, to   []any
		service    kube.Action
		wantInRoll string
	}{
		{"on", off, on, kube.Created, "containers"},
		{"off", on, off, kube.Pruned, "containers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changes, err := kube.CompareRendered(tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			why := kube.TemplateChange(changes)
			if !strings.Contains(why, tc.wantInRoll) {
				t.Errorf("TemplateChange = %q, want a roll for the pod template's %s", why, tc.wantInRoll)
			}
			var svc kube.Action
			for _, ch := range changes {
				if ch.Object.Kind == "Service" && ch.Object.Name == render.MetricsServiceName("cache") {
					svc = ch.Action
				}
			}
			if svc != tc.service {
				t.Errorf("metrics Service: %q, want %q", svc, tc.service)
			}
		})
	}
}
