package report

import (
	"os"
	"testing"
)

// Invariant 10: a status commit carries news. Each case edits a committed
// golden document as a later pass would see the cluster; only a change of
// a reading that moves with client traffic is not news.
func TestChangedIgnoresReadings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		golden string
		edit   func(r *Report)
		news   bool
	}{
		{"nothing", "converged", func(*Report) {}, false},
		{"a master's key count", "converged", func(r *Report) { r.Topology.Masters[0].Keys += 5000 }, false},
		{"every master's key count", "converged", func(r *Report) {
			for i := range r.Topology.Masters {
				r.Topology.Masters[i].Keys = 0
			}
		}, false},
		{"an unassigned node's key count", "blocked-bootstrap", func(r *Report) { r.Topology.Unassigned[1].Keys = 42 }, false},
		{"a migration's keys, rate and time", "migration-stopped", func(r *Report) {
			r.Migration.KeysMoved, r.Migration.KeysPerSecond, r.Migration.Elapsed = 9000, 3000, "3.1s"
		}, false},
		{"a planned move's key estimate", "migration-stopped", func(r *Report) {
			r.Actions[0] = "move-slots cache-1 -> cache-6 1365 slots (5461-6825), ~20480 keys: rebalance: cache-1 holds more than an even share, cache-6 less"
		}, false},
		{"a stalled condition appears", "converged", func(r *Report) {
			r.Conditions[3] = Condition{Type: Stalled, Status: True, Reason: ReasonTopologyBlocked,
				Message: "scale-in refused before any key moved: cache-3 hold 812.4 MiB, and the 3 remaining masters have 20 bytes free below 90% of maxmemory"}
		}, true}, // TestChangedIgnoresSizesInMessages changes only its sizes

		{"a master's role", "converged", func(r *Report) {
			m := &r.Topology.Masters[0]
			rep := m.Replicas[0]
			m.Pod, m.Node, m.Zone, m.ID, m.Replicas[0].Pod, m.Replicas[0].Node, m.Replicas[0].Zone, m.Replicas[0].ID = rep.Pod, rep.Node, rep.Zone, rep.ID, m.Pod, m.Node, m.Zone, m.ID
		}, true},
		{"a replica's placement", "converged", func(r *Report) { r.Topology.Masters[1].Replicas[0].Node = "c" }, true},
		{"a master's slots", "converged", func(r *Report) { r.Topology.Masters[0].Slots = []string{"0-5000"} }, true},
		{"a replica's link", "converged", func(r *Report) { r.Topology.Masters[2].Replicas[0].Linked = false }, true},
		{"nodes answering", "converged", func(r *Report) { r.Topology.Answering = 5 }, true},
		{"a condition", "converged", func(r *Report) { r.Conditions[2].Status, r.Conditions[2].Reason = True, ReasonDriftDetected }, true},
		{"drift", "converged", func(r *Report) {
			r.Drift = append(r.Drift, DriftEntry{Source: SourceRedis, Kind: "setting", Subject: "cache-0", Path: "maxmemory", Live: "100mb", Desired: "200mb"})
		}, true},
		{"a drift's live value", "drift", func(r *Report) { r.Drift[0].Live += "-rc1" }, true},
		{"the revision", "converged", func(r *Report) { r.ObservedRevision = "5e3b0d2" }, true},
		{"a migration's progress", "migration-stopped", func(r *Report) { r.Migration.SlotsMoved++ }, true},
		{"a new action", "converged", func(r *Report) { r.Actions = []string{"failover cache-5 (takes over from cache-0)"} }, true},
		{"a warning", "converged", func(r *Report) { r.Warnings = []string{"password not checked on cache-2: pod is Pending"} }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			committed, err := os.ReadFile("testdata/" + tc.golden + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			r, err := Parse(committed)
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(&r)
			next, err := r.YAML()
			if err != nil {
				t.Fatal(err)
			}
			if got := Changed(committed, next); got != tc.news {
				t.Errorf("Changed = %v, want %v; the new document:\n%s", got, tc.news, next)
			}
		})
	}
}

// A refused scale-in's condition quotes sizes that move with every write:
// a later pass that finds only other sizes has no news.
func TestChangedIgnoresSizesInMessages(t *testing.T) {
	committed, err := os.ReadFile("testdata/migration-stopped.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse(committed)
	if err != nil {
		t.Fatal(err)
	}
	msg := func(hold, free string) string {
		return "scale-in refused before any key moved: cache-3 hold " + hold + ", and the 3 remaining masters have " + free + " free below 90% of maxmemory"
	}
	r.Errors = append(r.Errors, "topology: "+msg("812.4 MiB", "20 bytes"))
	before, err := r.YAML()
	if err != nil {
		t.Fatal(err)
	}
	r.Errors[len(r.Errors)-1] = "topology: " + msg("830.0 MiB", "0 bytes")
	after, err := r.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if Changed(before, after) {
		t.Errorf("Changed = true for sizes alone")
	}
	r.Errors[len(r.Errors)-1] = "topology: " + msg("830.0 MiB", "0 bytes") + "; raise maxmemory"
	if again, _ := r.YAML(); !Changed(before, again) {
		t.Errorf("Changed = false for a message that says more")
	}
}
