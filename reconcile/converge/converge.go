package converge

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// Options for Converge.
type Options struct {
	// DryRun plans once and executes nothing (drift: report, plans).
	DryRun bool
	// MaxRounds bounds observe-plan-execute rounds (default 6).
	MaxRounds int
	// Settle bounds the wait, after each round, for every node to agree on
	// the slot owners and report cluster_state:ok (default 60 s).
	Settle time.Duration
	Log    *slog.Logger
	// Observed, when set, is the first round's observation: one the
	// caller took just before and changed nothing since, so that a pass
	// does not ask every node the same questions twice in a row.
	Observed *topology.Observed
}

// Result is what Converge saw and did.
type Result struct {
	// Rounds holds each round's plan; the last has no actions when the
	// cluster converged.
	Rounds   []topology.Plan
	Final    *topology.Observed
	Executed []topology.Action
	// Migration sums up the slot moves of this convergence; nil when none
	// was planned.
	Migration *Migration
	// Settings are the declared redis.conf settings some node ran with
	// another value (set at runtime, or needing a restart).
	Settings []SettingDiff
	// Auth is where the nodes' password stands; nil for a cluster with no
	// auth, before and now.
	Auth *AuthProgress
	// Users is where the nodes' ACL users stand (spec.users); nil when
	// the cluster declares none and manages none.
	Users *UsersResult
	// Roll is the rolling restart planned (topology.PlanRoll): in a dry
	// run what a pass would do, otherwise what the pass found to do before
	// its first restart (Executed holds what it did).
	Roll []topology.Action
	// AnnounceWaiting says which nodes cannot announce their external
	// address yet, and why (a load balancer without an IP, ...).
	AnnounceWaiting []string
	// TLS is where a switch between plaintext and TLS stands; nil for a
	// cluster that has and had no TLS.
	TLS *TLSProgress
	// Certificates is where a renewal of the nodes' certificate stands;
	// nil without spec.tls.
	Certificates *CertReload
}

// Migration is what the slot migration engine did during a convergence.
type Migration struct {
	SlotsPlanned int
	SlotsMoved   int
	Keys         int64
	Elapsed      time.Duration
	// Atomic: the servers moved the slots themselves (CLUSTER MIGRATION).
	Atomic bool
	// Err stopped it; the slots not moved are resumed by the next pass.
	Err string
}

// Plan is the last round's plan.
func (r Result) Plan() topology.Plan {
	if len(r.Rounds) == 0 {
		return topology.Plan{}
	}
	return r.Rounds[len(r.Rounds)-1]
}

// Converge observes, plans and executes until the plan has nothing left
// to run (steps the policy blocks stay planned) and the cluster is
// healthy, or the rounds run out.
func Converge(ctx context.Context, ob *Observer, ex *Executor, t Target, d topology.Desired, opts Options) (res Result, err error) {
	if opts.MaxRounds == 0 {
		opts.MaxRounds = 6
		if d.Adopt {
			// join, follow, hand over, settle, release: a round each, and
			// the waits between
			opts.MaxRounds = 14
		}
	}
	if opts.Settle == 0 {
		opts.Settle = 60 * time.Second
	}
	defer func() { res.Migration = ex.migration }()
	for round := 0; round < opts.MaxRounds; round++ {
		if round > 0 && stopped(ex.Stop) {
			return res, ErrStopped
		}
		o := opts.Observed
		if round > 0 || o == nil {
			if o, err = ob.Observe(ctx, t); err != nil {
				return res, err
			}
		}
		res.Final = o
		plan := topology.PlanTopology(d, o)
		res.Rounds = append(res.Rounds, plan)
		if opts.Log != nil {
			opts.Log.Info("topology plan", "cluster", t.Namespace+"/"+t.Name, "round", round+1, "actions", len(plan.Actions), "drift", len(plan.Drift), "blocked", plan.Blocked)
			for _, d := range plan.Drift {
				opts.Log.Info("topology drift", "cluster", t.Namespace+"/"+t.Name, "kind", d.Kind, "subject", d.Subject, "detail", d.Detail)
			}
		}
		if opts.DryRun {
			return res, nil
		}
		runnable := plan.Runnable()
		if len(runnable) == 0 {
			if plan.Blocked != "" {
				return res, fmt.Errorf("%s/%s: %s", t.Namespace, t.Name, plan.Blocked)
			}
			if !settledIn(o) {
				if err := waitHealthy(ctx, ex, o, opts.Settle); err != nil {
					return res, err
				}
			}
			if len(plan.Waiting) == 0 {
				return res, nil
			}
			continue // what waited for the cluster to settle can go now
		}
		// A takeover's steps run on the old nodes too.
		if err := ex.Run(ctx, o.WithForeign(), runnable); err != nil {
			return res, err
		}
		res.Executed = append(res.Executed, runnable...)
		// Let gossip spread what was done before observing again.
		if err := waitHealthy(ctx, ex, o, opts.Settle); err != nil && opts.Log != nil {
			opts.Log.Info("topology: not settled yet", "cluster", t.Namespace+"/"+t.Name, "err", err)
		}
	}
	return res, fmt.Errorf("%s/%s: not converged after %d rounds; last plan: %s", t.Namespace, t.Name, opts.MaxRounds, summary(res.Plan()))
}

func summary(p topology.Plan) string {
	var parts []string
	for _, a := range p.Actions {
		parts = append(parts, a.String())
	}
	if p.Blocked != "" {
		parts = append(parts, "blocked: "+p.Blocked)
	}
	return strings.Join(parts, "; ")
}

// waitHealthy waits until every observed node says cluster_state:ok and
// all of them report the same slot owners, and every observed node at its
// pod's current address.
func waitHealthy(ctx context.Context, ex *Executor, o *topology.Observed, timeout time.Duration) error {
	ids := o.NodeIDs()
	return waitFor(ctx, timeout, "cluster_state:ok, every replica linked, every node agreeing on slot owners and addresses", func() (bool, error) {
		sig := ""
		for _, chunk := range healthChunks(len(ids)) {
			health := make([]nodeHealth, chunk[1]-chunk[0])
			g := new(errgroup.Group)
			for i := range health {
				g.Go(func() error {
					health[i] = ex.health(ctx, o, o.Nodes[ids[chunk[0]+i]])
					return nil
				})
			}
			_ = g.Wait() // each node's error is in its health
			if ok, err := agree(health, chunk[0], &sig); !ok {
				return false, err
			}
		}
		return true, nil
	})
}

// settledIn tells whether the observation itself shows what waitHealthy
// waits for: every node ok, every replica linked, every view the same
// (slot owners, roles, addresses). A pass with nothing to do then ends on
// the observation it planned from, without asking every node again.
func settledIn(o *topology.Observed) bool {
	sig := ""
	for i, id := range o.NodeIDs() {
		n := o.Nodes[id]
		h := nodeHealth{ok: nodeSettled(n.StateOK, n.Self.Has("slave"), n.MasterLinkUp)}
		if h.ok {
			h.sig, h.err = signatureOf(n.View, o)
		}
		if ok, _ := agree([]nodeHealth{h}, i, &sig); !ok {
			return false
		}
	}
	return true
}

// agree is waitHealthy's verdict on the nodes from index start on: each
// settled, and each with the view of the node at index 0, whose signature
// *sig holds once that node is read. At the first that is not, false,
// with the error that kept it from being read.
func agree(health []nodeHealth, start int, sig *string) (bool, error) {
	for i, h := range health {
		if h.err != nil || !h.ok {
			return false, h.err
		}
		if start+i == 0 {
			*sig = h.sig
		} else if h.sig != *sig {
			return false, nil
		}
	}
	return true, nil
}

// nodeSettled: the node says cluster_state:ok and, if a replica, its link
// to its master is up. A replica that has not finished its first sync
// cannot take over if its master dies (its data would be too old), so a
// cluster is settled only once every replica is linked.
func nodeSettled(stateOK, replica, linkUp bool) bool {
	return stateOK && (!replica || linkUp)
}

// healthChunks are the index ranges [start, end) of n nodes that
// waitHealthy asks at once: the first node alone, then askersInFlight at
// a time. Each poll stops at the first range with a node not settled, so
// a cluster still forming (its first node not ok yet) is asked little,
// and a settled one is read in a few round trips.
func healthChunks(n int) [][2]int {
	var out [][2]int
	for start, size := 0, 1; start < n; start, size = start+size, askersInFlight {
		out = append(out, [2]int{start, min(start+size, n)})
	}
	return out
}

// nodeHealth is one node's part of waitHealthy: settled (ok) or not, its
// signature, or why it could not be read.
type nodeHealth struct {
	ok  bool
	sig string
	err error
}

// health reads a node's cluster state, replication link and view in one
// round trip.
func (e *Executor) health(ctx context.Context, o *topology.Observed, n *topology.Node) (h nodeHealth) {
	h.err = e.with(ctx, n, func(c Admin) error {
		replies, err := c.Pipe(ctx, []any{"CLUSTER", "INFO"}, []any{"INFO", "replication"}, []any{"CLUSTER", "NODES"})
		if err := migrate.FirstErr(replies, err); err != nil {
			return err
		}
		info, _ := replies[0].Val.(string)
		repl, _ := replies[1].Val.(string)
		text, ok := replies[2].Val.(string)
		if !ok {
			return fmt.Errorf("CLUSTER NODES: unexpected reply %T", replies[2].Val)
		}
		h.ok = nodeSettled(strings.Contains(info, "cluster_state:ok"),
			strings.Contains(repl, "role:slave"), strings.Contains(repl, "master_link_status:up"))
		h.sig, err = signature(text, o)
		return err
	})
	return h
}

// signature is redis-cli's join check (node IDs with their slots), plus
// the address of every observed node, which must be the one it announces
// (its pod's, or its external address), and its
// role: after a planned failover the old master tells the others it is
// now a replica a little later than the new master claims the slots, and
// until every node has heard it, some still count it as a (slotless)
// master.
func signature(text string, o *topology.Observed) (string, error) {
	nodes, err := topology.ParseClusterNodes(text)
	if err != nil {
		return "", err
	}
	return signatureOf(nodes, o)
}

// signatureOf is signature of a view already parsed.
func signatureOf(nodes []topology.ClusterNode, o *topology.Observed) (string, error) {
	var parts []string
	for _, n := range nodes {
		if obs, ok := o.Nodes[n.ID]; ok {
			if ip, _, _ := obs.Announced(topology.Desired{}); n.IP != ip {
				return "", fmt.Errorf("a node knows %s at %s, it announces %s", obs.Pod.Name, n.IP, ip)
			}
		}
		if len(n.Slots) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%v", n.ID, n.Slots))
		}
		if _, ok := o.Nodes[n.ID]; ok {
			role := "master"
			if n.Has("slave") {
				role = "replica-of-" + n.MasterID
			}
			parts = append(parts, n.ID+":"+role)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ","), nil
}
