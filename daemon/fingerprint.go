package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"

	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/spec"
)

// fingerprints sums, per cluster key, what a push can change about it: its
// parsed spec and the objects rendered from it, or, for a cluster whose
// spec does not load, its errors. A file edit that changes neither (a
// comment, the order of keys, another cluster's file) leaves it alone.
func fingerprints(clusters []*spec.RedisCluster, loadErrs spec.ErrorList) map[string]string {
	out := map[string]string{}
	for _, c := range clusters {
		h := sha256.New()
		enc := json.NewEncoder(h)
		_ = enc.Encode(c) // a spec that loaded always encodes
		if objs, err := render.Render(c); err != nil {
			h.Write([]byte("render error: " + err.Error()))
		} else {
			_ = enc.Encode(objs.All())
		}
		out[c.Key()] = hex.EncodeToString(h.Sum(nil))
	}
	bad := map[string][]string{}
	for _, e := range loadErrs {
		if e.Cluster != "" {
			bad[e.Cluster] = append(bad[e.Cluster], e.Error())
		}
	}
	for key, errs := range bad {
		sort.Strings(errs)
		h := sha256.New()
		h.Write([]byte("spec errors"))
		for _, e := range errs {
			h.Write([]byte("\x00" + e))
		}
		out[key] = hex.EncodeToString(h.Sum(nil))
	}
	return out
}

// changedKeys are the clusters whose fingerprint differs between two
// revisions: new, changed, and gone from Git (to be pruned), sorted.
func changedKeys(old, cur map[string]string) []string {
	var out []string
	for k, v := range cur {
		if old[k] != v {
			out = append(out, k)
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
