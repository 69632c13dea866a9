package spec

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds the YAML nodes one document may expand to. A RedisCluster
// is a few hundred nodes; the bound stops an alias bomb ("billion laughs")
// long before it costs memory or time.
const maxNodes = 100_000

// numericStringFields are the string fields that also take a bare number,
// as Kubernetes quantities do ("size: 10" is 10 bytes, as in a PVC). Map
// values (redis.config, resources, labels, nodeSelector) take numbers too:
// "hz: 10" is how redis.conf reads. Every other string must be a string.
var numericStringFields = map[string]bool{
	"Storage.Size": true,
}

// decoder decodes one YAML document into a Go value, walking the node tree
// against the struct's json tags. Unlike yaml.v3's own decoding it reports
// every problem, each with its position and field path, instead of stopping
// at the first, and it rejects what yaml.v3 would silently accept (unknown
// and duplicate fields).
type decoder struct {
	file   string
	errs   ErrorList
	fields map[string]Position
	// bad holds the paths whose values could not be decoded, so that
	// validation does not report them again as missing or zero.
	bad   map[string]bool
	nodes int
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, fields: map[string]Position{}, bad: map[string]bool{}}
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, Error{
		File: d.file, Line: n.Line, Column: n.Column, Path: path,
		Message: fmt.Sprintf(format, args...),
	})
	d.bad[path] = true
}

var (
	durationType = reflect.TypeFor[Duration]()
	// fieldCache holds each struct type's structInfo; Parse may run
	// concurrently.
	fieldCache sync.Map
)

type structInfo struct {
	byName map[string]structField
	names  []string // in declaration order, for messages
}

type structField struct {
	index   int
	numeric bool // a string field that takes a bare number
}

// fieldsOf returns t's fields by json name; fields tagged "-" are left out.
func fieldsOf(t reflect.Type) structInfo {
	if info, ok := fieldCache.Load(t); ok {
		return info.(structInfo)
	}
	info := structInfo{byName: map[string]structField{}}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		info.byName[name] = structField{index: i, numeric: numericStringFields[t.Name()+"."+f.Name]}
		info.names = append(info.names, name)
	}
	fieldCache.Store(t, info)
	return info
}

// decode decodes n into v, which must be settable. numeric says whether a
// string target takes a bare number.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, numeric bool) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	d.nodes++
	if d.nodes == maxNodes+1 {
		d.errorf(n, path, "the document expands to more than %d YAML nodes; is an alias (*name) repeating a large value?", maxNodes)
	}
	if d.nodes > maxNodes {
		return
	}
	// null (~, null, or nothing after the colon) leaves the field unset,
	// so its default applies, as in Kubernetes.
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	if v.Type() == durationType {
		d.decodeDuration(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		d.decode(n, elem.Elem(), path, numeric)
		v.Set(elem)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.String:
		if s, ok := d.scalarString(n, path, numeric); ok {
			v.SetString(s)
		}
	case reflect.Int, reflect.Int64:
		d.decodeInt(n, v, path)
	case reflect.Bool:
		d.decodeBool(n, v, path)
	default:
		panic(fmt.Sprintf("spec: decode: unsupported Go type %s at %s", v.Type(), path))
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping of fields, got %s", describe(n))
		return
	}
	info := fieldsOf(v.Type())
	seen := map[string]*yaml.Node{}
	var suggested []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, ok := d.key(k, path)
		if !ok {
			continue
		}
		kpath := joinField(path, key)
		if first, dup := seen[key]; dup {
			d.errorf(k, kpath, "set twice (first at %d:%d); keep one", first.Line, first.Column)
			continue
		}
		seen[key] = k
		f, ok := info.byName[key]
		if !ok {
			if s := d.unknownField(k, kpath, key, path, info.names); s != "" {
				suggested = append(suggested, s)
			}
			continue
		}
		d.fields[kpath] = valuePosition(k, val)
		d.decode(val, v.Field(f.index), kpath, f.numeric)
	}
	// "masterz: 3; did you mean masters?" says enough: validation need not
	// add that masters is missing.
	for _, s := range suggested {
		if seen[s] == nil {
			d.bad[joinField(path, s)] = true
		}
	}
}

// unknownField reports key, and returns the known field it suggests, if any.
func (d *decoder) unknownField(k *yaml.Node, kpath, key, parent string, known []string) (suggested string) {
	switch {
	case key == "<<":
		d.errorf(k, kpath, "YAML merge keys (<<) are not supported; write the fields out")
	case strings.Contains(strings.ToLower(key), "password"):
		d.errorf(k, kpath, "unknown field; %s", secretsMessage)
	case suggest(key, known) != "":
		suggested = suggest(key, known)
		d.errorf(k, kpath, "unknown field; did you mean %q?", suggested)
	case parent == "":
		d.errorf(k, kpath, "unknown field; a RedisCluster has %s", strings.Join(known, ", "))
	default:
		d.errorf(k, kpath, "unknown field; %s has %s", parent, strings.Join(known, ", "))
	}
	return suggested
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(v.Type(), len(n.Content)/2))
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, ok := d.key(k, path)
		if !ok {
			continue
		}
		kpath := joinKey(path, key)
		if first, dup := seen[key]; dup {
			d.errorf(k, kpath, "set twice (first at %d:%d); keep one", first.Line, first.Column)
			continue
		}
		seen[key] = k
		d.fields[kpath] = Position{k.Line, k.Column}
		if resolve(val).ShortTag() == "!!null" {
			d.errorf(valueOrKey(k, val), kpath, `has no value; write "" for an empty string`)
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		before := len(d.errs)
		d.decode(val, elem, kpath, true)
		if len(d.errs) == before {
			v.SetMapIndex(reflect.ValueOf(key), elem)
		}
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ipath := path + "[" + strconv.Itoa(i) + "]"
		d.fields[ipath] = Position{item.Line, item.Column}
		d.decode(item, s.Index(i), ipath, false)
	}
	v.Set(s)
}

// key returns a mapping key's text. Keys must be plain scalars.
func (d *decoder) key(k *yaml.Node, path string) (string, bool) {
	k = resolve(k)
	if k.Kind != yaml.ScalarNode {
		d.errorf(k, path, "expected a field name, got %s", describe(k))
		return "", false
	}
	return k.Value, true
}

// scalarString returns the text of a string scalar, and of a number when
// numeric is set. Booleans are refused even where numbers are taken: a
// bare true is more often a mistake than the text "true".
func (d *decoder) scalarString(n *yaml.Node, path string, numeric bool) (string, bool) {
	if n.Kind == yaml.ScalarNode {
		switch tag := n.ShortTag(); {
		case tag == "!!str":
			return n.Value, true
		case numeric && (tag == "!!int" || tag == "!!float"):
			return n.Value, true
		case tag == "!!int" || tag == "!!float" || tag == "!!bool":
			d.errorf(n, path, "expected a string, got %s; quote it (%q) if you mean the text", describe(n), n.Value)
			return "", false
		}
	}
	d.errorf(n, path, "expected a string, got %s", describe(n))
	return "", false
}

func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" && bareInteger.MatchString(n.Value) {
		d.errorf(n, path, "integer %s is out of range", n.Value)
		return
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		hint := ""
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
			if _, err := strconv.ParseInt(strings.TrimSpace(n.Value), 10, 64); err == nil {
				hint = "; write the number without quotes"
			}
		}
		d.errorf(n, path, "expected an integer, got %s%s", describe(n), hint)
		return
	}
	var i int64
	if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
		d.errorf(n, path, "integer %s is out of range", n.Value)
		return
	}
	v.SetInt(i)
}

func (d *decoder) decodeBool(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.errorf(n, path, "expected true or false, got %s", describe(n))
		return
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		d.errorf(n, path, "expected true or false, got %s", describe(n))
		return
	}
	v.SetBool(b)
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		hint := ""
		if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
			hint = fmt.Sprintf("; add the unit, as in %q", n.Value+"s")
		}
		d.errorf(n, path, "expected a duration such as \"15s\", got %s%s", describe(n), hint)
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errorf(n, path, "%q is not a duration; write a number and a unit, such as \"15s\", \"1500ms\" or \"1m30s\"", n.Value)
		return
	}
	v.Set(reflect.ValueOf(Duration{dur}))
}

// bareInteger is an integer yaml.v3 resolves as a float because it does
// not fit in 64 bits.
var bareInteger = regexp.MustCompile(`^[-+]?[0-9]+$`)

// describe names a node's kind and value for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		switch tag := n.ShortTag(); tag {
		case "!!str":
			return "string " + strconv.Quote(v)
		case "!!int":
			return "integer " + v
		case "!!float":
			return "number " + v
		case "!!bool":
			return "boolean " + v
		case "!!null":
			return "nothing"
		default:
			return fmt.Sprintf("a value tagged %s", tag)
		}
	}
	return "an unexpected YAML node"
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// valuePosition is where a field's value starts; for an empty value, which
// has no place of its own, the key's.
func valuePosition(k, val *yaml.Node) Position {
	n := valueOrKey(k, val)
	return Position{n.Line, n.Column}
}

func valueOrKey(k, val *yaml.Node) *yaml.Node {
	if val.Line == 0 || (val.Kind == yaml.ScalarNode && val.ShortTag() == "!!null" && val.Value == "") {
		return k
	}
	return val
}

// joinField and joinKey build field paths: spec.redis, config["port"].
func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func joinKey(parent, key string) string {
	return parent + "[" + strconv.Quote(key) + "]"
}

// parentPath returns the path one step up from p ("" at the top). Map keys
// are Go-quoted, so a `["` inside one is always escaped as `[\"` and the
// last `["` starts the last key.
func parentPath(p string) string {
	switch {
	case strings.HasSuffix(p, `"]`):
		return p[:strings.LastIndex(p, `["`)]
	case strings.HasSuffix(p, "]"):
		return p[:strings.LastIndex(p, "[")]
	}
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i]
	}
	return ""
}

// suggest returns the known name closest to name, or "" when none is close
// enough to be what the user meant.
func suggest(name string, known []string) string {
	lname := strings.ToLower(name)
	best, bestDist := "", 3 // at most two edits
	for _, k := range known {
		lk := strings.ToLower(k)
		if lk == lname {
			return k
		}
		dist := levenshtein(lname, lk)
		if len(lname) >= 5 && (strings.HasPrefix(lk, lname) || strings.HasPrefix(lname, lk)) {
			dist = min(dist, 2)
		}
		if dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

// levenshtein is the edit distance between a and b, in bytes.
func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b)) // too long to be a typo of a known name
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// sortedKeys returns m's keys in order, so errors come out the same each run.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
