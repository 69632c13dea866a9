package settings

import (
	"reflect"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ key, a, b string }{
		{"maxmemory", "100mb", "104857600"},
		{"maxmemory", "1gb", "1073741824"},
		{"maxmemory", "1g", "1000000000"},
		{"maxmemory", "512k", "512000"},
		{"maxmemory", "0", "0"},
		{"maxmemory-policy", "AllKeys-LRU", "allkeys-lru"},
		{"appendonly", "YES", "yes"},
		{"save", "3600 1  300 100", "3600 1 300 100"},
		{"save", `""`, ""},
		{"client-output-buffer-limit", "normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60",
			"normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
	} {
		if Normalize(tc.key, tc.a) != Normalize(tc.key, tc.b) {
			t.Errorf("%s: %q and %q differ: %q vs %q", tc.key, tc.a, tc.b, Normalize(tc.key, tc.a), Normalize(tc.key, tc.b))
		}
	}
	if Normalize("maxmemory", "100mb") == Normalize("maxmemory", "100m") {
		t.Error("mb and m are the same size")
	}
}

func TestCompare(t *testing.T) {
	declared := map[string]string{"maxmemory": "100mb", "maxmemory-policy": "allkeys-lru", "io-threads": "4", "hz": "10"}
	live := map[string]string{"maxmemory": "0", "maxmemory-policy": "allkeys-lru", "hz": "10"}
	want := []Diff{{Key: "maxmemory", Live: "0", Declared: "100mb"}}
	if got := Compare(declared, live); !reflect.DeepEqual(got, want) {
		t.Errorf("Compare = %v, want %v", got, want)
	}
	if got := Compare(declared, map[string]string{"maxmemory": "104857600", "maxmemory-policy": "allkeys-lru", "hz": "10"}); len(got) != 0 {
		t.Errorf("converged node differs: %v", got)
	}
}
