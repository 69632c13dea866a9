package reconcile_test

import (
	"strings"
	"testing"
)

// TestSettingsChangeAtRuntime: maxmemory changed in the spec reaches every
// node through CONFIG SET, with no pod restarted; the next pass finds
// nothing to set.
func TestSettingsChangeAtRuntime(t *testing.T) {
	h := newHarness(t, "settings")
	h.pass()
	before := map[string]string{}
	for name, p := range h.pods() {
		restarts := int32(0)
		for _, cs := range p.Status.ContainerStatuses {
			restarts += cs.RestartCount
		}
		before[name] = string(p.UID) + "/" + string(rune('0'+restarts))
	}
	if h.c.Spec.Redis.Config == nil {
		h.c.Spec.Redis.Config = map[string]string{}
	}
	h.c.Spec.Redis.Config["maxmemory"] = "100mb"
	h.c.Spec.Redis.Config["maxmemory-policy"] = "allkeys-lru"
	oc := h.pass()
	applied := 0
	for _, s := range oc.Topology.Settings {
		if s.Applied {
			applied++
		}
	}
	if applied != 12 {
		t.Errorf("%d settings applied at runtime, want 12 (2 on each of 6 nodes): %+v", applied, oc.Topology.Settings)
	}
	for name := range h.pods() {
		out := h.exec(name, "redis-cli", "config", "get", "maxmemory")
		if !strings.Contains(out, "104857600") {
			t.Errorf("%s: maxmemory %q, want 104857600", name, out)
		}
	}
	for name, p := range h.pods() {
		restarts := int32(0)
		for _, cs := range p.Status.ContainerStatuses {
			restarts += cs.RestartCount
		}
		if now := string(p.UID) + "/" + string(rune('0'+restarts)); now != before[name] {
			t.Errorf("%s restarted or was replaced: %s -> %s", name, before[name], now)
		}
	}
	if again := h.pass(); len(again.Topology.Settings) != 0 {
		t.Errorf("the next pass still finds settings to change: %+v", again.Topology.Settings)
	}
	h.check()
}
