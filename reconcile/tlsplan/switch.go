package tlsplan

import (
	"fmt"
	"strings"
)

// Step is one planned switch step on one node: the settings CONFIG SET
// changes to bring it from one stage to the next. It names no secret.
type Step struct {
	Pod      string
	From, To Stage
	// Set are the settings changed, in order.
	Set []Setting
	// Reannounce: tls-cluster flips, so the node's announced ports are
	// set again afterwards (Redis 7.0 re-derives them only then).
	Reannounce bool
	// TLSPort is the node's TLS port, announced when no
	// cluster-announce-tls-port is set: with none, Redis 7.0.15 announces
	// the plaintext port even on a TLS bus (measured).
	TLSPort int
	// Wait says why the step cannot run yet; "" when it can.
	Wait string
}

// Now tells a step that runs from one that waits.
func (s Step) Now() bool { return s.Wait == "" }

func (s Step) String() string {
	var set []string
	for _, x := range s.Set {
		set = append(set, x.Key+" "+x.Value)
	}
	out := fmt.Sprintf("tls: %s: %s -> %s (%s)", s.Pod, s.From, s.To, strings.Join(set, ", "))
	if s.Wait != "" {
		out += " [waits: " + s.Wait + "]"
	}
	return out
}

// flipsBus: the step changes tls-cluster, which every node must do within
// a moment of the others.
func (s Step) flipsBus() bool { return (s.From >= Bus) != (s.To >= Bus) }

// Range is the lowest and highest stage among nodes.
func Range(nodes []Node) (lo, hi Stage) {
	lo, hi = Only, Off
	for _, n := range nodes {
		lo, hi = min(lo, n.Stage()), max(hi, n.Stage())
	}
	return lo, hi
}

// PlanSwitch is the plan that brings every node to the target stage, one
// stage at a time across the whole cluster: every node reaches a stage
// before any node goes on to the next. Nodes above the target come down
// first (they open what they closed), then nodes below go up. missed are
// the pods not read, with why: a step that flips the bus waits for them,
// since a node left on the other bus would be cut off. A node started
// without a certificate cannot open a TLS listener: its pod restarts with
// the certificate volume first, and the stages after wait for it.
func PlanSwitch(nodes []Node, missed []string, target Stage) []Step {
	if len(nodes) == 0 {
		return nil
	}
	lo, hi := Range(nodes)
	cur := make([]map[string]string, len(nodes))
	for i, n := range nodes {
		cur[i] = settingsOf(n)
	}
	var out []Step
	wait := ""
	add := func(i int, from, to Stage) {
		st := Step{Pod: nodes[i].Pod, From: from, To: to, TLSPort: nodes[i].Ports.TLS}
		for _, s := range Listen(to, nodes[i].Ports) {
			if cur[i][s.Key] != s.Value {
				st.Set = append(st.Set, s)
				cur[i][s.Key] = s.Value
			}
		}
		st.Reannounce = st.flipsBus()
		switch {
		case wait != "":
			st.Wait = wait
		case from == Off && to == Listening && !nodes[i].HasCert:
			st.Wait = "the node was started without a certificate: its pod restarts with the certificate volume first"
		case st.flipsBus() && len(missed) > 0:
			st.Wait = "the bus switches on every node at once, and not every pod was read: " + strings.Join(missed, "; ")
		}
		out = append(out, st)
	}
	stage := make([]Stage, len(nodes))
	for i, n := range nodes {
		stage[i] = n.Stage()
	}
	// A stage waits for the one before it to finish everywhere.
	finish := func(s Stage) {
		for _, st := range out {
			if wait == "" && st.To == s && !st.Now() {
				wait = "waits for every node to reach " + s.String()
			}
		}
	}
	for s := hi - 1; s >= target; s-- {
		for i := range nodes {
			if stage[i] > s {
				add(i, stage[i], s)
				stage[i] = s
			}
		}
		finish(s)
	}
	for s := lo + 1; s <= target; s++ {
		for i := range nodes {
			if stage[i] < s {
				add(i, stage[i], s)
				stage[i] = s
			}
		}
		finish(s)
	}
	return out
}

// ConfigStage is the stage the pods' redis.conf carries now: the stage a pod
// restarted in the middle of a switch must come back in to hear the others.
// A new cluster (no node read) starts at the target. On the way up from
// plaintext it is "both ports" (a restarted pod opens a TLS listener
// beside the plaintext one, which changes nothing for the others);
// otherwise the lowest stage of the nodes, which the switch raises (or
// lowers) stage by stage as it goes.
func ConfigStage(nodes []Node, target Stage) Stage {
	if len(nodes) == 0 {
		return target
	}
	lo, _ := Range(nodes)
	if lo == Off && target > Off {
		return Listening
	}
	return lo
}

func settingsOf(n Node) map[string]string {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	return map[string]string{"port": fmt.Sprint(n.Port), "tls-port": fmt.Sprint(n.TLSPort), "tls-cluster": yes(n.Cluster), "tls-replication": yes(n.Replication)}
}
