package spec

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Reference renders the JSON Schema as a Markdown field reference: every
// field with its path, type, default, limits and description. It is made
// from the same schema editors validate with, so the two never disagree
// (docs/spec.md is its output; a test fails when that file is stale).
func Reference() (string, error) {
	var s refSchema
	if err := json.Unmarshal(schema, &s); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("# RedisCluster reference\n\n")
	b.WriteString("<!-- Generated from spec/redis-cluster.schema.json by `go test ./spec -run TestReference -update`; do not edit. -->\n\n")
	b.WriteString(s.Description + "\n\n")
	b.WriteString("| Field | Type | Default | Description |\n|---|---|---|---|\n")
	s.walk(&b, "", &s, map[string]bool{})
	b.WriteString("\nDefaults are applied in one place (`SetDefaults` in `spec/defaults.go`); cross-field rules (a zone key differing from the topology key, a hostname only with type Hostname, ...) are checked by `redis-gitops validate` and listed in `spec/doc.go`.\n")
	return b.String(), nil
}

type refSchema struct {
	Description string                `json:"description"`
	Type        any                   `json:"type"`
	Const       any                   `json:"const"`
	Default     any                   `json:"default"`
	Enum        []any                 `json:"enum"`
	Minimum     *float64              `json:"minimum"`
	Maximum     *float64              `json:"maximum"`
	MinLength   *int                  `json:"minLength"`
	MaxLength   *int                  `json:"maxLength"`
	Pattern     string                `json:"pattern"`
	Properties  map[string]*refSchema `json:"properties"`
	Required    []string              `json:"required"`
	Items       *refSchema            `json:"items"`
	AllOf       []*refSchema          `json:"allOf"`
	Ref         string                `json:"$ref"`
	AddProps    json.RawMessage       `json:"additionalProperties"`
	Definitions map[string]*refSchema `json:"definitions"`
}

// resolve follows allOf/$ref to the definition, keeping the field's own
// description.
func (root *refSchema) resolve(s *refSchema) *refSchema {
	for _, a := range s.AllOf {
		if a.Ref != "" {
			return root.Definitions[strings.TrimPrefix(a.Ref, "#/definitions/")]
		}
	}
	if s.Ref != "" {
		return root.Definitions[strings.TrimPrefix(s.Ref, "#/definitions/")]
	}
	return s
}

func (root *refSchema) walk(b *strings.Builder, prefix string, s *refSchema, seen map[string]bool) {
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	// Schema order is Go field order, which json.Unmarshal into a map
	// loses; required fields first, then by name, keeps it readable.
	req := map[string]bool{}
	for _, r := range s.Required {
		req[r] = true
	}
	sort.SliceStable(names, func(i, j int) bool {
		if req[names[i]] != req[names[j]] {
			return req[names[i]]
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		f := s.Properties[n]
		path := n
		if prefix != "" {
			path = prefix + "." + n
		}
		def := root.resolve(f)
		typ := typeOf(def)
		if def.Items != nil {
			it := root.resolve(def.Items)
			typ = "list of " + typeOf(it)
			if len(it.Properties) > 0 {
				root.row(b, path, typ, f, def, req[n])
				root.walk(b, path+"[]", it, seen)
				continue
			}
		}
		root.row(b, path, typ, f, def, req[n])
		if len(def.Properties) > 0 {
			root.walk(b, path, def, seen)
		}
	}
}

func typeOf(s *refSchema) string {
	switch t := s.Type.(type) {
	case string:
		return t
	case []any:
		var parts []string
		for _, x := range t {
			parts = append(parts, fmt.Sprint(x))
		}
		return strings.Join(parts, " or ")
	}
	if len(s.Properties) > 0 {
		return "object"
	}
	return ""
}

func (root *refSchema) row(b *strings.Builder, path, typ string, field, def *refSchema, required bool) {
	var notes []string
	if required {
		notes = append(notes, "required")
	}
	c := def
	if field.Const != nil || field.Enum != nil || field.Minimum != nil || field.Pattern != "" || field.Default != nil {
		c = field
	}
	if c.Const != nil {
		notes = append(notes, fmt.Sprintf("`%v`", c.Const))
	}
	if len(c.Enum) > 0 {
		var vs []string
		for _, v := range c.Enum {
			vs = append(vs, fmt.Sprintf("`%v`", v))
		}
		notes = append(notes, "one of "+strings.Join(vs, ", "))
	}
	if c.Minimum != nil || c.Maximum != nil {
		lo, hi := "", ""
		if c.Minimum != nil {
			lo = fmt.Sprint(*c.Minimum)
		}
		if c.Maximum != nil {
			hi = fmt.Sprint(*c.Maximum)
		}
		notes = append(notes, lo+"–"+hi)
	}
	if c.Pattern != "" {
		notes = append(notes, "pattern `"+strings.ReplaceAll(c.Pattern, "|", `\|`)+"`")
	}
	if typ == "object" && len(def.Properties) == 0 && len(def.AddProps) > 0 {
		typ = "map"
	}
	t := typ
	if len(notes) > 0 {
		t += "; " + strings.Join(notes, "; ")
	}
	d := ""
	if c.Default != nil {
		d = fmt.Sprintf("`%v`", c.Default)
	}
	desc := field.Description
	if desc == "" {
		desc = def.Description
	}
	desc = strings.ReplaceAll(strings.ReplaceAll(desc, "|", `\|`), "\n", " ")
	fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", path, t, d, desc)
}
