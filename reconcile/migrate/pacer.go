package migrate

import (
	"sync"
	"time"
)

// pacer is a Run's current Step, shared by its workers: each MIGRATE
// pipeline's round time goes in (observe), each worker asks it for the
// batch size (keys) and waits for its turn before starting a round
// (acquire), so that no more rounds move at once than the Step allows.
type pacer struct {
	pace Pace

	mu     sync.Mutex
	turn   *sync.Cond // signalled when a round ends, InFlight changes, or the Run ends
	step   Step
	active int // rounds moving now
	closed bool
	stats  PaceStats
}

// PaceStats says how a Run paced itself.
type PaceStats struct {
	Batches     int           // MIGRATE pipelines timed
	OverBudget  int           // of them, those over the budget
	MaxRound    time.Duration // the longest
	Final       Step          // the step in force at the end
	MaxInFlight int           // the most rounds in flight the pacer allowed
}

func newPacer(p Pace) *pacer {
	pc := &pacer{pace: p, step: p.Start()}
	pc.turn = sync.NewCond(&pc.mu)
	pc.stats.MaxInFlight = pc.step.InFlight
	return pc
}

// keys is the batch size in force.
func (p *pacer) keys() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.step.Keys
}

// observe feeds one MIGRATE pipeline of n keys that took round.
func (p *pacer) observe(n int, round time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Batches++
	if p.pace.Budget > 0 && round > p.pace.Budget {
		p.stats.OverBudget++
	}
	p.stats.MaxRound = max(p.stats.MaxRound, round)
	before := p.step.InFlight
	p.step = p.pace.Next(p.step, n, round)
	p.stats.MaxInFlight = max(p.stats.MaxInFlight, p.step.InFlight)
	if p.step.InFlight > before {
		p.turn.Broadcast()
	}
}

// acquire waits until a round may start; false once the Run is over.
func (p *pacer) acquire() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.closed && p.active >= p.step.InFlight {
		p.turn.Wait()
	}
	if p.closed {
		return false
	}
	p.active++
	return true
}

// release ends a round started by acquire.
func (p *pacer) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active--
	p.turn.Broadcast()
}

// close wakes every waiting worker: no round starts any more.
func (p *pacer) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.turn.Broadcast()
}

func (p *pacer) result() PaceStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Final = p.step
	return s
}
