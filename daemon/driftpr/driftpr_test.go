package driftpr

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis-gitops/redis-gitops/reconcile/report"
	"github.com/redis-gitops/redis-gitops/spec"
)

func cluster(t *testing.T, config string) *spec.RedisCluster {
	t.Helper()
	cs, errs := spec.Parse("clusters/cache.yaml", []byte("apiVersion: redis-gitops.dev/v1alpha1\nkind: RedisCluster\nmetadata:\n  name: cache\n  namespace: prod\nspec:\n  masters: 3\n  replicasPerMaster: 1\n  redis:\n    config:\n"+config))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return cs[0]
}

func setting(pod, key, live, desired string) report.DriftEntry {
	return report.DriftEntry{Source: report.SourceRedis, Kind: "setting", Subject: pod, Path: key, Live: live, Desired: desired, Detail: "differs from the spec"}
}

var (
	maxmem = []report.DriftEntry{
		setting("cache-0", "maxmemory", "209715200", "100mb"), setting("cache-1", "maxmemory", "209715200", "100mb"),
		setting("cache-2", "maxmemory", "209715200", "100mb"), setting("cache-3", "maxmemory", "209715200", "100mb"),
		setting("cache-4", "maxmemory", "209715200", "100mb"), setting("cache-5", "maxmemory", "209715200", "100mb"),
	}
	grace = report.DriftEntry{Source: report.SourceKubernetes, Kind: report.KindLiveEdit, Subject: "StatefulSet prod/cache",
		Path: "spec.template.spec.terminationGracePeriodSeconds", Live: "9", Desired: "30", Managers: []string{"kubectl-patch"}, Detail: "left as is: nothing is written in this mode"}
	placement = report.DriftEntry{Source: report.SourceRedis, Kind: "placement", Subject: "cache-4", Detail: "replica of cache-1, should follow cache-2"}
)

func TestBuild(t *testing.T) {
	c := cluster(t, "      maxmemory: 100mb\n      maxmemory-policy: allkeys-lru\n")
	for _, tc := range []struct {
		name        string
		lasting     []report.DriftEntry
		answering   int
		edits       []spec.Edit
		unexpressed []string // Why, in order
	}{
		{"a setting changed on every node becomes its redis.config edit, in the spec's unit", maxmem, 6,
			[]spec.Edit{{Path: `spec.redis.config["maxmemory"]`, Value: "200mb"}}, nil},
		{"on some nodes only, it is listed", maxmem[:4], 6, nil,
			[]string{"set on 4 of 6 nodes; the spec has one value for every node", "set on 4 of 6 nodes; the spec has one value for every node",
				"set on 4 of 6 nodes; the spec has one value for every node", "set on 4 of 6 nodes; the spec has one value for every node"}},
		{"different values are listed", []report.DriftEntry{setting("cache-0", "maxmemory-policy", "noeviction", "allkeys-lru"), setting("cache-1", "maxmemory-policy", "volatile-lru", "allkeys-lru")}, 2, nil,
			[]string{"the nodes run different values; the spec has one value for every node", "the nodes run different values; the spec has one value for every node"}},
		{"a StatefulSet field the spec cannot say is listed, not edited", append([]report.DriftEntry{grace}, maxmem...), 6,
			[]spec.Edit{{Path: `spec.redis.config["maxmemory"]`, Value: "200mb"}}, []string{"the spec has no field for it"}},
		{"topology drift is listed", []report.DriftEntry{placement}, 6, nil, []string{"a state of the cluster, not a setting: no spec field says it"}},
		{"a StatefulSet scaled by hand becomes a replica count", []report.DriftEntry{{Source: report.SourceKubernetes, Kind: report.KindLiveEdit, Subject: "StatefulSet prod/cache", Path: "spec.replicas", Live: "9", Desired: "6"}}, 6,
			[]spec.Edit{{Path: "spec.replicasPerMaster", Value: "2", Integer: true}}, nil},
		{"or a master count", []report.DriftEntry{{Source: report.SourceKubernetes, Kind: report.KindLiveEdit, Subject: "StatefulSet prod/cache", Path: "spec.replicas", Live: "8", Desired: "6"}}, 6,
			[]spec.Edit{{Path: "spec.masters", Value: "4", Integer: true}}, nil},
		{"a pod count no spec gives is listed", []report.DriftEntry{{Source: report.SourceKubernetes, Kind: report.KindLiveEdit, Subject: "StatefulSet prod/cache", Path: "spec.replicas", Live: "7", Desired: "6"}}, 6,
			nil, []string{"7 pods are not masters × (1 + replicas per master) for any count the spec takes"}},
		{"a masked value is never proposed", []report.DriftEntry{setting("cache-0", "masterauth", "***", "***")}, 1, nil, []string{"the value may be a secret; it is never written to Git"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Build(c, "clusters/cache.yaml", tc.answering, tc.lasting)
			if got, want := fmt.Sprintf("%+v", p.Edits()), fmt.Sprintf("%+v", append([]spec.Edit{}, tc.edits...)); got != want {
				t.Errorf("edits = %s, want %s", got, want)
			}
			var why []string
			for _, u := range p.Unexpressed {
				why = append(why, u.Why)
			}
			if got, want := fmt.Sprintf("%q", why), fmt.Sprintf("%q", tc.unexpressed); got != want {
				t.Errorf("listed because %s, want %s", got, want)
			}
		})
	}
}

func TestLasting(t *testing.T) {
	first := []report.DriftEntry{maxmem[0], grace}
	second := []report.DriftEntry{maxmem[0], setting("cache-1", "maxmemory", "1gb", "100mb"), placement}
	if got := Lasting(nil, first); len(got) != 0 {
		t.Errorf("the first scan's drift lasts: %v", got)
	}
	got := Lasting(Keys(first), second)
	if len(got) != 1 || Key(got[0]) != Key(maxmem[0]) {
		t.Errorf("Lasting = %v, want only cache-0's maxmemory", got)
	}
	// The same field with another live value is new drift.
	if got := Lasting(Keys(first), []report.DriftEntry{setting("cache-0", "maxmemory", "1gb", "100mb")}); len(got) != 0 {
		t.Errorf("a new value lasts at once: %v", got)
	}
}

func TestDecide(t *testing.T) {
	c := cluster(t, "      maxmemory: 100mb\n")
	proposal := Build(c, "clusters/cache.yaml", 6, maxmem)
	fp := proposal.Fingerprint()
	other := Build(c, "clusters/cache.yaml", 6, append([]report.DriftEntry{grace}, maxmem...)).Fingerprint()
	unexpressedOnly := Build(c, "clusters/cache.yaml", 6, []report.DriftEntry{grace})
	for _, tc := range []struct {
		name string
		in   Input
		want Action
	}{
		{"drift on its first scan waits", Input{Enabled: true, Mode: spec.DriftReport, Complete: true, Current: maxmem}, Nothing},
		{"lasting drift opens one", Input{Enabled: true, Mode: spec.DriftReport, Complete: true, Current: maxmem, Lasting: maxmem, Proposal: proposal}, Open},
		{"under drift: correct too, when it outlasts the correction", Input{Enabled: true, Mode: spec.DriftCorrect, Complete: true, Current: maxmem, Lasting: maxmem, Proposal: proposal}, Open},
		{"off: nothing opens", Input{Enabled: false, Mode: spec.DriftReport, Complete: true, Current: maxmem, Lasting: maxmem, Proposal: proposal}, Nothing},
		{"off: an open one closes", Input{Enabled: false, Complete: true, Latest: &Existing{Number: 7, Open: true, Fingerprint: fp}}, Close},
		{"an incomplete scan decides nothing", Input{Enabled: true, Complete: false, Latest: &Existing{Number: 7, Open: true, Fingerprint: fp}}, Nothing},
		{"the open one, current, stays", Input{Enabled: true, Mode: spec.DriftReport, Complete: true, Current: maxmem, Lasting: maxmem, Proposal: proposal,
			Latest: &Existing{Number: 7, Open: true, Fingerprint: fp}}, Nothing},
		{"new drift updates the open one", Input{Enabled: true, Mode: spec.DriftReport, Complete: true, Current: maxmem, Lasting: maxmem, Proposal: proposal,
			Latest: &Existing{Number: 7, Open: true, Fingerprint: other}}, Update},
		{"new drift not lasting yet leaves the open one", Input{Enabled: true, Mode: spec.DriftReport, Complete: true, Current: []report.DriftEntry{placement},
			Latest: &Existing{Number: 7, Open: true, Fingerprint: fp}}, Nothing},
		{"drift gone closes the open one", Input{Enabled: true, Mode: spec.DriftCorrect, Complete: true, Latest: &Existing{Number: 7, Open: true, Fingerprint: fp}}, Close},
		{"drift gone, nothing open: nothing", Input{Enabled: true, Mode: spec.DriftReport, Complete: true, Latest: &Existing{Number: 7, Merged: true, Fingerprint: fp}}, Nothing},
		{"only drift the spec cannot say, lasting: the open one closes", Input{Enabled: true, Mode: spec.DriftReport, Complete: true, Current: []report.DriftEntry{grace},
			Lasting: []report.DriftEntry{grace}, Proposal: unexpressedOnly, Latest: &Existing{Number: 7, Open: true, Fingerprint: fp}}, Close},
		{"only drift the spec cannot say: none opens", Input{Enabled: true, Mode: spec.DriftReport, Complete: true, Current: []report.DriftEntry{grace},
			Lasting: []report.DriftEntry{grace}, Proposal: unexpressedOnly}, Nothing},
		{"closed unmerged: the same proposal is not opened again", Input{Enabled: true, Mode: spec.DriftReport, Complete: true, Current: maxmem, Lasting: maxmem, Proposal: proposal,
			Latest: &Existing{Number: 7, Fingerprint: fp}}, Nothing},
		{"closed unmerged: another proposal opens a new one", Input{Enabled: true, Mode: spec.DriftReport, Complete: true, Current: maxmem, Lasting: maxmem, Proposal: proposal,
			Latest: &Existing{Number: 7, Fingerprint: other}}, Open},
		{"merged, before its revision applies: not opened again", Input{Enabled: true, Mode: spec.DriftReport, Complete: true, Current: maxmem, Lasting: maxmem, Proposal: proposal,
			Latest: &Existing{Number: 7, Merged: true, Fingerprint: fp}}, Nothing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.in); got.Action != tc.want {
				t.Errorf("Decide = %s (%s), want %s", got.Action, got.Reason, tc.want)
			}
		})
	}
	if got := Decide(Input{Enabled: true, Mode: spec.DriftCorrect, Complete: true, Latest: &Existing{Number: 7, Open: true}}); !strings.Contains(got.Reason, "drift: correct") {
		t.Errorf("close reason under drift: correct = %q", got.Reason)
	}
}

func TestBody(t *testing.T) {
	c := cluster(t, "      maxmemory: 100mb\n")
	p := Build(c, "clusters/cache.yaml", 6, append([]report.DriftEntry{grace}, maxmem...))
	since := time.Date(2026, 12, 5, 17, 58, 0, 0, time.UTC)
	body := Body(p, spec.DriftReport, since, []string{"planned: CONFIG SET maxmemory 100mb on 6 nodes"})
	for _, want := range []string{
		Marker("prod/cache") + "\n",
		"| `redis.config maxmemory` | `100mb` | `209715200` (written `200mb`) | cache-0, cache-1, cache-2, cache-3, cache-4, cache-5 |",
		"| StatefulSet prod/cache | `spec.template.spec.terminationGracePeriodSeconds` | `9` | `30` | kubectl-patch | the spec has no field for it",
		"`drift: report`", "2026-12-05 17:58 UTC", "planned: CONFIG SET maxmemory 100mb on 6 nodes",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	ours, fp, gotSince := ParseBody("prod/cache", body)
	if !ours || fp != p.Fingerprint() || !gotSince.Equal(since) {
		t.Errorf("ParseBody = %v %q %v, want true %q %v", ours, fp, gotSince, p.Fingerprint(), since)
	}
	if ours, _, _ := ParseBody("prod/other", body); ours {
		t.Error("another cluster's body taken as ours")
	}
	if got := Title(p); got != "redis-gitops: prod/cache drifted (redis.config maxmemory)" {
		t.Errorf("Title = %q", got)
	}
}
