package migrate_test

import (
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile/migrate"
)

func TestPaceStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		pace migrate.Pace
		want migrate.Step
	}{
		{"unpaced: as fast as allowed", migrate.Pace{MinKeys: 10, MaxKeys: 1000, MaxInFlight: 4}, migrate.Step{Keys: 1000, InFlight: 4}},
		{"paced: smallest batch, one round", migrate.Pace{Budget: 2 * time.Millisecond, MinKeys: 10, MaxKeys: 1000, MaxInFlight: 4}, migrate.Step{Keys: 10, InFlight: 1}},
		{"paced, two sources: two rounds", migrate.Pace{Budget: 2 * time.Millisecond, MinKeys: 10, MaxKeys: 1000, MaxInFlight: 4, MinInFlight: 2}, migrate.Step{Keys: 10, InFlight: 2}},
		{"paced, more rounds kept than allowed: the most allowed", migrate.Pace{Budget: 2 * time.Millisecond, MinKeys: 10, MaxKeys: 1000, MaxInFlight: 1, MinInFlight: 2}, migrate.Step{Keys: 10, InFlight: 1}},
		{"paced, bounds out of order: still within them", migrate.Pace{Budget: time.Millisecond, MinKeys: 50, MaxKeys: 20}, migrate.Step{Keys: 50, InFlight: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.pace.Start(); got != tc.want {
				t.Errorf("Start() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPaceNext(t *testing.T) {
	const ms = time.Millisecond
	paced := migrate.Pace{Budget: 2 * ms, MinKeys: 10, MaxKeys: 1000, MaxInFlight: 4}
	for _, tc := range []struct {
		name  string
		pace  migrate.Pace
		cur   migrate.Step
		keys  int
		round time.Duration
		want  migrate.Step
	}{
		{"unpaced: the sample changes nothing", migrate.Pace{MinKeys: 10, MaxKeys: 1000, MaxInFlight: 4},
			migrate.Step{Keys: 1000, InFlight: 4}, 1000, 80 * ms, migrate.Step{Keys: 1000, InFlight: 4}},
		{"on the aim (three quarters of the budget): the same batch", paced,
			migrate.Step{Keys: 200, InFlight: 2, Calm: 3}, 200, 1500 * time.Microsecond, migrate.Step{Keys: 200, InFlight: 2}},
		{"quick round: grows, at most twofold, and is calm", paced,
			migrate.Step{Keys: 100, InFlight: 1}, 100, 100 * time.Microsecond, migrate.Step{Keys: 200, InFlight: 1, Calm: 1}},
		{"a little quick: grows to what the cost per key allows", paced,
			migrate.Step{Keys: 100, InFlight: 1}, 100, 1200 * time.Microsecond, migrate.Step{Keys: 125, InFlight: 1}},
		{"slow but within budget: shrinks to the aim, rounds kept", paced,
			migrate.Step{Keys: 400, InFlight: 3, Calm: 5}, 400, 1600 * time.Microsecond, migrate.Step{Keys: 375, InFlight: 3}},
		{"over budget: shrinks as far as the sample says and one round less", paced,
			migrate.Step{Keys: 1000, InFlight: 3, Calm: 7}, 1000, 20 * ms, migrate.Step{Keys: 75, InFlight: 2}},
		{"over budget at the fewest rounds kept: batch shrinks, rounds kept", migrate.Pace{Budget: 2 * ms, MinKeys: 10, MaxKeys: 1000, MaxInFlight: 4, MinInFlight: 2},
			migrate.Step{Keys: 200, InFlight: 2, Calm: 4}, 200, 4 * ms, migrate.Step{Keys: 75, InFlight: 2}},
		{"far over budget: never below the smallest batch nor one round", paced,
			migrate.Step{Keys: 20, InFlight: 1}, 20, 50 * ms, migrate.Step{Keys: 10, InFlight: 1}},
		{"the eighth calm batch in a row (within half the budget): one round more", paced,
			migrate.Step{Keys: 50, InFlight: 2, Calm: migrate.CalmSamples - 1}, 50, 800 * time.Microsecond, migrate.Step{Keys: 93, InFlight: 3}},
		{"the seventh: not yet", paced,
			migrate.Step{Keys: 50, InFlight: 2, Calm: migrate.CalmSamples - 2}, 50, 800 * time.Microsecond, migrate.Step{Keys: 93, InFlight: 2, Calm: migrate.CalmSamples - 1}},
		{"never above the most rounds in flight", paced,
			migrate.Step{Keys: 1000, InFlight: 4, Calm: 20}, 1000, 100 * time.Microsecond, migrate.Step{Keys: 1000, InFlight: 4, Calm: 21}},
		{"a partial batch (a slot's last keys) sizes by its cost per key", paced,
			migrate.Step{Keys: 300, InFlight: 1}, 30, 300 * time.Microsecond, migrate.Step{Keys: 150, InFlight: 1, Calm: 1}},
		{"no keys or no time: no evidence, step kept", paced,
			migrate.Step{Keys: 300, InFlight: 2, Calm: 3}, 0, 0, migrate.Step{Keys: 300, InFlight: 2, Calm: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.pace.Next(tc.cur, tc.keys, tc.round); got != tc.want {
				t.Errorf("Next(%+v, %d keys, %s) = %+v, want %+v", tc.cur, tc.keys, tc.round, got, tc.want)
			}
		})
	}
}

// TestPaceSettles: fed nodes whose round is a fixed part (round trips,
// wake-ups) plus a cost per key, the pacer settles on the batch whose
// round is three quarters of the budget, with one round in flight.
func TestPaceSettles(t *testing.T) {
	p := migrate.Pace{Budget: 2 * time.Millisecond, MinKeys: 10, MaxKeys: 1000, MaxInFlight: 4}
	const (
		fixed  = 200 * time.Microsecond
		perKey = 8 * time.Microsecond // (1.5 ms aim - 200 µs) / 8 µs = 162 keys
	)
	s := p.Start()
	for range 2 * migrate.CalmSamples {
		s = p.Next(s, s.Keys, fixed+time.Duration(s.Keys)*perKey)
	}
	if s.Keys < 155 || s.Keys > 170 || s.InFlight != 1 {
		t.Errorf("after %d samples: %+v, want about 162 keys and 1 round in flight", 2*migrate.CalmSamples, s)
	}
}

// TestPaceAddsRoundsWhenBatchesCannotGrow: with batches as large as
// allowed and still quick, rounds in flight are the way to go faster:
// one more per CalmSamples calm batches, one less per batch over budget.
func TestPaceAddsRoundsWhenBatchesCannotGrow(t *testing.T) {
	p := migrate.Pace{Budget: 2 * time.Millisecond, MinKeys: 10, MaxKeys: 100, MaxInFlight: 4}
	const (
		fixed  = 200 * time.Microsecond
		perKey = 8 * time.Microsecond // 100 keys: 1 ms, half the budget
	)
	s := p.Start()
	for range 2 * migrate.CalmSamples {
		s = p.Next(s, s.Keys, fixed+time.Duration(s.Keys)*perKey)
	}
	if want := (migrate.Step{Keys: 100, InFlight: 3}); s != want {
		t.Errorf("after %d calm samples: %+v, want %+v", 2*migrate.CalmSamples, s, want)
	}
	s = p.Next(s, s.Keys, 5*time.Millisecond)
	if want := (migrate.Step{Keys: 30, InFlight: 2}); s != want {
		t.Errorf("after a 5 ms batch: %+v, want %+v", s, want)
	}
}
