// Package report turns what one reconcile pass saw and did into the status
// the daemon commits to Git (status/<namespace>/<name>.yaml) and shows to
// people (pull-request comments, the status subcommand). It is pure: values
// in, values out, no clients, no clocks. A report carries no timestamp on
// purpose, so that two passes that find the same cluster produce the same
// bytes and commit nothing (invariant 7).
package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// APIVersion and Kind identify a status document.
const (
	APIVersion = "redis-gitops.dev/v1alpha1"
	Kind       = "RedisClusterStatus"
)

// Drift sources.
const (
	SourceKubernetes = "kubernetes"
	SourceRedis      = "redis"
)

// KindLiveEdit is the drift kind of a Kubernetes field that someone other
// than redis-gitops owns (a kubectl edit, another controller).
const KindLiveEdit = "live-edit"

// Modes of a pass, as the report states them.
const (
	ModeApply     = "apply"     // drift: correct: the pass wrote what it had to
	ModeReport    = "report"    // drift: report: the pass only planned
	ModeSuspended = "suspended" // reconcile.suspend: the pass only planned
	ModeRemoved   = "removed"   // the spec left Git: objects pruned, data kept
)

// Input is everything one pass produced for one cluster. Any part may be
// missing: a pass stops at the first error, and the report says how far it
// got.
type Input struct {
	// Cluster is "namespace/name".
	Cluster string
	// Revision is the Git commit the spec came from.
	Revision string
	// Spec is nil when the spec failed to load.
	Spec       *spec.RedisCluster
	SpecErrors spec.ErrorList
	// Objects is the Kubernetes apply (or its dry run); ObjectsErr stopped it.
	Objects    *kube.Result
	ObjectsErr error
	// Topology is the Redis convergence (or its plan); TopologyErr stopped it.
	Topology    *converge.Result
	TopologyErr error
	// DryRun: drift: report or suspend, nothing was written.
	DryRun    bool
	Suspended bool
	// Removed: the spec is gone from Git; Pruned is what was deleted (its
	// PersistentVolumeClaims are kept), PruneErr what stopped it.
	Removed  bool
	Pruned   []kube.Change
	PruneErr error
	// ScaleInHold says why the StatefulSet kept its live size this pass
	// (pods to remove still hold data); empty when it did not.
	ScaleInHold string
	// TLSWarnings are what the check of spec.tls's certificate warns of
	// (a node it does not cover, an expiry near).
	TLSWarnings []string
}

// Report is the status of one cluster after one pass. Its YAML form is the
// file committed to Git; fields keep this order.
type Report struct {
	APIVersion       string       `yaml:"apiVersion"`
	Kind             string       `yaml:"kind"`
	Cluster          string       `yaml:"cluster"`
	ObservedRevision string       `yaml:"observedRevision"`
	Mode             string       `yaml:"mode"`
	Conditions       []Condition  `yaml:"conditions"`
	Topology         Topology     `yaml:"topology"`
	Drift            []DriftEntry `yaml:"drift,omitempty"`
	// Adoption is where the takeover of a running cluster stands
	// (spec.adopt); absent without one.
	Adoption *Adoption `yaml:"adoption,omitempty"`
	// Migration is the slot migration of this pass, when one was planned.
	Migration *Migration `yaml:"migration,omitempty"`
	// Actions is what this pass did, in order; in a dry run what it would
	// do, each prefixed "planned: ".
	Actions  []string `yaml:"actions,omitempty"`
	Warnings []string `yaml:"warnings,omitempty"`
	Errors   []string `yaml:"errors,omitempty"`
}

// Migration states.
const (
	MigrationDone       = "done"
	MigrationInProgress = "in-progress" // stopped part-way; the next pass resumes it
	MigrationRefused    = "refused"     // refused before any key moved
)

// Migration is the slot migration of one pass.
type Migration struct {
	State         string `yaml:"state"`
	SlotsPlanned  int    `yaml:"slotsPlanned"`
	SlotsMoved    int    `yaml:"slotsMoved"`
	KeysMoved     int64  `yaml:"keysMoved"`
	KeysPerSecond int64  `yaml:"keysPerSecond"`
	Elapsed       string `yaml:"elapsed"`
	Method        string `yaml:"method,omitempty"` // key-by-key | atomic
	Detail        string `yaml:"detail,omitempty"`
}

// Desired is the shape the spec asks for; zero when the spec did not load.
type Desired struct {
	Masters           int `yaml:"masters"`
	ReplicasPerMaster int `yaml:"replicasPerMaster"`
}

// Nodes is masters × (1 + replicas per master).
func (d Desired) Nodes() int { return d.Masters * (1 + d.ReplicasPerMaster) }

// Topology is the Redis cluster as last observed.
type Topology struct {
	Desired Desired `yaml:"desired"`
	// Answering counts the Redis nodes that answered.
	Answering int `yaml:"answering"`
	// Masters hold slots (or keys), ordered by their first slot.
	Masters []Master `yaml:"masters,omitempty"`
	// Unassigned are nodes that answered but are neither a master holding
	// slots nor a replica of an observed master: fresh nodes before a
	// bootstrap, spares.
	Unassigned  []Member         `yaml:"unassigned,omitempty"`
	Unreachable []UnreachablePod `yaml:"unreachable,omitempty"`
}

// Master is a master node and its replicas.
type Master struct {
	Pod  string `yaml:"pod"`
	Node string `yaml:"node,omitempty"` // Kubernetes node
	Zone string `yaml:"zone,omitempty"`
	ID   string `yaml:"id"`
	// Slots are ranges as "0-5460", or a single slot as "42".
	Slots []string `yaml:"slots,omitempty"`
	// SlotCount, when set, is the number of slots where ranges are not
	// known yet (a plan's picture of the cluster after its moves).
	SlotCount int       `yaml:"-" json:"slotCount,omitempty"`
	Keys      int64     `yaml:"keys"`
	Replicas  []Replica `yaml:"replicas,omitempty"`
}

// Replica is a replica of a master.
type Replica struct {
	Pod  string `yaml:"pod"`
	Node string `yaml:"node,omitempty"`
	Zone string `yaml:"zone,omitempty"`
	ID   string `yaml:"id"`
	// Linked is INFO replication's master_link_status:up.
	Linked bool `yaml:"linked"`
}

// Member is a node that is not part of the slot layout.
type Member struct {
	Pod  string `yaml:"pod"`
	Node string `yaml:"node,omitempty"`
	Zone string `yaml:"zone,omitempty"`
	ID   string `yaml:"id"`
	Role string `yaml:"role"` // master | replica
	Keys int64  `yaml:"keys"`
}

// UnreachablePod is a pod whose Redis could not be asked.
type UnreachablePod struct {
	Pod    string `yaml:"pod"`
	Reason string `yaml:"reason"`
}

// DriftEntry is one difference between Git and the live cluster.
type DriftEntry struct {
	Source  string `yaml:"source"` // kubernetes | redis
	Kind    string `yaml:"kind"`
	Subject string `yaml:"subject"`
	Path    string `yaml:"path,omitempty"`
	// Live and Desired are the values, a string as is and anything else as
	// JSON; "***" when the value could be a secret (see mask).
	Live     string   `yaml:"live,omitempty"`
	Desired  string   `yaml:"desired,omitempty"`
	Managers []string `yaml:"managers,omitempty"`
	Detail   string   `yaml:"detail"`
}

// Build makes the report of one pass.
func Build(in Input) Report {
	r := Report{APIVersion: APIVersion, Kind: Kind, Cluster: in.Cluster, ObservedRevision: in.Revision, Mode: ModeApply}
	dryRun := in.DryRun || in.Suspended
	switch {
	case in.Suspended:
		r.Mode = ModeSuspended
	case in.DryRun:
		r.Mode = ModeReport
	}
	if in.Removed {
		r.Mode = ModeRemoved
		for _, c := range in.Pruned {
			r.Actions = append(r.Actions, redact(prefix(!c.Applied)+changeString(c)))
		}
		if in.PruneErr != nil {
			r.Errors = append(r.Errors, redact("prune: "+in.PruneErr.Error()))
		}
	}
	if in.Spec != nil {
		r.Topology.Desired = Desired{Masters: in.Spec.Spec.Masters, ReplicasPerMaster: in.Spec.Spec.Replicas()}
	}

	sorted := slices.Clone(in.SpecErrors)
	sorted.Sort()
	for _, e := range sorted {
		r.Errors = append(r.Errors, redact(e.Error()))
	}

	if in.Objects != nil {
		r.Drift = append(r.Drift, kubeDrift(in.Objects.Drift, dryRun)...)
		for _, c := range in.Objects.Changes {
			if c.Action == kube.Unchanged {
				continue
			}
			r.Actions = append(r.Actions, redact(prefix(!c.Applied)+changeString(c)))
		}
		for _, w := range in.Objects.Warnings {
			r.Warnings = append(r.Warnings, redact(w))
		}
	}
	if in.ObjectsErr != nil {
		r.Errors = append(r.Errors, redact("apply: "+in.ObjectsErr.Error()))
	}

	var plan topology.Plan
	if in.Topology != nil {
		plan = in.Topology.Plan()
		r.Topology = buildTopology(r.Topology.Desired, in.Topology.Final)
		r.Drift = append(r.Drift, redisDrift(in.Topology.Rounds)...)
		for _, sd := range in.Topology.Settings {
			detail := "differs from the spec"
			switch {
			case sd.Applied:
				detail = "set at runtime (CONFIG SET), no restart"
			case sd.NeedsRestart:
				detail = "Redis cannot change it at runtime: it takes effect when the pod restarts"
			case dryRun:
				detail = "would be set at runtime (CONFIG SET)"
			}
			r.Drift = append(r.Drift, DriftEntry{Source: SourceRedis, Kind: "setting", Subject: sd.Pod, Path: sd.Key,
				Live: redact(sd.Key + " " + sd.Live)[len(sd.Key)+1:], Desired: redact(sd.Key + " " + sd.Declared)[len(sd.Key)+1:], Detail: detail})
		}
		if a := in.Topology.Auth; a != nil {
			r.Actions = append(r.Actions, authActions(a.AuthResult)...)
			if dryRun {
				for _, st := range a.Steps {
					if st.Now() {
						r.Actions = append(r.Actions, redact(prefix(true)+st.String()))
					}
				}
			}
			if n := a.Others(); n > 0 {
				detail := "the old password is dropped once every node has the new one"
				if !a.DropAfter.IsZero() {
					detail = "rotation: the old password is dropped after " + a.DropAfter.UTC().Format(time.RFC3339)
				}
				r.Drift = append(r.Drift, DriftEntry{Source: SourceRedis, Kind: "password", Subject: "default user", Path: "spec.auth",
					Live: fmt.Sprintf("%s also take another password", plural(n, "node")), Desired: "the password in the Secret only", Detail: detail})
			}
			for _, m := range a.Missed {
				r.Warnings = append(r.Warnings, redact("password not checked on "+m))
			}
		}
		if u := in.Topology.Users; u != nil {
			r.Drift = append(r.Drift, usersDrift(*u, dryRun)...)
			for i, st := range u.Plan.Steps {
				if dryRun || i < u.Applied {
					r.Actions = append(r.Actions, prefix(dryRun)+st.String())
				}
			}
			for _, m := range u.Missed {
				r.Warnings = append(r.Warnings, redact("users not checked on "+m))
			}
		}
		for _, w := range in.Topology.AnnounceWaiting {
			r.Warnings = append(r.Warnings, redact("external address waits: "+w))
		}
		acts := in.Topology.Executed
		if dryRun {
			// The topology's steps, then the rolling restart a pass would make.
			acts = append(slices.Clone(plan.Actions), in.Topology.Roll...)
		}
		for _, a := range acts {
			if a.Blocked == "" {
				r.Actions = append(r.Actions, redact(prefix(dryRun)+a.String()))
			}
		}
		// TLS last, as the pass runs it: after the roll.
		tlsActs, tlsDrift, tlsWarns := tlsReport(in.Topology.TLS, in.Topology.Certificates, dryRun)
		r.Actions, r.Drift, r.Warnings = append(r.Actions, tlsActs...), append(r.Drift, tlsDrift...), append(r.Warnings, tlsWarns...)
		// Destructive steps the policy holds back: in the report, never run.
		for _, a := range plan.BlockedSteps() {
			r.Warnings = append(r.Warnings, redact("blocked by policy: "+a.String()))
		}
		r.Migration = buildMigration(in.Topology, plan)
		if in.Spec != nil {
			r.Adoption = buildAdoption(in.Spec.Spec.Adopt, in.Topology.Final, plan)
		}
	}
	if in.ScaleInHold != "" {
		r.Warnings = append(r.Warnings, redact("scale-in waits: "+in.ScaleInHold))
	}
	for _, w := range in.TLSWarnings {
		r.Warnings = append(r.Warnings, redact("tls: "+w))
	}
	if in.TopologyErr != nil {
		r.Errors = append(r.Errors, redact("topology: "+in.TopologyErr.Error()))
	}

	slices.SortStableFunc(r.Drift, func(a, b DriftEntry) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Subject, b.Subject),
			cmp.Compare(a.Path, b.Path), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Detail, b.Detail))
	})
	r.Conditions = conditions(in, r, plan)
	return r
}

func buildMigration(t *converge.Result, plan topology.Plan) *Migration {
	if m := t.Migration; m != nil {
		out := &Migration{State: MigrationDone, SlotsPlanned: m.SlotsPlanned, SlotsMoved: m.SlotsMoved, KeysMoved: m.Keys,
			Elapsed: m.Elapsed.Round(time.Millisecond).String(), Method: "key-by-key"}
		if m.Atomic {
			out.Method = "atomic"
		}
		if s := m.Elapsed.Seconds(); s > 0 {
			out.KeysPerSecond = int64(float64(m.Keys) / s)
		}
		if m.SlotsMoved < m.SlotsPlanned || m.Err != "" {
			out.State, out.Detail = MigrationInProgress, redact(m.Err)
		}
		return out
	}
	if strings.HasPrefix(plan.Blocked, "scale-in refused") {
		return &Migration{State: MigrationRefused, Detail: redact(plan.Blocked), Elapsed: "0s"}
	}
	return nil
}

func prefix(planned bool) string {
	if planned {
		return "planned: "
	}
	return ""
}

// changeString reads like an action: "configure StatefulSet prod/cache (2 fields)".
func changeString(c kube.Change) string {
	s := string(c.Action) + " " + c.Object.String()
	if n := len(c.Fields); n > 0 {
		s += fmt.Sprintf(" (%s)", plural(n, "field"))
	}
	if c.Reason != "" {
		s += ": " + c.Reason
	}
	return s
}

func kubeDrift(drift []kube.Drift, dryRun bool) []DriftEntry {
	detail := "the apply restored the desired value"
	if dryRun {
		detail = "left as is: nothing is written in this mode"
	}
	out := make([]DriftEntry, 0, len(drift))
	for _, d := range drift {
		secret := d.Object.Kind == "Secret" || secretPath(d.Path)
		out = append(out, DriftEntry{
			Source:   SourceKubernetes,
			Kind:     KindLiveEdit,
			Subject:  d.Object.String(),
			Path:     d.Path,
			Live:     value(d.Live, secret),
			Desired:  value(d.Desired, secret),
			Managers: slices.Sorted(slices.Values(d.Managers)),
			Detail:   detail,
		})
	}
	return out
}

// redisDrift is what the pass found in Redis: the drift of every round,
// once each. The first round's is what differed from Git when the pass began
// (as kube drift is what differed before the apply); later rounds add what
// only showed once earlier steps ran.
func redisDrift(rounds []topology.Plan) []DriftEntry {
	var out []DriftEntry
	seen := map[topology.Drift]bool{}
	for _, p := range rounds {
		for _, d := range p.Drift {
			if seen[d] {
				continue
			}
			seen[d] = true
			out = append(out, DriftEntry{Source: SourceRedis, Kind: string(d.Kind), Subject: d.Subject, Detail: redact(d.Detail)})
		}
	}
	return out
}

// value prints a decoded JSON value: a string as is, anything else as JSON,
// whose maps have sorted keys. A value that could be a secret is "***".
func value(v any, secret bool) string {
	switch {
	case v == nil:
		return ""
	case secret:
		return masked
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func buildTopology(d Desired, o *topology.Observed) Topology {
	t := Topology{Desired: d}
	if o == nil {
		return t
	}
	t.Answering = len(o.Nodes)
	byID := map[string]int{} // master ID -> index in t.Masters
	ids := o.NodeIDs()
	for _, id := range ids {
		n := o.Nodes[id]
		if n.IsMaster() && (n.SlotCount() > 0 || n.Keys > 0) {
			byID[id] = len(t.Masters)
			t.Masters = append(t.Masters, Master{Pod: n.Pod.Name, Node: n.Pod.Node, Zone: n.Pod.Zone, ID: id,
				Slots: slotStrings(n.Self.Slots), Keys: n.Keys})
		}
	}
	for _, id := range ids {
		n := o.Nodes[id]
		if _, ok := byID[id]; ok {
			continue
		}
		if i, ok := byID[n.Self.MasterID]; ok && n.Self.Has("slave") {
			t.Masters[i].Replicas = append(t.Masters[i].Replicas, Replica{Pod: n.Pod.Name, Node: n.Pod.Node, Zone: n.Pod.Zone, ID: id, Linked: n.MasterLinkUp})
			continue
		}
		role := "master"
		if n.Self.Has("slave") {
			role = "replica"
		}
		t.Unassigned = append(t.Unassigned, Member{Pod: n.Pod.Name, Node: n.Pod.Node, Zone: n.Pod.Zone, ID: id, Role: role, Keys: n.Keys})
	}
	slices.SortStableFunc(t.Masters, func(a, b Master) int {
		return cmp.Or(cmp.Compare(firstSlot(o.Nodes[a.ID]), firstSlot(o.Nodes[b.ID])), cmp.Compare(a.Pod, b.Pod))
	})
	for pod, why := range o.Unreachable {
		t.Unreachable = append(t.Unreachable, UnreachablePod{Pod: pod, Reason: redact(why)})
	}
	slices.SortFunc(t.Unreachable, func(a, b UnreachablePod) int { return cmp.Compare(a.Pod, b.Pod) })
	return t
}

func firstSlot(n *topology.Node) int {
	if len(n.Self.Slots) == 0 {
		return topology.SlotCount
	}
	return n.Self.Slots[0].Start
}

func slotStrings(rs []topology.SlotRange) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

// YAML is the status document: field order fixed, lists sorted, no
// timestamps, so equal content gives equal bytes.
func (r Report) YAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("report %s: %w", r.Cluster, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("report %s: %w", r.Cluster, err)
	}
	return b.Bytes(), nil
}

// Parse reads a status document written by YAML, for commands that show
// the committed status; Parse(r.YAML()) gives back r.
func Parse(data []byte) (Report, error) {
	var r Report
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return Report{}, fmt.Errorf("status document: %w", err)
	}
	if r.APIVersion != APIVersion || r.Kind != Kind {
		return Report{}, fmt.Errorf("status document: apiVersion %q kind %q, want %s %s", r.APIVersion, r.Kind, APIVersion, Kind)
	}
	return r, nil
}

// Condition returns the condition of the given type (zero if absent).
func (r Report) Condition(typ string) Condition {
	for _, c := range r.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return Condition{}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// masked replaces any value that could be a secret.
const masked = "***"

// secretWords mark a field path or a word of text whose value could be a
// secret: Redis's requirepass and masterauth, and anything named like a
// password or token.
var secretWords = []string{"password", "requirepass", "masterauth", "token"}

func secretPath(path string) bool {
	p := strings.ToLower(path)
	for _, w := range secretWords {
		if strings.Contains(p, w) {
			return true
		}
	}
	return false
}

// redact masks the word after a secret word in free text ("requirepass
// s3cret", "password=s3cret", "token: abc"), for messages that come from
// elsewhere (API errors, Redis replies). The project never renders a secret
// into anything it reports; this is the second line of defence (invariant 8).
// A backtick ends a value as a quote does, so that a masked value inside a
// Markdown code span keeps its closing backtick when redacted again.
func redact(s string) string {
	lower := strings.ToLower(s)
	var b strings.Builder
	i := 0
	for i < len(s) {
		j, w := nextSecretWord(lower, i)
		if j < 0 {
			break
		}
		end := j + len(w)
		// Skip the rest of the key (masterauth_user, password"), then separators.
		for end < len(s) && isWordByte(s[end]) {
			end++
		}
		k := end
		for k < len(s) && strings.IndexByte(" \t:=\"'`", s[k]) >= 0 {
			k++
		}
		v := k
		for v < len(s) && !strings.ContainsRune(" \t\n,;\"'`}])", rune(s[v])) {
			v++
		}
		b.WriteString(s[i:k])
		if v > k {
			b.WriteString(masked)
		}
		i = v
	}
	b.WriteString(s[i:])
	return b.String()
}

func nextSecretWord(lower string, from int) (int, string) {
	best, word := -1, ""
	for _, w := range secretWords {
		if j := strings.Index(lower[from:], w); j >= 0 && (best < 0 || from+j < best) {
			best, word = from+j, w
		}
	}
	return best, word
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Redact masks the values of password-like keys in s (requirepass,
// masterauth, password, token, secret ...), as every report does.
func Redact(s string) string { return redact(s) }
