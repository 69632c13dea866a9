package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Parse reads the RedisCluster documents of one file (several may be
// separated by "---" lines), strictly: unknown fields, wrong types and
// duplicate fields are errors. Each document is defaulted (SetDefaults) and
// validated (Validate). Parse returns the clusters without errors and the
// errors of the others, sorted: a document with errors is left out, the
// other documents of the file are kept. Two documents with the same
// namespace/name are both left out (see Load).
//
// file names the data in errors and in each cluster's Source; Parse does
// not open it.
func Parse(file string, data []byte) ([]*RedisCluster, ErrorList) {
	docs, errs := parseFile(file, data)
	clusters, dups := keepValid(docs)
	errs = append(errs, dups...)
	errs.Sort()
	return clusters, errs
}

// document is a parsed document; valid when it had no error.
type document struct {
	c     *RedisCluster
	valid bool
}

func parseFile(file string, data []byte) ([]document, ErrorList) {
	var (
		docs []document
		errs ErrorList
	)
	for _, chunk := range splitDocuments(data) {
		nodes, err := parseYAML(chunk.data)
		for _, n := range nodes {
			shiftLines(n, chunk.line-1)
			c, derrs := parseDocument(file, n)
			errs = append(errs, derrs...)
			if c != nil {
				docs = append(docs, document{c: c, valid: len(derrs) == 0})
			}
		}
		if err != nil {
			errs = append(errs, syntaxError(file, chunk.line, err))
		}
	}
	return docs, errs
}

// chunk is the text of one YAML document (rarely, of several, when "..."
// ends one without a "---" starting the next), and its first line.
type chunk struct {
	line int
	data []byte
}

// splitDocuments cuts data before each "---" line, so that a syntax error
// in one document does not hide the documents after it: yaml.v3 cannot go
// on after an error. A "---" at the start of a line always starts a
// document in YAML (it may not appear there inside a scalar), so the cut
// never falls inside one. Directive lines ("%YAML ...") stay with the
// document they precede.
func splitDocuments(data []byte) []chunk {
	var (
		chunks []chunk
		start  = 0 // byte offset of the current chunk
		line   = 1 // line of the current chunk
		// onlyDirectives: the current chunk so far holds directives,
		// comments and blank lines, and at least one directive.
		onlyDirectives, sawDirective = true, false
	)
	for off, n := 0, 1; off < len(data); n++ {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += off + 1
		}
		text := bytes.TrimRight(data[off:end], "\r\n")
		switch {
		case isDocumentStart(text) && off > start && !(onlyDirectives && sawDirective):
			chunks = append(chunks, chunk{line: line, data: data[start:off]})
			start, line = off, n
			onlyDirectives, sawDirective = true, false
		case bytes.HasPrefix(text, []byte("%")):
			sawDirective = true
		case len(bytes.TrimSpace(text)) == 0 || bytes.HasPrefix(bytes.TrimSpace(text), []byte("#")):
		default:
			onlyDirectives = false
		}
		off = end
	}
	if start < len(data) {
		chunks = append(chunks, chunk{line: line, data: data[start:]})
	}
	return chunks
}

func isDocumentStart(line []byte) bool {
	return bytes.HasPrefix(line, []byte("---")) &&
		(len(line) == 3 || line[3] == ' ' || line[3] == '\t')
}

// parseYAML returns the documents of data as node trees, and the syntax
// error that stopped it, if any. yaml.v3 panics on a few malformed inputs;
// a daemon reading a Git repo must survive them, so the panic becomes an
// error like any other.
func parseYAML(data []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser failed on this document: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return docs, err
		}
		docs = append(docs, &doc)
	}
}

// shiftLines moves a document's positions from its chunk to its file.
func shiftLines(n *yaml.Node, by int) {
	if by == 0 {
		return
	}
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError places a yaml.v3 error. yaml.v3 gives no column, and gives
// no line when the problem is on the chunk's first line.
func syntaxError(file string, chunkLine int, err error) Error {
	msg := err.Error()
	line := chunkLine
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		line, msg = chunkLine-1+n, m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return Error{File: file, Line: line, Message: "invalid YAML: " + msg}
}

// parseDocument decodes, defaults and validates one document. It returns a
// nil cluster for an empty document.
func parseDocument(file string, doc *yaml.Node) (*RedisCluster, ErrorList) {
	root := doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		root = doc.Content[0]
	}
	root = resolve(root)
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil // only comments, or an empty document between "---" lines
	}
	if root.Kind != yaml.MappingNode {
		return nil, ErrorList{{File: file, Line: root.Line, Column: root.Column,
			Message: fmt.Sprintf("expected a RedisCluster (a mapping with apiVersion, kind, metadata and spec), got %s", describe(root))}}
	}
	// A document of another kind gets one error, not one per field.
	if k := lookup(root, "kind"); k != nil && k.Kind == yaml.ScalarNode && k.Value != Kind {
		return nil, ErrorList{{File: file, Line: k.Line, Column: k.Column, Path: "kind",
			Message: fmt.Sprintf("this is a %q, not a %s; only %s documents belong with the cluster specs", k.Value, Kind, Kind)}}
	}

	d := newDecoder(file)
	c := &RedisCluster{}
	d.decode(root, reflect.ValueOf(c).Elem(), "", false)
	c.Source = Source{File: file, Line: root.Line, Fields: d.fields}
	errs := d.errs
	zeros := c.explicitZeros()
	c.SetDefaults()
	for _, e := range append(zeros, c.Validate()...) {
		if !d.reported(e.Path) {
			errs = append(errs, e)
		}
	}
	if c.Metadata.Name != "" && c.Metadata.Namespace != "" {
		for i := range errs {
			errs[i].Cluster = c.Key()
		}
	}
	return c, errs
}

// reported says whether path, or a field it is in, already has a decoding
// error: validating the zero value left behind would only repeat it.
func (d *decoder) reported(path string) bool {
	for p := path; ; p = parentPath(p) {
		if d.bad[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// lookup returns the value of key in mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := resolve(m.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
			return resolve(m.Content[i+1])
		}
	}
	return nil
}

// keepValid returns the valid clusters, leaving out every cluster whose
// namespace/name is declared more than once (valid or not), with an error
// at each later declaration naming the first. Keeping the first would make
// the applied spec depend on file order, and a new file could silently
// take a cluster over; leaving all out applies none until the user removes
// the others.
func keepValid(docs []document) ([]*RedisCluster, ErrorList) {
	var errs ErrorList
	first := map[string]*RedisCluster{}
	dup := map[string]bool{}
	for _, d := range docs {
		c := d.c
		if c.Metadata.Name == "" || c.Metadata.Namespace == "" {
			continue
		}
		f, ok := first[c.Key()]
		if !ok {
			first[c.Key()] = c
			continue
		}
		dup[c.Key()] = true
		pos := c.locate("metadata.name")
		fpos := f.locate("metadata.name")
		errs = append(errs, Error{
			File: c.Source.File, Line: pos.Line, Column: pos.Column, Path: "metadata.name", Cluster: c.Key(),
			Message: fmt.Sprintf("cluster %s is already declared at %s:%d:%d; declare each cluster once (none of its declarations is applied until then)",
				c.Key(), f.Source.File, fpos.Line, fpos.Column),
		})
	}
	var kept []*RedisCluster
	for _, d := range docs {
		if d.valid && !dup[d.c.Key()] {
			kept = append(kept, d.c)
		}
	}
	return kept, errs
}
