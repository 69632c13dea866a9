package adopt

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/redis-gitops/redis-gitops/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestWriteWalkthrough: the spec written for the blog's cluster reads as
// testdata/walkthrough.golden.yaml (the notes on top, the fields in the
// spec's order, only those set) and parses and validates as it is.
func TestWriteWalkthrough(t *testing.T) {
	live := withPod(fixture(t, "walkthrough.txt", nil))
	live.Auth = &spec.SecretRef{Name: "redis-auth", Key: "password"}
	c, notes, err := Spec(live, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, c, "pod/redis-cluster-0", notes); err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/walkthrough.golden.yaml"
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("Write =\n%s\nwant (%s; -update rewrites it)\n%s", got, golden, want)
	}
	parsed, errs := spec.Parse("adopted.yaml", b.Bytes())
	if len(errs) > 0 || len(parsed) != 1 {
		t.Fatalf("spec.Parse: %d clusters, %v", len(parsed), errs)
	}
	c.SetDefaults()
	if !parsed[0].Same(c) {
		t.Errorf("the written spec reads back as\n%+v\nwant\n%+v", parsed[0].Spec, c.Spec)
	}
}
