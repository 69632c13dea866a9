package spec

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Edit is one value to set in a cluster's spec document.
type Edit struct {
	// Path names the field as Error.Path does: "spec.masters",
	// `spec.redis.config["maxmemory"]`.
	Path string
	// Value is the new value: an integer's digits, or a string's text.
	Value string
	// Integer writes Value as a YAML integer (masters, replicasPerMaster);
	// otherwise it is a string, quoted only when YAML needs it.
	Integer bool
}

// EditFile sets values in the document of cluster ("namespace/name") in a
// spec file and returns the file with only those values' lines changed:
// comments, blank lines, indentation, quoting and flow style stay as they
// were. The yaml.v3 node of each field says where its value is; the new
// value is spliced into the text there (re-encoding the node tree would
// re-indent and reflow the whole document). A field that does not exist yet
// is added as the last entry of its nearest existing parent mapping, with
// the parents it lacks. Values are edited in order; an edit that cannot be
// made in place (a multi-line or block scalar, a field whose parent is not a
// mapping) is an error and the file is returned unchanged.
func EditFile(data []byte, cluster string, edits []Edit) ([]byte, error) {
	out := data
	for _, e := range edits {
		next, err := editOne(out, cluster, e)
		if err != nil {
			return data, fmt.Errorf("edit %s of %s: %w", e.Path, cluster, err)
		}
		out = next
	}
	return out, nil
}

func editOne(data []byte, cluster string, e Edit) ([]byte, error) {
	keys, err := splitPath(e.Path)
	if err != nil {
		return nil, err
	}
	root, err := findDocument(data, cluster)
	if err != nil {
		return nil, err
	}
	lines := lineStarts(data)
	// Walk down as far as the document goes.
	m := root
	for i, k := range keys {
		if m.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s is not a mapping", strings.Join(keys[:i], "."))
		}
		key, val := entry(m, k)
		if key == nil {
			return insert(data, lines, m, keys[i:], e)
		}
		if i == len(keys)-1 {
			return replaceScalar(data, lines, val, e)
		}
		m = resolve(val)
	}
	return nil, fmt.Errorf("empty path")
}

// findDocument returns the root mapping of the document declaring cluster,
// its positions in lines of the whole file.
func findDocument(data []byte, cluster string) (*yaml.Node, error) {
	ns, name, _ := strings.Cut(cluster, "/")
	for _, ch := range splitDocuments(data) {
		docs, err := parseYAML(ch.data)
		if err != nil {
			continue // not this one's to fix here; Parse reports it
		}
		for _, d := range docs {
			if d.Kind != yaml.DocumentNode || len(d.Content) == 0 {
				continue
			}
			root := resolve(d.Content[0])
			if root.Kind != yaml.MappingNode {
				continue
			}
			md := lookup(root, "metadata")
			if md == nil || md.Kind != yaml.MappingNode {
				continue
			}
			n, s := lookup(md, "name"), lookup(md, "namespace")
			if n != nil && s != nil && n.Value == name && s.Value == ns {
				shiftLines(root, ch.line-1)
				return root, nil
			}
		}
	}
	return nil, fmt.Errorf("no document declares %s", cluster)
}

// entry returns the key and value nodes of key in mapping m.
func entry(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := resolve(m.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

var pathPart = regexp.MustCompile(`^(?:\.?([A-Za-z0-9_-]+)|\[("(?:[^"\\]|\\.)*")\])`)

// splitPath reads `spec.redis.config["maxmemory"]` as its keys.
func splitPath(p string) ([]string, error) {
	var keys []string
	for rest := p; rest != ""; {
		m := pathPart.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("path %q: cannot read %q", p, rest)
		}
		if m[1] != "" {
			keys = append(keys, m[1])
		} else {
			k, err := strconv.Unquote(m[2])
			if err != nil {
				return nil, fmt.Errorf("path %q: %w", p, err)
			}
			keys = append(keys, k)
		}
		rest = rest[len(m[0]):]
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("empty path")
	}
	return keys, nil
}

// lineStarts are the byte offsets where each line begins (index 0 is line 1).
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// offset is the byte offset of a 1-based line and column (yaml.v3 counts
// columns in characters).
func offset(data []byte, lines []int, line, col int) int {
	off := lines[line-1]
	for c := 1; c < col && off < len(data); c++ {
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	return off
}

// replaceScalar replaces the text of scalar n with e's value, in n's style.
func replaceScalar(data []byte, lines []int, n *yaml.Node, e Edit) ([]byte, error) {
	if n.Kind != yaml.ScalarNode || n.Alias != nil {
		return nil, fmt.Errorf("the value at line %d is not a plain value", n.Line)
	}
	start := offset(data, lines, n.Line, n.Column)
	end, err := scalarEnd(data, start, n)
	if err != nil {
		return nil, err
	}
	var text string
	switch {
	case e.Integer:
		text = e.Value
	case n.Style&yaml.SingleQuotedStyle != 0:
		text = "'" + strings.ReplaceAll(e.Value, "'", "''") + "'"
	case n.Style&yaml.DoubleQuotedStyle != 0:
		text = strconv.Quote(e.Value)
	default:
		text = yamlString(e.Value)
	}
	return splice(data, start, end, text), nil
}

// scalarEnd is the offset just past scalar n's text starting at start.
func scalarEnd(data []byte, start int, n *yaml.Node) (int, error) {
	line := n.Line
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return 0, fmt.Errorf("the value at line %d is a block scalar", line)
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(data) && data[i] != '\n'; i++ {
			switch data[i] {
			case '\\':
				i++
			case '"':
				return i + 1, nil
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(data) && data[i] != '\n'; i++ {
			if data[i] == '\'' {
				if i+1 < len(data) && data[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, nil
			}
		}
	default:
		if end := start + len(n.Value); bytes.HasPrefix(data[start:], []byte(n.Value)) && !bytes.Contains(data[start:end], []byte("\n")) {
			return end, nil
		}
	}
	return 0, fmt.Errorf("the value at line %d spans lines", line)
}

// insert adds keys (the first missing in mapping m, then its children) with
// e's value as the last entry of m.
func insert(data []byte, lines []int, m *yaml.Node, keys []string, e Edit) ([]byte, error) {
	value := yamlString(e.Value)
	if e.Integer {
		value = e.Value
	}
	if m.Style&yaml.FlowStyle != 0 {
		// {a: 1} becomes {a: 1, key: {child: value}}.
		text := yamlKey(keys[len(keys)-1]) + ": " + value
		for i := len(keys) - 2; i >= 0; i-- {
			text = yamlKey(keys[i]) + ": {" + text + "}"
		}
		close, err := flowClose(data, lines, m)
		if err != nil {
			return nil, err
		}
		if len(m.Content) > 0 {
			text = ", " + text
		}
		return splice(data, close, close, text), nil
	}
	if len(m.Content) == 0 {
		return nil, fmt.Errorf("the mapping at line %d is empty", m.Line)
	}
	indent := m.Content[0].Column - 1
	step := 2
	if child := childIndent(m); child > indent {
		step = child - indent
	}
	var b strings.Builder
	for i, k := range keys {
		b.WriteString(strings.Repeat(" ", indent+i*step))
		b.WriteString(yamlKey(k))
		if i == len(keys)-1 {
			b.WriteString(": " + value)
		} else {
			b.WriteString(":")
		}
		b.WriteString("\n")
	}
	last := lastLine(m)
	at := len(data)
	if last < len(lines) {
		at = lines[last]
	}
	text := b.String()
	if at == len(data) && len(data) > 0 && data[len(data)-1] != '\n' {
		text = "\n" + text
	}
	return splice(data, at, at, text), nil
}

// flowClose is the offset of the "}" that closes flow mapping m.
func flowClose(data []byte, lines []int, m *yaml.Node) (int, error) {
	pos := offset(data, lines, m.Line, m.Column) + 1
	if n := len(m.Content); n > 0 {
		last := m.Content[n-1]
		switch {
		case last.Kind == yaml.ScalarNode:
			end, err := scalarEnd(data, offset(data, lines, last.Line, last.Column), last)
			if err != nil {
				return 0, err
			}
			pos = end
		case last.Kind == yaml.MappingNode && last.Style&yaml.FlowStyle != 0:
			end, err := flowClose(data, lines, last)
			if err != nil {
				return 0, err
			}
			pos = end + 1
		default:
			return 0, fmt.Errorf("the flow mapping at line %d ends in a value that cannot be followed", m.Line)
		}
	}
	for pos < len(data) && strings.IndexByte(" \t\r\n,", data[pos]) >= 0 {
		pos++
	}
	if pos >= len(data) || data[pos] != '}' {
		return 0, fmt.Errorf("the flow mapping at line %d: no closing brace where expected", m.Line)
	}
	return pos, nil
}

// childIndent is the indentation of the first nested block mapping found
// under m, to indent new levels alike; 0 when there is none.
func childIndent(m *yaml.Node) int {
	for i := 1; i < len(m.Content); i += 2 {
		v := resolve(m.Content[i])
		if v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
			return v.Content[0].Column - 1
		}
	}
	return 0
}

// lastLine is the last line any node under n starts on.
func lastLine(n *yaml.Node) int {
	last := n.Line
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	return last
}

func splice(data []byte, start, end int, text string) []byte {
	out := make([]byte, 0, len(data)-(end-start)+len(text))
	out = append(out, data[:start]...)
	out = append(out, text...)
	return append(out, data[end:]...)
}

var plainSafe = regexp.MustCompile(`^[A-Za-z0-9_./][A-Za-z0-9_./ +-]*$`)

// yamlString writes s as a YAML scalar the spec reads back as s: plain
// when that is unambiguous (numbers too: redis.config takes them as
// text), double-quoted otherwise.
func yamlString(s string) string {
	if plainSafe.MatchString(s) && !strings.HasSuffix(s, " ") {
		var v any
		if err := yaml.Unmarshal([]byte(s), &v); err == nil {
			switch v.(type) {
			case string, int, float64:
				return s
			}
		}
	}
	return strconv.Quote(s)
}

// yamlKey writes a mapping key, plain when it can be.
func yamlKey(k string) string {
	if plainSafe.MatchString(k) && !strings.ContainsAny(k, " ") {
		return k
	}
	return strconv.Quote(k)
}
