package report

import (
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/tlsplan"
)

func TestTLSReport(t *testing.T) {
	ports := tlsplan.Ports{Plain: 6379, TLS: 6380}
	nodes := []tlsplan.Node{{Pod: "cache-0", Ports: ports, Port: 6379, TLSPort: 6380, HasCert: true}, {Pod: "cache-1", Ports: ports, Port: 6379, HasCert: false}}
	steps := tlsplan.PlanSwitch(nodes, nil, tlsplan.Only)
	p := &converge.TLSProgress{From: tlsplan.Off, Stage: tlsplan.Off, Target: tlsplan.Only, Steps: steps}

	acts, drift, _ := tlsReport(p, nil, true)
	if len(acts) != 0 {
		// cache-0 already listens; cache-1 waits for its restart, and the stages after wait for it.
		t.Errorf("dry run: %q, want no step that can run", acts)
	}
	if len(drift) != 1 || drift[0].Live != "plaintext" || drift[0].Desired != "TLS only" ||
		!strings.Contains(drift[0].Detail, "plaintext -> both ports -> bus and replication over TLS -> TLS only") {
		t.Errorf("drift: %+v", drift)
	}

	nodes[1].HasCert = true
	steps = tlsplan.PlanSwitch(nodes, nil, tlsplan.Only)
	p = &converge.TLSProgress{From: tlsplan.Off, Stage: tlsplan.Only, Target: tlsplan.Only, Steps: steps, Executed: steps, Done: true}
	acts, drift, _ = tlsReport(p, nil, false)
	if len(acts) != len(steps) || !strings.HasPrefix(acts[0], "tls: cache-1: plaintext -> both ports") || len(drift) != 0 {
		t.Errorf("done: actions %q, drift %+v", acts, drift)
	}

	cr := &converge.CertReload{Serial: "1f", Reloads: 6, Stale: []string{"cache-2"}, Unread: []string{"cache-3: connection refused"}}
	acts, drift, warns := tlsReport(nil, cr, false)
	if len(acts) != 1 || !strings.Contains(acts[0], "certificate 1f reloaded on 6 nodes") {
		t.Errorf("reload actions: %q", acts)
	}
	if len(drift) != 1 || drift[0].Subject != "cache-2" || !strings.Contains(drift[0].Detail, "kubelet") {
		t.Errorf("reload drift: %+v", drift)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "cache-3") {
		t.Errorf("reload warnings: %q", warns)
	}
}
