package migrate

import "time"

// Pace is how a migration spares the clients of the nodes it moves slots
// between. MIGRATE is synchronous: the source serves no other client
// until the target has restored the whole batch and answered, and the
// target serves none while it restores it, so a client writing to either
// waits for up to the round time of the batch in flight, and of every
// batch queued on the node before it. The engine times each of its MIGRATE
// pipelines, and Next turns that round time into the next batch size and
// the rounds in flight: the round time is what a client of those nodes
// feels, measured where it happens, CPU contention and queueing included.
//
// Pace is pure: it holds no clock and no state; the engine keeps the
// current Step and feeds it every sample.
type Pace struct {
	// Budget is how long one batch may keep a node from its clients. The
	// pacer aims each batch at three quarters of it (the rest is the
	// scatter of round times on a busy machine) and takes a round in
	// flight away when a batch goes over it. Zero: no pacing,
	// every batch MaxKeys and MaxInFlight rounds at once.
	Budget time.Duration
	// MinKeys and MaxKeys bound the keys of one MIGRATE pipeline.
	MinKeys, MaxKeys int
	// MaxInFlight bounds the rounds in flight at once.
	MaxInFlight int
	// MinInFlight is the fewest rounds in flight a paced move keeps (at
	// least 1, at most MaxInFlight). Rounds in flight move slots of
	// distinct source/target pairs while there are pairs enough, and a
	// batch keeps only its own source from its clients (the target, shared,
	// restores a key in a tenth of the time): a second source
	// moving at the same time raises the rate without making any client
	// wait longer than one batch (1 round: 44,821 keys/s, writer p99
	// 3.27 ms; 2: 58,659 keys/s, p99 3.87 ms; 3: 48,951 keys/s, p99
	// 5.16 ms, the 2-core benchmark machine's CPU shared too thin).
	MinInFlight int
}

// Step is one pacing decision.
type Step struct {
	Keys     int // keys per MIGRATE pipeline (and per GETKEYSINSLOT)
	InFlight int // rounds moving at once
	// Calm counts the batches in a row within half the budget since
	// InFlight last changed: CalmSamples of them add a round in flight.
	Calm int
}

// CalmSamples is how many batches in a row must stay calm (within half
// the budget, well under the aim: the batch cannot grow, it is as large
// as allowed or a slot's last keys) before the pacer adds a round in flight: growing is slow, shrinking
// (a batch over the budget) immediate, so that the clients pay for an
// overshoot once, not for long.
const CalmSamples = 8

// Start is the first step: unpaced, as fast as allowed; paced, the
// smallest batch and MinInFlight rounds, which the first samples grow
// from.
func (p Pace) Start() Step {
	if p.Budget <= 0 {
		return Step{Keys: p.MaxKeys, InFlight: p.MaxInFlight}
	}
	return p.clamp(Step{Keys: p.MinKeys, InFlight: p.MinInFlight})
}

// Next is the step after a MIGRATE pipeline of keys keys that took round
// (send to last reply), taken while cur was in force.
//
// The batch is sized so that it would have taken three quarters of the
// budget at the cost per key just measured (the round time is a fixed
// part, round trips and wake-ups, plus a cost per key, so this settles
// where the round takes three quarters of the budget);
// it grows at most twofold per sample (a single quick round is weak
// evidence) and shrinks as far as the sample says (a slow one hurt
// clients already). Rounds in flight move slots of other source/target
// pairs, so they block other nodes, but they share the target and the
// machine: one is added after CalmSamples calm batches in a row, and one
// taken away by a batch over the budget.
func (p Pace) Next(cur Step, keys int, round time.Duration) Step {
	if p.Budget <= 0 {
		return p.Start()
	}
	if keys <= 0 || round <= 0 {
		return p.clamp(cur)
	}
	aim := p.Budget * 3 / 4
	want := int(float64(keys) * float64(aim) / float64(round))
	next := Step{Keys: min(want, 2*cur.Keys), InFlight: cur.InFlight, Calm: cur.Calm + 1}
	switch {
	case round > p.Budget:
		next.InFlight, next.Calm = cur.InFlight-1, 0
	case round > p.Budget/2:
		next.Calm = 0
	case next.Calm >= CalmSamples && cur.InFlight < p.MaxInFlight:
		next.InFlight, next.Calm = cur.InFlight+1, 0
	}
	return p.clamp(next)
}

func (p Pace) clamp(s Step) Step {
	lo, hi := max(1, p.MinKeys), max(1, p.MinKeys, p.MaxKeys)
	s.Keys = min(max(s.Keys, lo), hi)
	s.InFlight = min(max(s.InFlight, 1, p.MinInFlight), max(1, p.MaxInFlight))
	return s
}
