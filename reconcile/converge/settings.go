package converge

import (
	"context"
	"fmt"
	"sort"
	"strings"

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
// GET) and, unless dryRun, sets those that differ (CONFIG SET): settings
// Redis can change at runtime change with no restart. A setting Redis
// refuses to change at runtime is reported as needing a restart.
func ApplySettings(ctx context.Context, dial Dialer, port int, o *topology.Observed, declared map[string]string, dryRun bool) ([]SettingDiff, error) {
	return ApplyNodeSettings(ctx, dial, port, o, func(*topology.Node) map[string]string { return declared }, dryRun)
}

// ApplyNodeSettings is ApplySettings with settings of each node's own
// (the address it announces, for one). The settings that differ on a node
// are set in one CONFIG SET, which Redis applies all or nothing: a node
// never announces a new IP with an old port.
func ApplyNodeSettings(ctx context.Context, dial Dialer, port int, o *topology.Observed, declaredFor func(*topology.Node) map[string]string, dryRun bool) ([]SettingDiff, error) {
	if o == nil {
		return nil, nil
	}
	var out []SettingDiff
	for _, id := range o.NodeIDs() {
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
		ex := &Executor{Dial: dial, Port: port}
		err := ex.with(ctx, n, func(c Admin) error {
			args := []any{"CONFIG", "GET"}
			for _, k := range keys {
				args = append(args, k)
			}
			v, err := c.Do(ctx, args...)
			if err != nil {
				return err
			}
			diffs := settings.Compare(declared, configMap(v))
			if len(diffs) == 0 {
				return nil
			}
			if dryRun {
				for _, d := range diffs {
					out = append(out, SettingDiff{Pod: n.Pod.Name, Diff: d})
				}
				return nil
			}
			set := []any{"CONFIG", "SET"}
			for _, d := range diffs {
				set = append(set, d.Key, d.Declared)
			}
			if _, err := c.Do(ctx, set...); err == nil {
				for _, d := range diffs {
					out = append(out, SettingDiff{Pod: n.Pod.Name, Diff: d, Applied: true})
				}
				return nil
			}
			// One of them cannot change at runtime: set them one by one
			// to tell which.
			for _, d := range diffs {
				sd := SettingDiff{Pod: n.Pod.Name, Diff: d}
				_, err := c.Do(ctx, "CONFIG", "SET", d.Key, d.Declared)
				switch {
				case err == nil:
					sd.Applied = true
				case strings.Contains(err.Error(), "immutable") || strings.Contains(err.Error(), "can't set"):
					sd.NeedsRestart = true
				default:
					return fmt.Errorf("config set %s: %w", d.Key, err)
				}
				out = append(out, sd)
			}
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("settings of %s: %w", n.Pod.Name, err)
		}
	}
	return out, nil
}

// configMap reads a CONFIG GET reply: a map (RESP3) or a flat list of
// name, value pairs (RESP2).
func configMap(v any) map[string]string {
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
