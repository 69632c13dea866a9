package topology

import (
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"testing"
)

func TestStressTmp(t *testing.T) {
	fails := 0
	for seed := int64(100); seed < 140; seed++ {
		rng := rand.New(rand.NewSource(seed))
		for i := range 3000 {
			n := 1 + rng.Intn(7)
			masters := 1 + rng.Intn(min(n, 3))
			replicas := rng.Intn(3)
			zoneAware := rng.Intn(2) == 0
			pods := randomPods(rng, n)
			cur := randomCurrent(rng, pods)
			pl, err := Place(pods, masters, replicas, zoneAware, cur)
			if err != nil {
				t.Fatal(err)
			}
			placed := pods[:min(n, masters*(1+replicas))]
			if v := pl.Violations(pods, zoneAware); len(v) > 0 {
				if better, ok := bruteForce(placed, masters, zoneAware); ok {
					fails++
					if fails < 5 {
						t.Errorf("seed %d #%d %d masters %d r zone %v pods %v cur %v: got %+v viol %q; better %+v", seed, i, masters, replicas, zoneAware, pods, cur, pl, v, better)
					}
				}
			}
			again, _ := Place(pods, masters, replicas, zoneAware, currentOf(pl))
			if !slices.Equal(again.Masters, pl.Masters) || !reflect.DeepEqual(again.ReplicaOf, pl.ReplicaOf) {
				fails++
				if fails < 5 {
					t.Errorf("fixpoint seed %d #%d", seed, i)
				}
			}
			if valid, ok := bruteForce(placed, masters, zoneAware); ok && len(placed) == n {
				got, _ := Place(pods, masters, replicas, zoneAware, currentOf(valid))
				if !slices.Equal(got.Masters, valid.Masters) || !reflect.DeepEqual(got.ReplicaOf, valid.ReplicaOf) {
					fails++
					if fails < 5 {
						t.Errorf("valid changed seed %d #%d %+v -> %+v", seed, i, valid, got)
					}
				}
			}
		}
	}
	fmt.Println("fails", fails)
}

func TestStressCountsTmp(t *testing.T) {
	fails, stabFails := 0, 0
	for seed := int64(200); seed < 600; seed++ {
		rng := rand.New(rand.NewSource(seed))
		for i := range 300 {
			n := 4 + rng.Intn(12)
			masters := 1 + rng.Intn(n/2)
			replicas := rng.Intn(4)
			pods := randomPods(rng, n)
			for i := range pods {
				if pods[i].Node == "" && false {
					pods[i].Node, pods[i].Domain, pods[i].Zone = "nx", "nx", "z0"
				}
			}
			placed := pods[:min(n, masters*(1+replicas))]
			pr := newProblem(placed, masters, rng.Intn(2) == 0, randomCurrent(rng, pods))
			m := pr.chooseCounts()
			got := pr.rules(m)
			gotFull := got.plus(pr.stability(m))
			best, bestFull := got, gotFull
			var each func(c int, m counts, left int)
			each = func(c int, m counts, left int) {
				if c == len(m) {
					if left == 0 {
						r := pr.rules(m)
						if r.less(best) {
							best = r
						}
						if f := r.plus(pr.stability(m)); f.less(bestFull) {
							bestFull = f
						}
					}
					return
				}
				for k := 0; k <= min(left, len(pr.classes[c].pods)); k++ {
					m[c] = k
					each(c+1, m, left-k)
				}
				m[c] = 0
			}
			each(0, make(counts, len(pr.classes)), masters)
			if best != got {
				fails++
				if fails < 4 {
					t.Errorf("rules: seed %d #%d got %v best %v", seed, i, got, best)
				}
			} else if bestFull != gotFull {
				stabFails++
				if gotFull[tierSlots] != bestFull[tierSlots] || gotFull[tierShards] != bestFull[tierShards] {
					t.Logf("SERIOUS seed %d #%d got %v best %v", seed, i, gotFull, bestFull)
				}
				if stabFails < 4 {
					t.Logf("stability: seed %d #%d got %v best %v", seed, i, gotFull, bestFull)
				}
			}
		}
	}
	fmt.Println("rule fails", fails, "stability fails", stabFails)
}
