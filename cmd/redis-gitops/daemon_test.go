package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestApplyEnv(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		env       map[string]string
		interval  time.Duration
		branch    string
		wantError string
	}{
		{name: "defaults", interval: time.Minute, branch: "main"},
		{name: "env sets", env: map[string]string{"REDIS_GITOPS_INTERVAL": "5s", "REDIS_GITOPS_BRANCH": "prod"}, interval: 5 * time.Second, branch: "prod"},
		{name: "flag wins over env", args: []string{"--branch", "dev"}, env: map[string]string{"REDIS_GITOPS_BRANCH": "prod"}, interval: time.Minute, branch: "dev"},
		{name: "bad env value names the variable", env: map[string]string{"REDIS_GITOPS_INTERVAL": "soon"}, wantError: "$REDIS_GITOPS_INTERVAL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			interval := fs.Duration("interval", time.Minute, "")
			branch := fs.String("branch", "main", "")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := applyEnv(fs, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("error = %v, want one naming %s", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *interval != tc.interval || *branch != tc.branch {
				t.Errorf("interval, branch = %v, %q; want %v, %q", *interval, *branch, tc.interval, tc.branch)
			}
		})
	}
}

// Every flag is documented with its environment variable, and a missing
// --repo is refused with exit 1 naming the flag.
func TestDaemonHelpAndMissingRepo(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"daemon", "--help"}, &out, &errb); code != 2 {
		t.Errorf("--help exit %d, want 2", code)
	}
	for _, want := range []string{"--repo  [$REDIS_GITOPS_REPO]", "--webhook-secret-file  [$REDIS_GITOPS_WEBHOOK_SECRET_FILE]", "--interval  [$REDIS_GITOPS_INTERVAL]", "--git-known-hosts-file"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	errb.Reset()
	t.Setenv("KUBECONFIG", "/nonexistent")
	code := run(context.Background(), []string{"daemon", "--lease-namespace", "x"}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "--repo") && !strings.Contains(errb.String(), "kubeconfig") {
		t.Errorf("exit %d, stderr %q: want a refusal naming --repo or the kubeconfig", code, errb.String())
	}
}
