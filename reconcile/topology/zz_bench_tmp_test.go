package topology

import (
	"fmt"
	"testing"
	"time"
)

func bigPods(n, nodes, zones int) []Pod {
	var specs []string
	for i := range n {
		node := i % nodes
		specs = append(specs, fmt.Sprintf("z%d/n%02d", node%zones, node))
	}
	return layout(specs...)
}

func TestBigTmp(t *testing.T) {
	for _, c := range []struct{ n, nodes, zones, masters, r int }{{30, 6, 3, 10, 2}, {60, 12, 3, 20, 2}, {120, 20, 3, 40, 2}, {300, 30, 3, 100, 2}, {300, 50, 3, 150, 1}} {
		pods := bigPods(c.n, c.nodes, c.zones)
		t0 := time.Now()
		pl, err := Place(pods, c.masters, c.r, true, Current{})
		if err != nil {
			t.Fatal(err)
		}
		d1 := time.Since(t0)
		cur := currentOf(pl)
		// a failover in 5 shards
		k := 0
		for r, m := range pl.ReplicaOf {
			if k == 5 {
				break
			}
			if _, ok := cur.Masters[m]; !ok {
				continue
			}
			cur.Masters[r] = cur.Masters[m]
			delete(cur.Masters, m)
			nr := map[string]string{}
			for rr, mm := range cur.ReplicaOf {
				if mm == m {
					mm = r
				}
				if rr != r {
					nr[rr] = mm
				}
			}
			nr[m] = r
			cur.ReplicaOf = nr
			k++
		}
		t0 = time.Now()
		pl2, _ := Place(pods, c.masters, c.r, true, cur)
		d2 := time.Since(t0)
		t0 = time.Now()
		Place(pods, c.masters+3, c.r, true, currentOf(pl))
		d3 := time.Since(t0)
		fmt.Println(c, "fresh", d1, "after failovers", d2, "scale-out", d3, len(pl.Violations(pods, true)), len(pl2.Violations(pods, true)), pl2.Degraded)
	}
}
