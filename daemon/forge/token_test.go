package forge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenFromFileOrEnv(t *testing.T) {
	const secret = "ghp_4aY8r9TqzWx2LmN0pQ7sK1bV3cD5eF6gH8jJ"
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("REDIS_GITOPS_FORGE_TOKEN", " "+secret+"\n")
	t.Setenv("REDIS_GITOPS_EMPTY", "")
	t.Setenv("REDIS_GITOPS_TWO_WORDS", "token "+secret)

	tests := []struct {
		name, file, env string
		want            string
		wantErr         string // what the error names
	}{
		{name: "a file, trimmed", file: write("token", secret+"\n"), env: "REDIS_GITOPS_FORGE_TOKEN", want: secret},
		{name: "the environment when no file", env: "REDIS_GITOPS_FORGE_TOKEN", want: secret},
		{name: "a missing file", file: filepath.Join(dir, "missing"), wantErr: filepath.Join(dir, "missing")},
		{name: "an empty file", file: write("empty", "\n\n"), wantErr: filepath.Join(dir, "empty") + " is empty"},
		{name: "a file of two words", file: write("two", "Authorization: "+secret), wantErr: "more than one word"},
		{name: "an unset variable", env: "REDIS_GITOPS_UNSET", wantErr: "REDIS_GITOPS_UNSET is not set"},
		{name: "an empty variable", env: "REDIS_GITOPS_EMPTY", wantErr: "REDIS_GITOPS_EMPTY is empty"},
		{name: "a variable of two words", env: "REDIS_GITOPS_TWO_WORDS", wantErr: "REDIS_GITOPS_TWO_WORDS holds more than one word"},
		{name: "no source", wantErr: "neither a file nor an environment variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TokenFromFileOrEnv(tt.file, tt.env)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Errorf("TokenFromFileOrEnv = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("TokenFromFileOrEnv = %q, %v; want an error naming %q", got, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}
