package topology

import (
	"fmt"
	"math/rand"
	"testing"
)

func TestDbgTmp(t *testing.T) {
	for _, c := range [][2]int64{{220, 187}, {463, 152}} {
		rng := rand.New(rand.NewSource(c[0]))
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
			za := rng.Intn(2) == 0
			cur := randomCurrent(rng, pods)
			if int64(i) != c[1] {
				continue
			}
			pr := newProblem(placed, masters, za, cur)
			fmt.Printf("masters %d r %d za %v\n", masters, replicas, za)
			for i, p := range placed {
				fmt.Printf("  %s %s %s ready=%v class=%d shard=%d\n", p.Name, p.Domain, p.Zone, p.Ready, pr.class[i], pr.shardOf[i])
			}
			fmt.Printf("  cur %v\n  shards %+v\n", cur, pr.shards)
			st := pr.startCounts()
			fmt.Println("  start", st, pr.rules(st).plus(pr.stability(st)))
			m := pr.chooseCounts()
			fmt.Println("  got", m, pr.rules(m).plus(pr.stability(m)))
			var each func(c int, m counts, left int)
			each = func(c int, m counts, left int) {
				if c == len(m) {
					if left == 0 {
						fmt.Println("   ", m, pr.rules(m).plus(pr.stability(m)))
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
		}
	}
}
