package topology

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzClusterNodes checks that ParseClusterNodes never panics, fails only
// with a *ParseError, and that whatever it accepts survives a round trip:
// each node's Line parses back to the same node.
func FuzzClusterNodes(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(capturedDir, "*.txt"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in %s: %v", capturedDir, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
		for _, line := range strings.Split(string(b), "\n") {
			f.Add(line)
		}
	}
	for _, tc := range clusterNodesLineTests {
		f.Add(tc.line)
	}
	for _, tc := range clusterNodesBadTests {
		f.Add(tc.input)
	}

	f.Fuzz(func(t *testing.T, s string) {
		nodes, err := ParseClusterNodes(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			return
		}
		for i, n := range nodes {
			line := n.Line()
			again, err := ParseClusterNodes(line)
			if err != nil {
				t.Fatalf("node %d: Line %q does not parse: %v", i, line, err)
			}
			if len(again) != 1 || !reflect.DeepEqual(again[0], n) {
				t.Fatalf("node %d: Line %q parses to\n %+v\nwant\n %+v", i, line, again, n)
			}
		}
	})
}
