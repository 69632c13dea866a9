package spec

import (
	"os"
	"strings"
	"testing"
)

// referenceFile is the spec reference the README points to.
const referenceFile = "../docs/spec.md"

// TestReference: docs/spec.md is what the schema says, field for field.
// Refresh it with: go test ./spec -run TestReference -update
func TestReference(t *testing.T) {
	got, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(referenceFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("%s is stale: run go test ./spec -run TestReference -update", referenceFile)
	}
	for _, field := range []string{"`spec.masters`", "`spec.auth.rotationGracePeriod`", "`spec.externalAccess.type`", "`spec.placement.tolerations[].effect`", "`spec.migration.parallelSlots`"} {
		if !strings.Contains(got, field) {
			t.Errorf("the reference lacks %s", field)
		}
	}
}
