// Package settings compares the redis.conf settings a spec declares with
// the values each live node reports (CONFIG GET), as pure functions: what
// differs, and in which form Redis itself would print the declared value,
// so that "100mb" and "104857600" are the same setting and a converged
// node needs no CONFIG SET (invariant 7).
package settings

import (
	"sort"
	"strconv"
	"strings"
)

// Diff is one setting whose live value differs from the declared one.
type Diff struct {
	Key      string `json:"key" yaml:"key"`
	Live     string `json:"live" yaml:"live"`
	Declared string `json:"declared" yaml:"declared"`
}

// Compare returns the declared settings whose live value differs, sorted
// by key. A key the node does not report (live has no entry) is left out:
// Redis does not know it at runtime, and only a restart can apply it.
func Compare(declared, live map[string]string) []Diff {
	var out []Diff
	for k, want := range declared {
		got, ok := live[k]
		if !ok {
			continue
		}
		if Normalize(k, want) != Normalize(k, got) {
			out = append(out, Diff{Key: k, Live: got, Declared: want})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Normalize is the value as CONFIG GET would print it, as far as the
// comparison needs: lower case, single spaces, and memory sizes ("1gb",
// "512k") in bytes, in every word of the value (client-output-buffer-limit
// has several). Redis reads k as 1000 and kb as 1024.
func Normalize(key, value string) string {
	words := strings.Fields(strings.ToLower(value))
	for i, w := range words {
		if n, ok := memory(w); ok {
			words[i] = strconv.FormatInt(n, 10)
		}
	}
	s := strings.Join(words, " ")
	if s == `""` || s == "''" {
		return ""
	}
	return s
}

var units = []struct {
	suffix string
	mult   int64
}{
	{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10},
	{"g", 1000 * 1000 * 1000}, {"m", 1000 * 1000}, {"k", 1000}, {"b", 1},
}

func memory(w string) (int64, bool) {
	for _, u := range units {
		if num, ok := strings.CutSuffix(w, u.suffix); ok && num != "" {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				return 0, false
			}
			return n * u.mult, true
		}
	}
	return 0, false
}
