package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes, seeded with every spec in
// testdata and examples. Parse must not panic, must place every error in
// the file it was given, and must return only clusters that validate.
// CI runs it for a bounded time:
//
//	go test ./spec -run='^$' -fuzz=FuzzParse -fuzztime=20s
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*/*.yaml", "../examples/*/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("---\n%YAML 1.1\n---\n...\n--- &a [*a]\n"))
	f.Add([]byte(doc("a", "  masters: 3\n  reconcile: {schedule: \"TZ=UTC\"}\n")))

	f.Fuzz(func(t *testing.T, data []byte) {
		clusters, errs := Parse("fuzz.yaml", data)
		for _, e := range errs {
			if e.File != "fuzz.yaml" || e.Line < 0 || e.Column < 0 || e.Message == "" {
				t.Errorf("badly placed error: %#v", e)
			}
			if !strings.HasPrefix(e.Error(), "fuzz.yaml") {
				t.Errorf("error %q does not start with the file", e.Error())
			}
		}
		seen := map[string]bool{}
		for _, c := range clusters {
			if again := c.Validate(); again != nil {
				t.Errorf("Parse returned a cluster that does not validate: %v", again)
			}
			if seen[c.Key()] {
				t.Errorf("Parse returned %s twice", c.Key())
			}
			seen[c.Key()] = true
		}
	})
}
