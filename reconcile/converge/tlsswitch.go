package converge

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
	"github.com/redis-gitops/redis-gitops/reconcile/tlsplan"
)

// ReadTLSNode reads where a node stands in a switch between plaintext and
// TLS (CONFIG GET of the settings tlsplan.Node needs).
func ReadTLSNode(ctx context.Context, a Admin, pod string, ports tlsplan.Ports) (tlsplan.Node, error) {
	v, err := a.Do(ctx, "CONFIG", "GET", "port", "tls-port", "tls-cluster", "tls-replication", "tls-cert-file")
	if err != nil {
		return tlsplan.Node{}, fmt.Errorf("%s: %w", pod, err)
	}
	return tlsplan.NodeFromConfig(pod, ports, ConfigMap(v))
}

// RunTLSSwitch runs the steps of a switch plan that can run now, a stage
// at a time: before the nodes go to a stage, setStage writes it into the
// pods' configuration, so that a pod restarted from then on comes back in
// that stage and hears the others. admins holds a connection to every node
// by pod, opened before the switch: a connection stays up when the port it
// came through closes (port 0). A step that fails stops the switch; the
// next pass reads the nodes again and plans from where they are.
func RunTLSSwitch(ctx context.Context, admins map[string]Admin, steps []tlsplan.Step, setStage func(context.Context, tlsplan.Stage) error) ([]tlsplan.Step, error) {
	var done []tlsplan.Step
	staged := tlsplan.Stage(-1)
	for _, st := range steps {
		if !st.Now() {
			break // the stages after wait too: they are planned in order
		}
		if st.To != staged {
			if err := setStage(ctx, st.To); err != nil {
				return done, fmt.Errorf("tls: write stage %q to the pods' configuration: %w", st.To, err)
			}
			staged = st.To
		}
		a, ok := admins[st.Pod]
		if !ok {
			return done, fmt.Errorf("tls: %s: no connection", st.Pod)
		}
		args := []any{"CONFIG", "SET"}
		for _, s := range st.Set {
			args = append(args, s.Key, s.Value)
		}
		if len(st.Set) > 0 {
			if _, err := a.Do(ctx, args...); err != nil {
				return done, fmt.Errorf("tls: %s: %s -> %s: %w", st.Pod, st.From, st.To, err)
			}
		}
		if st.Reannounce {
			if err := reannounce(ctx, a, st.TLSPort); err != nil {
				return done, fmt.Errorf("tls: %s: announce its ports again: %w", st.Pod, err)
			}
		}
		done = append(done, st)
	}
	return done, nil
}

// reannounce sets cluster-announce-port and cluster-announce-tls-port to
// their own values again, so Redis 7.0 derives the ports it announces anew
// (it does so only when one of them is set, not when tls-cluster or port
// changes). Setting a value to itself is no change to Redis, so each goes
// to another value and back, inside MULTI: no gossip is sent in between.
// An unset cluster-announce-tls-port becomes tlsPort: unset, Redis 7.0.15
// announces the plaintext port on a TLS bus too (measured).
func reannounce(ctx context.Context, a Admin, tlsPort int) error {
	v, err := a.Do(ctx, "CONFIG", "GET", "cluster-announce-port", "cluster-announce-tls-port")
	if err != nil {
		return err
	}
	conf := ConfigMap(v)
	cmds := [][]any{{"MULTI"}}
	for _, k := range []string{"cluster-announce-port", "cluster-announce-tls-port"} {
		cur, err := strconv.Atoi(conf[k])
		if err != nil {
			return fmt.Errorf("CONFIG GET %s: %q", k, conf[k])
		}
		if k == "cluster-announce-tls-port" && cur == 0 {
			cur = tlsPort
		}
		other := 0
		if cur == 0 {
			other = 1
		}
		cmds = append(cmds, []any{"CONFIG", "SET", k, strconv.Itoa(other)}, []any{"CONFIG", "SET", k, strconv.Itoa(cur)})
	}
	cmds = append(cmds, []any{"EXEC"})
	return migrate.FirstErr(a.Pipe(ctx, cmds...))
}

// TLSProgress is a switch between plaintext and TLS across passes: where
// the nodes were, the plan this pass made, what it ran, and where they are.
type TLSProgress struct {
	// From is the lowest stage among the nodes read, before this pass.
	From tlsplan.Stage `json:"from" yaml:"from"`
	// Stage is where the last step run left the cluster.
	Stage  tlsplan.Stage `json:"stage" yaml:"stage"`
	Target tlsplan.Stage `json:"target" yaml:"target"`
	// Steps is the plan (tlsplan.PlanSwitch), before it ran.
	Steps []tlsplan.Step `json:"steps,omitempty" yaml:"steps,omitempty"`
	// Executed are the steps run.
	Executed []tlsplan.Step `json:"executed,omitempty" yaml:"executed,omitempty"`
	// Missed are the pods not read, with why.
	Missed []string `json:"missed,omitempty" yaml:"missed,omitempty"`
	// Done: every node is at the target.
	Done bool `json:"done" yaml:"done"`
}

// CertReload is where a certificate renewal stands on the nodes.
type CertReload struct {
	// Serial is the serial number (hex) of the certificate in the Secret.
	Serial string `json:"serial" yaml:"serial"`
	// Reloads counts the nodes told to load their files again.
	Reloads int `json:"reloads,omitempty" yaml:"reloads,omitempty"`
	// Stale are the pods still serving another certificate: the kubelet
	// has not written the renewed Secret into them yet; the next pass
	// tells them again.
	Stale []string `json:"stale,omitempty" yaml:"stale,omitempty"`
	// Unread are the pods whose certificate could not be read, with why.
	Unread []string `json:"unread,omitempty" yaml:"unread,omitempty"`
}
