package converge

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/redis-gitops/redis-gitops/reconcile/rediserr"
	"github.com/redis-gitops/redis-gitops/reconcile/settings"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// SettingDiff is a declared redis.conf setting a node runs with another
// value.
type SettingDiff struct {
	Pod string `json:"pod" yaml:"pod"`
	settings.Diff
	// Applied: CONFIG SET changed it at runtime, no restart.
	Applied bool `json:"applied,omitempty" yaml:"applied,omitempty"`
	// NeedsRestart: Redis cannot change it at runtime; the new value is in
	// the ConfigMap and takes effect when the pod restarts.
	NeedsRestart bool `json:"needsRestart,omitempty" yaml:"needsRestart,omitempty"`
}

// ApplySettings reads the declared settings on every observed node (CONFIG
// GET) and, unless dryRun, sets those Redis can change at runtime (CONFIG
// SET). Which need a restart is decided from the table of the Redis
// major version (settings.NeedsRestart), before anything is set, so a plan
// and a dry run say the same as the pass.
func ApplySettings(ctx context.Context, dial Dialer, port, major int, o *topology.Observed, declared map[string]string, dryRun bool) ([]SettingDiff, error) {
	return ApplyNodeSettings(ctx, dial, port, major, o, func(*topology.Node) map[string]string { return declared }, dryRun)
}

// ApplyNodeSettings is ApplySettings with settings of each node's own
// (the address it announces, for one): ReadNodeSettings, then
// SetNodeSettings.
func ApplyNodeSettings(ctx context.Context, dial Dialer, port, major int, o *topology.Observed, declaredFor func(*topology.Node) map[string]string, dryRun bool) ([]SettingDiff, error) {
	diffs, err := ReadNodeSettings(ctx, dial, port, major, o, declaredFor)
	if err != nil || dryRun {
		return diffs, err
	}
	return SetNodeSettings(ctx, dial, port, o, diffs)
}

// ReadNodeSettings is the settings plan: every declared setting a node
// runs with another value, each marked NeedsRestart when Redis (of this
// major version) cannot change it at runtime. It only reads.
func ReadNodeSettings(ctx context.Context, dial Dialer, port, major int, o *topology.Observed, declaredFor func(*topology.Node) map[string]string) ([]SettingDiff, error) {
	if o == nil {
		return nil, nil
	}
	ex := &Executor{Dial: dial, Port: port}
	ids := o.NodeIDs()
	diffs := make([][]SettingDiff, len(ids))
	errs := make([]error, len(ids))
	g := new(errgroup.Group)
	g.SetLimit(askersInFlight)
	for i, id := range ids {
		n := o.Nodes[id]
		declared := declaredFor(n)
		if len(declared) == 0 {
			continue
		}
		keys := make([]string, 0, len(declared))
		for k := range declared {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		g.Go(func() error {
			errs[i] = ex.with(ctx, n, func(c Admin) error {
				args := []any{"CONFIG", "GET"}
				for _, k := range keys {
					args = append(args, k)
				}
				v, err := c.Do(ctx, args...)
				if err != nil {
					return err
				}
				for _, d := range settings.Compare(declared, ConfigMap(v)) {
					diffs[i] = append(diffs[i], SettingDiff{Pod: n.Pod.Name, Diff: d, NeedsRestart: settings.NeedsRestart(major, d.Key)})
				}
				return nil
			})
			return nil
		})
	}
	_ = g.Wait() // each node's error is in errs
	// In the nodes' order, up to the first that could not be read.
	var out []SettingDiff
	for i, id := range ids {
		if errs[i] != nil {
			return out, fmt.Errorf("settings of %s: %w", o.Nodes[id].Pod.Name, errs[i])
		}
		out = append(out, diffs[i]...)
	}
	return out, nil
}

// SetNodeSettings executes a settings plan: on each node, the settings
// that change at runtime in one CONFIG SET, which Redis applies all or
// nothing (a node never announces a new IP with an old port). Those that
// need a restart are left to the roll. A directive the table does not
// know as restart-only that Redis refuses anyway (a newer Redis) is then
// marked NeedsRestart, one CONFIG SET at a time to tell which.
func SetNodeSettings(ctx context.Context, dial Dialer, port int, o *topology.Observed, diffs []SettingDiff) ([]SettingDiff, error) {
	out := slices.Clone(diffs)
	ex := &Executor{Dial: dial, Port: port}
	for _, id := range o.NodeIDs() {
		n := o.Nodes[id]
		var idx []int
		for i, d := range out {
			if d.Pod == n.Pod.Name && !d.NeedsRestart {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		err := ex.with(ctx, n, func(c Admin) error {
			set := []any{"CONFIG", "SET"}
			for _, i := range idx {
				set = append(set, out[i].Key, out[i].Declared)
			}
			if _, err := c.Do(ctx, set...); err == nil {
				for _, i := range idx {
					out[i].Applied = true
				}
				return nil
			}
			for _, i := range idx {
				_, err := c.Do(ctx, "CONFIG", "SET", out[i].Key, out[i].Declared)
				switch {
				case err == nil:
					out[i].Applied = true
				case rediserr.IsConfigImmutable(err):
					out[i].NeedsRestart = true
				default:
					return fmt.Errorf("config set %s: %w", out[i].Key, err)
				}
			}
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("settings of %s: %w", n.Pod.Name, err)
		}
	}
	return out, nil
}

// ConfigMap reads a CONFIG GET reply: a map (RESP3) or a flat list of
// name, value pairs (RESP2).
func ConfigMap(v any) map[string]string {
	out := map[string]string{}
	switch x := v.(type) {
	case map[any]any:
		for k, val := range x {
			out[fmt.Sprint(k)] = fmt.Sprint(val)
		}
	case map[string]string:
		return x
	case []any:
		for i := 0; i+1 < len(x); i += 2 {
			out[fmt.Sprint(x[i])] = fmt.Sprint(x[i+1])
		}
	}
	return out
}
