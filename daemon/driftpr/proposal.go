// Package driftpr decides, as pure functions, what becomes of a cluster's
// drift pull request: which drift lasts (seen on two consecutive scans),
// which spec edits would make Git catch up with the live cluster (a
// redis.config value, masters, replicasPerMaster) and which drift the spec
// cannot express, the pull request's description, and whether to open,
// update or close it. The daemon acts on the result.
package driftpr

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/reconcile/settings"
	"github.com/redis-gitops/redis-gitops/spec"
)

// Key identifies one drift entry across scans: the same field with the same
// live value. A value that changes again is new drift.
func Key(d report.DriftEntry) string {
	return strings.Join([]string{d.Source, d.Kind, d.Subject, d.Path, d.Live}, "\x00")
}

// Keys are the keys of a scan's drift.
func Keys(drift []report.DriftEntry) map[string]bool {
	out := make(map[string]bool, len(drift))
	for _, d := range drift {
		out[Key(d)] = true
	}
	return out
}

// Lasting is the drift of this scan that the previous scan saw too; none
// when there was no previous scan (a daemon that just started waits one).
func Lasting(previous map[string]bool, current []report.DriftEntry) []report.DriftEntry {
	var out []report.DriftEntry
	for _, d := range current {
		if previous[Key(d)] {
			out = append(out, d)
		}
	}
	return out
}

// Change is one spec edit proposed, with what it rests on.
type Change struct {
	spec.Edit
	// Field is the spec field as a person reads it ("redis.config maxmemory").
	Field string
	// Declared is the spec's value; Live the cluster's ("" when unset).
	Declared, Live string
	// Where names the nodes or object the live value was seen on.
	Where []string
}

// Unexpressed is lasting drift the pull request lists but does not edit.
type Unexpressed struct {
	report.DriftEntry
	// Why the spec does not take it.
	Why string
}

// Proposal is what the pull request proposes for one cluster's lasting
// drift.
type Proposal struct {
	Cluster string
	// File is the cluster's spec file in the repository.
	File        string
	Changes     []Change
	Unexpressed []Unexpressed
}

// Edits are the spec edits, in order.
func (p Proposal) Edits() []spec.Edit {
	out := make([]spec.Edit, 0, len(p.Changes))
	for _, c := range p.Changes {
		out = append(out, c.Edit)
	}
	return out
}

// Fingerprint names the proposal's content: its edits and the drift it
// lists. Equal proposals have equal fingerprints whatever the time.
func (p Proposal) Fingerprint() string {
	h := sha256.New()
	for _, c := range p.Changes {
		fmt.Fprintf(h, "edit\x00%s\x00%s\x00%v\n", c.Path, c.Value, c.Integer)
	}
	for _, u := range p.Unexpressed {
		fmt.Fprintf(h, "list\x00%s\n", Key(u.DriftEntry))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Build turns the lasting drift of cluster c into spec edits where the
// spec can say the live value, and a list of the rest. answering is how
// many Redis nodes answered the scan: a setting is proposed only when
// every one of them runs the same other value, since the spec has one
// value for all nodes.
func Build(c *spec.RedisCluster, file string, answering int, lasting []report.DriftEntry) Proposal {
	p := Proposal{Cluster: c.Key(), File: file}
	bySetting := map[string][]report.DriftEntry{}
	for _, d := range lasting {
		switch {
		case d.Source == report.SourceRedis && d.Kind == "setting" && d.Path != "":
			bySetting[d.Path] = append(bySetting[d.Path], d)
		case d.Source == report.SourceKubernetes && d.Subject == "StatefulSet "+c.Key() && d.Path == "spec.replicas":
			ch, why := countChange(c, d)
			if why != "" {
				p.Unexpressed = append(p.Unexpressed, Unexpressed{DriftEntry: d, Why: why})
				continue
			}
			p.Changes = append(p.Changes, ch)
		default:
			p.Unexpressed = append(p.Unexpressed, Unexpressed{DriftEntry: d, Why: whyNot(d)})
		}
	}
	for _, key := range slices.Sorted(maps.Keys(bySetting)) {
		ds := bySetting[key]
		ch, why := settingChange(c, key, ds, answering)
		if why != "" {
			for _, d := range ds {
				p.Unexpressed = append(p.Unexpressed, Unexpressed{DriftEntry: d, Why: why})
			}
			continue
		}
		p.Changes = append(p.Changes, ch)
	}
	slices.SortStableFunc(p.Changes, func(a, b Change) int { return cmp.Compare(a.Path, b.Path) })
	slices.SortStableFunc(p.Unexpressed, func(a, b Unexpressed) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Kind, b.Kind))
	})
	return p
}

func settingChange(c *spec.RedisCluster, key string, ds []report.DriftEntry, answering int) (Change, string) {
	live := ds[0].Live
	var pods []string
	for _, d := range ds {
		if d.Live == "***" || strings.Contains(d.Live, "***") {
			return Change{}, "the value may be a secret; it is never written to Git"
		}
		if settings.Normalize(key, d.Live) != settings.Normalize(key, live) {
			return Change{}, "the nodes run different values; the spec has one value for every node"
		}
		pods = append(pods, d.Subject)
	}
	slices.Sort(pods)
	pods = slices.Compact(pods)
	if len(pods) < answering {
		return Change{}, fmt.Sprintf("set on %d of %d nodes; the spec has one value for every node", len(pods), answering)
	}
	declared := c.Spec.Redis.Config[key]
	return Change{
		Edit:     spec.Edit{Path: fmt.Sprintf("spec.redis.config[%q]", key), Value: sameUnit(declared, live)},
		Field:    "redis.config " + key,
		Declared: declared, Live: live, Where: pods,
	}, ""
}

// sameUnit writes a memory size in the unit the spec used for it, when it
// divides evenly ("209715200" as "200mb" where the spec said "100mb"):
// Redis prints bytes, people write units.
func sameUnit(declared, live string) string {
	n, err := strconv.ParseInt(live, 10, 64)
	if err != nil || n <= 0 {
		return live
	}
	d := strings.ToLower(strings.TrimSpace(declared))
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}} {
		if strings.HasSuffix(d, u.suffix) && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return live
}

// countChange reads a StatefulSet scaled by hand as a replica count (or,
// when that cannot be, a master count).
func countChange(c *spec.RedisCluster, d report.DriftEntry) (Change, string) {
	n, err := strconv.Atoi(d.Live)
	if err != nil || n <= 0 {
		return Change{}, "not a pod count"
	}
	masters, per := c.Spec.Masters, 1+c.Spec.Replicas()
	switch {
	case n%masters == 0 && n/masters-1 <= spec.MaxReplicasPerMaster:
		r := n/masters - 1
		return Change{Edit: spec.Edit{Path: "spec.replicasPerMaster", Value: strconv.Itoa(r), Integer: true},
			Field: "replicasPerMaster", Declared: strconv.Itoa(c.Spec.Replicas()), Live: strconv.Itoa(r), Where: []string{d.Subject + " has " + d.Live + " pods"}}, ""
	case n%per == 0 && n/per >= spec.MinMasters && n/per <= spec.MaxMasters:
		m := n / per
		return Change{Edit: spec.Edit{Path: "spec.masters", Value: strconv.Itoa(m), Integer: true},
			Field: "masters", Declared: strconv.Itoa(masters), Live: strconv.Itoa(m), Where: []string{d.Subject + " has " + d.Live + " pods"}}, ""
	}
	return Change{}, fmt.Sprintf("%d pods are not masters × (1 + replicas per master) for any count the spec takes", n)
}

func whyNot(d report.DriftEntry) string {
	switch {
	case d.Source == report.SourceKubernetes:
		return "the spec has no field for it"
	case d.Kind == "password":
		return "passwords never go to Git"
	}
	return "a state of the cluster, not a setting: no spec field says it"
}
