package topology

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite testdata/plan/*/expected.txt from the planner's output (read every changed file before committing it)")

const planFixturesDir = "testdata/plan"

// planFixture is a scenario's cluster.yaml: what the spec asks and the
// pods as Kubernetes shows them. What each pod's Redis answered is in
// nodes/<pod>.txt (its CLUSTER NODES); a pod without one did not answer.
type planFixture struct {
	About   string `yaml:"about"`
	Desired struct {
		Masters           int  `yaml:"masters"`
		ReplicasPerMaster int  `yaml:"replicasPerMaster"`
		ZoneAware         bool `yaml:"zoneAware"`
		// NodeTimeout is cluster-node-timeout in ms, as redis.conf has it.
		NodeTimeout string `yaml:"nodeTimeout"`
		Policy      struct {
			KeepGoneNodes bool `yaml:"keepGoneNodes"`
			TakeOverSlots bool `yaml:"takeOverSlots"`
		} `yaml:"policy"`
	} `yaml:"desired"`
	Pods []struct {
		Name    string `yaml:"name"`
		Ordinal int    `yaml:"ordinal"`
		IP      string `yaml:"ip"`
		Node    string `yaml:"node"` // also the failure domain
		Zone    string `yaml:"zone"`
		Keys    int64  `yaml:"keys"` // DBSIZE
		// MasterLink is INFO replication's master_link_status (replicas).
		MasterLink string `yaml:"masterLink"`
		// UsedMemory and MaxMemory are INFO memory's, in bytes.
		UsedMemory int64 `yaml:"usedMemory"`
		MaxMemory  int64 `yaml:"maxMemory"`
		// Err: the pod could not be asked, and why.
		Err string `yaml:"err"`
	} `yaml:"pods"`
}

// TestPlanFixtures plans every scenario under testdata/plan and compares
// the plan, as a person reads it, with the scenario's expected.txt. With a
// stale.txt (pod: why it must restart) the scenario plans a roll too.
// go test -run TestPlanFixtures -update rewrites the expected files.
func TestPlanFixtures(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(planFixturesDir, "*", "cluster.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no scenario in %s: %v", planFixturesDir, err)
	}
	for _, f := range dirs {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			d, o, stale := loadPlanFixture(t, dir)
			got := renderPlan(PlanTopology(d, o))
			if stale != nil {
				got += "\nroll:\n" + renderActions(PlanRoll(o, stale))
			}
			golden := filepath.Join(dir, "expected.txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -run TestPlanFixtures -update writes it; then read it)", err)
			}
			if string(want) != got {
				t.Errorf("plan differs from %s (-want +got):\n%s", golden, lineDiff(string(want), got))
			}
		})
	}
}

func loadPlanFixture(t *testing.T, dir string) (Desired, *Observed, map[string]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var fx planFixture
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&fx); err != nil {
		t.Fatalf("cluster.yaml: %v", err)
	}
	if fx.About == "" {
		t.Fatal("cluster.yaml: about: says what the scenario is")
	}
	d := Desired{Masters: fx.Desired.Masters, ReplicasPerMaster: fx.Desired.ReplicasPerMaster, ZoneAware: fx.Desired.ZoneAware,
		ClientPort: 6379, BusPort: 16379, NodeTimeout: fx.Desired.NodeTimeout,
		Policy: Policy{KeepGoneNodes: fx.Desired.Policy.KeepGoneNodes, TakeOverSlots: fx.Desired.Policy.TakeOverSlots}}
	var pods []Pod
	replies := map[string]Reply{}
	for _, p := range fx.Pods {
		pods = append(pods, Pod{Name: p.Name, Ordinal: p.Ordinal, IP: p.IP, Ready: true, Node: p.Node, Domain: p.Node, Zone: p.Zone})
		if p.Err != "" {
			replies[p.Name] = Reply{Err: errors.New(p.Err)}
			continue
		}
		nodes, err := os.ReadFile(filepath.Join(dir, "nodes", p.Name+".txt"))
		if errors.Is(err, os.ErrNotExist) {
			continue // not asked
		} else if err != nil {
			t.Fatal(err)
		}
		r := Reply{ClusterNodes: string(nodes), Keys: p.Keys, Replication: "role:master\r\n"}
		if p.MasterLink != "" {
			r.Replication = "role:slave\r\nmaster_link_status:" + p.MasterLink + "\r\n"
		}
		r.Memory = fmt.Sprintf("used_memory:%d\r\nmaxmemory:%d\r\n", p.UsedMemory, p.MaxMemory)
		replies[p.Name] = r
	}
	o, err := Observe(pods, replies)
	if err != nil {
		t.Fatal(err)
	}
	b, err = os.ReadFile(filepath.Join(dir, "stale.txt"))
	if errors.Is(err, os.ErrNotExist) {
		return d, o, nil
	} else if err != nil {
		t.Fatal(err)
	}
	stale := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		pod, why, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("stale.txt: %q is not pod: why", l)
		}
		stale[strings.TrimSpace(pod)] = strings.TrimSpace(why)
	}
	return d, o, stale
}

// renderPlan is the plan as a person reads it: its steps in order, one
// Action.String() a line, with the flags String leaves out in braces; then
// why it is blocked, what waits, the drift and the placement.
func renderPlan(p Plan) string {
	var b strings.Builder
	if p.Bootstrap {
		b.WriteString("bootstrap\n")
	}
	b.WriteString(renderActions(p.Actions))
	if p.Blocked != "" {
		b.WriteString("blocked: " + p.Blocked + "\n")
	}
	for _, w := range p.Waiting {
		b.WriteString("waiting: " + w + "\n")
	}
	for _, d := range p.Drift {
		fmt.Fprintf(&b, "drift: %s %s: %s\n", d.Kind, d.Subject, d.Detail)
	}
	pl := p.Placement
	if len(pl.Masters) > 0 {
		b.WriteString("placement: masters " + strings.Join(pl.Masters, " "))
		replicas := make([]string, 0, len(pl.ReplicaOf))
		for r, m := range pl.ReplicaOf {
			replicas = append(replicas, r+"->"+m)
		}
		sort.Strings(replicas)
		if len(replicas) > 0 {
			b.WriteString("; replicas " + strings.Join(replicas, " "))
		}
		if len(pl.Spare) > 0 {
			b.WriteString("; spare " + strings.Join(pl.Spare, " "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func renderActions(as []Action) string {
	var b strings.Builder
	for _, a := range as {
		b.WriteString(a.String())
		if a.Destructive {
			b.WriteString(" {destructive}")
		}
		if a.Unavailable {
			b.WriteString(" {unavailable}")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// lineDiff lists the lines of want and got, "-" for want only and "+" for
// got only, along their longest common subsequence.
func lineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out.WriteString("  " + a[i] + "\n")
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			out.WriteString("- " + a[i] + "\n")
			i++
		default:
			out.WriteString("+ " + b[j] + "\n")
			j++
		}
	}
	return out.String()
}
