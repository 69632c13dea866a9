package plan

import (
	"fmt"

	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/report"
)

// fieldCells renders a changed field's Live and Desired cells for the
// objects table: a multi-line value (a ConfigMap's redis.conf) as the lines
// that change, a long single value cut in the middle, redacted, "—" for a
// side with nothing to show (see report.FieldCells, which the status
// report's drift table uses too).
func fieldCells(f kube.FieldDiff) (live, desired string) {
	l, d := report.FieldCells(text(f.Live), text(f.Desired))
	return orNone(cell(l)), orNone(cell(d))
}

func text(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func orNone(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
