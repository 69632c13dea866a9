package converge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
	"github.com/redis-gitops/redis-gitops/reconcile/rediserr"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// Executor runs a plan's actions against the nodes of one observation.
type Executor struct {
	Dial Dialer
	// Password is sent with MIGRATE's AUTH; never logged.
	Password string
	// KeysPerBatch is the number of keys per MIGRATE (default 1000).
	KeysPerBatch int
	// ParallelSlots is the number of slots in flight at once (default 4).
	ParallelSlots int
	// LatencyBudget paces migrations by what clients feel (migrate.Engine
	// LatencyBudget; spec.migration's Budget): KeysPerBatch and
	// ParallelSlots are then the most the pacer may choose. Zero: unpaced.
	LatencyBudget time.Duration
	// MigrateDial dials the migration engine's connections (default Dial;
	// MigrationDialer suits it: no read timeout of its own).
	MigrateDial Dialer
	// Progress, when set, hears the migration engine after every slot.
	Progress func(cluster string, p migrate.Progress)
	// Cluster names the cluster in progress reports and logs.
	Cluster string
	Port    int
	// ForeignPort is the client port of the nodes of a cluster being
	// adopted (spec.adopt.port); 0: Port.
	ForeignPort int
	Log         *slog.Logger
	// Stop, once closed, ends Run before its next action: a shutdown never
	// interrupts an action (a slot half moved), it only declines the next.
	Stop <-chan struct{}

	migration *Migration // accumulated over the rounds
}

// ErrStopped is returned when Stop closed before the work was done.
var ErrStopped = errors.New("stopped before the next step (shutting down)")

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// waitStep bounds each wait for gossip (a node learning a peer, a
// failover completing).
const waitStep = 30 * time.Second

func (e *Executor) addr(n *topology.Node) string {
	if n.Foreign && strings.Contains(n.Pod.Name, ":") {
		return n.Pod.Name // a node of the old cluster found only by its address
	}
	if n.Foreign && e.ForeignPort != 0 {
		return net.JoinHostPort(n.Pod.IP, strconv.Itoa(e.ForeignPort))
	}
	return net.JoinHostPort(n.Pod.IP, strconv.Itoa(e.Port))
}

func (e *Executor) with(ctx context.Context, n *topology.Node, f func(Admin) error) error {
	a := e.Dial(e.addr(n))
	defer a.Close()
	return f(a)
}

// Run executes the actions in order. It stops at the first error: the
// next pass observes again and plans from what is.
func (e *Executor) Run(ctx context.Context, o *topology.Observed, actions []topology.Action) error {
	for i := 0; i < len(actions); i++ {
		a := actions[i]
		if stopped(e.Stop) {
			return ErrStopped
		}
		if a.Blocked != "" {
			continue // the policy holds it back: planned and reported, never run
		}
		j := runOf(actions, i)
		if slices.ContainsFunc(actions[i:j], func(a topology.Action) bool { return a.AfterSettled }) {
			e.waitSettled(ctx, o)
		}
		if j > i+1 {
			// Steps of a kind that commute run together (topology's
			// ActionKind.Concurrent): meets, replicas attaching.
			if err := e.runAll(ctx, o, actions[i:j]); err != nil {
				return err
			}
			i = j - 1
			continue
		}
		if a.Kind == topology.MoveSlots {
			// The moves of one round run together, in parallel across pairs.
			j = i
			for j < len(actions) && actions[j].Kind == topology.MoveSlots {
				j++
			}
			if err := e.moveSlots(ctx, o, actions[i:j]); err != nil {
				return err
			}
			i = j - 1
			continue
		}
		if err := e.runOne(ctx, o, a); err != nil {
			return err
		}
	}
	return nil
}

// waitSettled is the wait of the steps that run once the cluster has
// settled (topology.Action.AfterSettled), once for a run of them. It is
// bounded (waitStep) and its end is not an error: the steps are a
// bootstrap's settings going back, which must not stay at the bootstrap's
// values, so they go then all the same, and the pass's own health wait
// reports what did not settle.
func (e *Executor) waitSettled(ctx context.Context, o *topology.Observed) {
	if err := waitHealthy(ctx, e, o, waitStep); err != nil && ctx.Err() == nil && e.Log != nil {
		e.Log.Warn("set-config: the cluster has not settled; setting it all the same", "cluster", e.Cluster, "err", err)
	}
}

// stepsInFlight bounds the steps of one run that go at once.
const stepsInFlight = 16

// runOf is the end of the run of actions[i:] that may go at once: the
// steps of actions[i]'s kind that follow it, none blocked, when the kind
// is concurrent; i+1 otherwise.
func runOf(actions []topology.Action, i int) int {
	j := i + 1
	if !actions[i].Kind.Concurrent() {
		return j
	}
	for j < len(actions) && actions[j].Kind == actions[i].Kind && actions[j].Blocked == "" {
		j++
	}
	return j
}

// runAll runs steps at once, stepsInFlight at a time; each finishes, and
// their errors are returned together, in the steps' order.
func (e *Executor) runAll(ctx context.Context, o *topology.Observed, steps []topology.Action) error {
	errs := make([]error, len(steps))
	g := new(errgroup.Group)
	g.SetLimit(stepsInFlight)
	for i, a := range steps {
		g.Go(func() error {
			errs[i] = e.runOne(ctx, o, a)
			return nil
		})
	}
	_ = g.Wait() // the errors are in errs
	return errors.Join(errs...)
}

func (e *Executor) runOne(ctx context.Context, o *topology.Observed, a topology.Action) error {
	if e.Log != nil {
		e.Log.Info("topology", "action", a.String())
	}
	if err := e.run(ctx, o, a); err != nil {
		return fmt.Errorf("%s: %w", a.String(), err)
	}
	return nil
}

func (e *Executor) run(ctx context.Context, o *topology.Observed, a topology.Action) error {
	n := o.Nodes[a.Node]
	if n == nil && a.Kind != topology.Forget {
		return fmt.Errorf("node %s was not observed", a.Node)
	}
	switch a.Kind {
	case topology.SetConfigEpoch:
		return e.with(ctx, n, func(c Admin) error {
			_, err := c.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", a.Epoch)
			// Accepted only on a node that knows no peer and has epoch 0; a
			// resumed bootstrap finds it already set, which is fine.
			if rediserr.IsConfigEpochSet(err) {
				return nil
			}
			return err
		})
	case topology.Meet:
		ip, port, bus, err := splitAddr(a.Addr)
		if err != nil {
			return err
		}
		return e.with(ctx, n, func(c Admin) error {
			_, err := c.Do(ctx, "CLUSTER", "MEET", ip, port, bus)
			return err
		})
	case topology.AddSlots:
		args := []any{"CLUSTER", "ADDSLOTSRANGE"}
		for _, r := range a.Slots {
			args = append(args, r.Start, r.End)
		}
		return e.with(ctx, n, func(c Admin) error {
			_, err := c.Do(ctx, args...)
			return err
		})
	case topology.Replicate:
		return e.with(ctx, n, func(c Admin) error {
			// A node can only follow a master it knows: wait for gossip.
			if err := waitFor(ctx, waitStep, "the replica to learn its master", func() (bool, error) {
				return knowsMaster(ctx, c, a.Target)
			}); err != nil {
				return err
			}
			_, err := c.Do(ctx, "CLUSTER", "REPLICATE", a.Target)
			return err
		})
	case topology.Failover:
		return e.with(ctx, n, func(c Admin) error { return failover(ctx, c) })
	case topology.Forget:
		return e.forget(ctx, o, a.Target)
	case topology.FixOpenSlot:
		return e.fixOpenSlot(ctx, o, a)
	case topology.Release:
		return e.release(ctx, o, n)
	case topology.SetConfig:
		return e.with(ctx, n, func(c Admin) error { return e.setConfig(ctx, c, a) })
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}

// forget runs CLUSTER FORGET of target on every other observed node.
// FORGET bans the ID for 60 s on each node that ran it; every node must
// run it within that window or gossip brings the node back.
func (e *Executor) forget(ctx context.Context, o *topology.Observed, target string) error {
	var errs []error
	for _, id := range o.NodeIDs() {
		if id == target {
			continue
		}
		errs = append(errs, e.with(ctx, o.Nodes[id], func(c Admin) error {
			_, err := c.Do(ctx, "CLUSTER", "FORGET", target)
			if rediserr.IsUnknownNode(err) {
				return nil
			}
			return err
		}))
	}
	return errors.Join(errs...)
}

// mfTimeout is how long Redis gives a manual failover (CLUSTER_MF_TIMEOUT,
// 5 s) before it gives up silently, plus a margin.
const mfTimeout = 6 * time.Second

// failover runs a planned CLUSTER FAILOVER on a replica and waits until it
// is the master. Redis abandons a manual failover that gets no majority
// within 5 s without saying so: a replica that asks for votes before it
// has heard of another failover's new epoch asks in an epoch the masters
// have already voted in, and is refused (two failovers a moment apart,
// with a long node timeout, do that). So the failover is asked again,
// until waitStep passes; asking again while one runs restarts it, which
// loses nothing (the replica waits for its master's offset each time).
func failover(ctx context.Context, c Admin) error {
	deadline := time.Now().Add(waitStep)
	isMaster := func() (bool, error) {
		info, err := doString(ctx, c, "INFO", "replication")
		return strings.Contains(info, "role:master"), err
	}
	for first := true; ; first = false {
		if _, err := c.Do(ctx, "CLUSTER", "FAILOVER"); err != nil {
			if done, _ := isMaster(); done && !first {
				return nil // it won between the two asks
			}
			return err
		}
		err := waitFor(ctx, mfTimeout, "the planned failover", isMaster)
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
	}
}

func splitAddr(addr string) (ip string, port, bus int, err error) {
	hostport, busStr, ok := strings.Cut(addr, "@")
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil || !ok {
		return "", 0, 0, fmt.Errorf("bad address %q", addr)
	}
	port, err1 := strconv.Atoi(portStr)
	bus, err2 := strconv.Atoi(busStr)
	if err1 != nil || err2 != nil {
		return "", 0, 0, fmt.Errorf("bad address %q", addr)
	}
	return host, port, bus, nil
}

// knowsMaster: the node's table has id as a master, past the handshake.
func knowsMaster(ctx context.Context, c Admin, id string) (bool, error) {
	text, err := doString(ctx, c, "CLUSTER", "NODES")
	if err != nil {
		return false, err
	}
	nodes, err := topology.ParseClusterNodes(text)
	if err != nil {
		return false, err
	}
	for _, n := range nodes {
		if n.ID == id {
			return n.Has("master") && !n.Has("handshake"), nil
		}
	}
	return false, nil
}

// waitFor polls cond until it holds, with a deadline and a clear error.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("waiting for %s: not done after %s: %w", what, timeout, last)
			}
			return fmt.Errorf("waiting for %s: not done after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
