package report

import (
	"fmt"
	"strings"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/tlsplan"
)

// tlsReport is what the report says of a switch between plaintext and TLS
// and of a certificate renewal: the steps run (or, in a dry run, that
// would run), the stage the nodes are at as drift while it differs from
// the spec's, and the nodes still serving an old certificate.
func tlsReport(p *converge.TLSProgress, cr *converge.CertReload, dryRun bool) (actions []string, drift []DriftEntry, warnings []string) {
	if p != nil {
		steps := p.Executed
		if dryRun {
			steps = p.Steps
		}
		for _, st := range steps {
			if st.Now() {
				actions = append(actions, prefix(dryRun)+st.String())
			}
		}
		if !p.Done {
			var waits []string
			for _, st := range p.Steps[len(p.Executed):] {
				if !st.Now() && !dryRun {
					waits = append(waits, st.Pod+": "+st.Wait)
				}
			}
			detail := "switching stage by stage: " + stages(p.Stage, p.Target)
			if len(waits) > 0 {
				detail += "; waits: " + strings.Join(dedupe(waits), "; ")
			}
			drift = append(drift, DriftEntry{Source: SourceRedis, Kind: "tls", Subject: "every node", Path: "spec.tls",
				Live: p.Stage.String(), Desired: p.Target.String(), Detail: detail})
		}
		for _, m := range p.Missed {
			warnings = append(warnings, redact("tls stage not read on "+m))
		}
	}
	if cr != nil {
		if cr.Reloads > 0 {
			actions = append(actions, fmt.Sprintf("tls: certificate %s reloaded on %s (CONFIG SET tls-cert-file), no restart", cr.Serial, plural(cr.Reloads, "node")))
		}
		if len(cr.Stale) > 0 {
			detail := "the kubelet has not written the renewed Secret into these pods yet; the next pass reloads them again"
			if dryRun {
				detail = "a pass would tell them to load the renewed files (CONFIG SET tls-cert-file), with no restart"
			}
			drift = append(drift, DriftEntry{Source: SourceRedis, Kind: "certificate", Subject: strings.Join(cr.Stale, ", "), Path: "spec.tls.secretRef",
				Live: "another certificate", Desired: "certificate " + cr.Serial, Detail: detail})
		}
		for _, u := range cr.Unread {
			warnings = append(warnings, redact("certificate not read on "+u))
		}
	}
	return actions, drift, warnings
}

// stages names the stages from one to another, in the order a switch
// takes them.
func stages(from, to tlsplan.Stage) string {
	var out []string
	step := 1
	if to < from {
		step = -1
	}
	for s := from; ; s += tlsplan.Stage(step) {
		out = append(out, s.String())
		if s == to {
			break
		}
	}
	return strings.Join(out, " -> ")
}

func dedupe(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
