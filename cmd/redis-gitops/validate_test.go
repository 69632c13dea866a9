package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tmp := t.TempDir()
	unreadable := filepath.Join(tmp, "missing")
	empty := filepath.Join(tmp, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	largeSpec := filepath.Join(tmp, "big.yaml")
	big := "# 600 nodes\n---\napiVersion: redis-gitops.dev/v1alpha1\nkind: RedisCluster\nmetadata:\n  name: big\n  namespace: default\nspec:\n  masters: 300\n"
	if err := os.WriteFile(largeSpec, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   []string // lines that must appear
		stderr   []string
		noStdout bool
	}{
		{
			name: "every example is valid",
			args: []string{"../../examples"},
			code: 0,
			stdout: []string{
				"ok  default/cache  ../../examples/minimal/cluster.yaml:5",
				"ok  payments/sessions  ../../examples/production/cluster.yaml:6",
				"ok  ops/legacy-cache  ../../examples/report-only/cluster.yaml:6",
			},
		},
		{
			name:     "an invalid spec lists its errors",
			args:     []string{"../../spec/testdata/invalid/config-requirepass.yaml"},
			code:     1,
			noStdout: true,
			stderr: []string{
				`../../spec/testdata/invalid/config-requirepass.yaml:10:7: spec.redis.config["requirepass"]: cannot be set: passwords must not be written in Git`,
				"redis-gitops: validate: 1 problem",
			},
		},
		{
			name:   "valid and invalid together",
			args:   []string{"../../examples/production", "../../spec/testdata/invalid/masters-too-few.yaml", "../../spec/testdata/invalid/drift-unknown.yaml"},
			code:   1,
			stdout: []string{"ok  payments/sessions  ../../examples/production/cluster.yaml:6"},
			stderr: []string{
				"masters-too-few.yaml:7:12: spec.masters: must be at least 3",
				"drift-unknown.yaml:9:12: spec.reconcile.drift: must be correct or report",
				// Both files declare default/cache.
				"drift-unknown.yaml:4:9: metadata.name: cluster default/cache is already declared at ../../spec/testdata/invalid/masters-too-few.yaml:4:9",
				"redis-gitops: validate: 3 problems",
			},
		},
		{
			name:   "a path that cannot be read",
			args:   []string{unreadable, "../../examples/minimal"},
			code:   2,
			stdout: []string{"ok  default/cache"},
			stderr: []string{unreadable + ": cannot read: no such file or directory", "redis-gitops: validate: cannot read " + unreadable},
		},
		{
			name:   "a cluster past 500 nodes is valid, with a warning that cites the figures",
			args:   []string{largeSpec},
			code:   0,
			stdout: []string{"ok  default/big  " + largeSpec + ":3"},
			stderr: []string{
				"warning: " + largeSpec + ":9:12: spec.masters: makes 600 nodes (300 masters × (1 + 1 replicas)), more than 500: ",
				"redis/redis#14282", "valkey-io/valkey#384", "about 8.5 KB per message", "Consider splitting it into several clusters of at most 500 nodes",
			},
		},
		{
			name:     "no path",
			args:     nil,
			code:     2,
			noStdout: true,
			stderr:   []string{"usage: redis-gitops validate PATH...", "redis-gitops: validate: no PATH given"},
		},
		{
			name:     "an unknown flag",
			args:     []string{"-strict", "x"},
			code:     2,
			noStdout: true,
			stderr:   []string{"flag provided but not defined: -strict"},
		},
		{
			name:     "a directory without specs",
			args:     []string{empty},
			code:     0,
			noStdout: true,
			stderr:   []string{"redis-gitops: validate: no RedisCluster found"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"validate"}, tc.args...), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, &stdout, &stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout does not contain %q:\n%s", want, &stdout)
				}
			}
			if tc.noStdout && stdout.Len() > 0 {
				t.Errorf("stdout = %q, want nothing", &stdout)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr does not contain %q:\n%s", want, &stderr)
				}
			}
		})
	}
}
