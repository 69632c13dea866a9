package spec

import (
	"bytes"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite "+SchemaFile+" from the Go types")

// TestSchemaIsUpToDate fails when the committed schema is not what the Go
// types generate. Refresh it with: go test ./spec -run TestSchema -update
func TestSchemaIsUpToDate(t *testing.T) {
	got, err := generateSchema("types.go")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(SchemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, Schema()) {
		t.Errorf("%s is stale: the Go types changed; run: go test ./spec -run TestSchema -update", SchemaFile)
	}
}

func TestSchemaDescribesEveryField(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(Schema(), &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	spec := s["definitions"].(map[string]any)["ClusterSpec"].(map[string]any)
	props := spec["properties"].(map[string]any)
	for _, f := range []string{"masters", "replicasPerMaster", "redis", "resources", "storage", "placement", "auth", "reconcile", "migration"} {
		if _, ok := props[f]; !ok {
			t.Errorf("ClusterSpec schema has no property %q", f)
		}
	}
	if got, want := spec["additionalProperties"], false; got != want {
		t.Errorf("ClusterSpec additionalProperties = %v, want %v", got, want)
	}
}

// jsonSchema is the subset of draft-07 the generator writes. Field order is
// output order.
type jsonSchema struct {
	Schema               string                 `json:"$schema,omitempty"`
	ID                   string                 `json:"$id,omitempty"`
	Ref                  string                 `json:"$ref,omitempty"`
	Title                string                 `json:"title,omitempty"`
	Description          string                 `json:"description,omitempty"`
	Type                 any                    `json:"type,omitempty"`
	Const                any                    `json:"const,omitempty"`
	Enum                 []any                  `json:"enum,omitempty"`
	Default              any                    `json:"default,omitempty"`
	Minimum              *int                   `json:"minimum,omitempty"`
	Maximum              *int                   `json:"maximum,omitempty"`
	MinLength            *int                   `json:"minLength,omitempty"`
	MaxLength            *int                   `json:"maxLength,omitempty"`
	MinItems             *int                   `json:"minItems,omitempty"`
	Pattern              string                 `json:"pattern,omitempty"`
	Properties           *properties            `json:"properties,omitempty"`
	Required             []string               `json:"required,omitempty"`
	PropertyNames        *jsonSchema            `json:"propertyNames,omitempty"`
	AdditionalProperties any                    `json:"additionalProperties,omitempty"`
	Items                *jsonSchema            `json:"items,omitempty"`
	Not                  *jsonSchema            `json:"not,omitempty"`
	AnyOf                []*jsonSchema          `json:"anyOf,omitempty"`
	AllOf                []*jsonSchema          `json:"allOf,omitempty"`
	Definitions          map[string]*jsonSchema `json:"definitions,omitempty"`
}

// properties keeps the Go declaration order in the output.
type properties struct {
	names   []string
	schemas map[string]*jsonSchema
}

func (p *properties) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range p.names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := marshal(n)
		v, err := marshal(p.schemas[n])
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

const (
	// Kubernetes' patterns, as in its OpenAPI.
	quantityPattern  = `^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`
	dns1035Pattern   = `^[a-z]([-a-z0-9]*[a-z0-9])?$`
	dns1123Pattern   = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	subdomainPattern = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	durationPattern  = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	directivePattern = `^[a-z][a-z0-9_-]*$`
)

// constraints adds what the validation rules can say in a schema, keyed by
// Go "Type.Field". Each refers to the constants Validate uses.
var constraints = map[string]func(s *jsonSchema){
	"RedisCluster.APIVersion": func(s *jsonSchema) { s.Const = APIVersion },
	"RedisCluster.Kind":       func(s *jsonSchema) { s.Const = Kind },
	"Metadata.Name": func(s *jsonSchema) {
		s.Pattern, s.MinLength, s.MaxLength = dns1035Pattern, ptr(1), ptr(MaxNameLength)
	},
	"Metadata.Namespace": func(s *jsonSchema) {
		s.Pattern, s.MinLength, s.MaxLength = dns1123Pattern, ptr(1), ptr(63)
	},
	"Metadata.Labels": func(s *jsonSchema) {
		var reserved []any
		for _, k := range ReservedLabelKeys {
			reserved = append(reserved, k)
		}
		s.PropertyNames = &jsonSchema{Not: &jsonSchema{
			Description: "labels redis-gitops sets",
			AnyOf:       []*jsonSchema{{Enum: reserved}, {Pattern: "^" + regexp.QuoteMeta(ReservedPrefix)}},
		}}
	},
	"Metadata.Annotations": func(s *jsonSchema) {
		s.PropertyNames = &jsonSchema{Not: &jsonSchema{
			Description: "annotations redis-gitops sets",
			Pattern:     "^" + regexp.QuoteMeta(ReservedPrefix),
		}}
	},
	"ClusterSpec.Masters": func(s *jsonSchema) { s.Minimum, s.Maximum = ptr(MinMasters), ptr(MaxMasters) },
	"ClusterSpec.ReplicasPerMaster": func(s *jsonSchema) {
		s.Minimum, s.Maximum, s.Default = ptr(0), ptr(MaxReplicasPerMaster), DefaultReplicasPerMaster
	},
	"Redis.Image": func(s *jsonSchema) { s.MinLength, s.Default = ptr(1), DefaultImage },
	"Redis.Config": func(s *jsonSchema) {
		var managed []any
		for _, k := range sortedKeys(managedRedisConfig) {
			if !strings.HasSuffix(k, "*") {
				managed = append(managed, k)
			}
		}
		var prefixes []string
		for _, k := range sortedKeys(managedRedisConfig) {
			if p, ok := strings.CutSuffix(k, "*"); ok {
				prefixes = append(prefixes, p)
			}
		}
		s.PropertyNames = &jsonSchema{Pattern: directivePattern, Not: &jsonSchema{
			Description: "directives redis-gitops manages",
			AnyOf: []*jsonSchema{
				{Enum: managed},
				{Pattern: "^(" + strings.Join(prefixes, "|") + ")"},
			},
		}}
	},
	"Redis.NodeTimeout":  func(s *jsonSchema) { s.Default = Duration{DefaultNodeTimeout}.String() },
	"Resources.Requests": resourceMap,
	"Resources.Limits":   resourceMap,
	"Storage.Size": func(s *jsonSchema) {
		s.Pattern, s.Default = quantityPattern, DefaultStorageSize
	},
	"Storage.StorageClassName": func(s *jsonSchema) { s.Pattern, s.MaxLength = subdomainPattern, ptr(253) },
	"Storage.RetainOnScaleIn":  func(s *jsonSchema) { s.Default = DefaultRetainOnScaleIn },
	"Placement.TopologyKey":    func(s *jsonSchema) { s.Default = DefaultTopologyKey },
	"Placement.AntiAffinity": func(s *jsonSchema) {
		s.Enum, s.Default = []any{AntiAffinityPreferred, AntiAffinityRequired, AntiAffinityNone}, DefaultAntiAffinity
	},
	"Toleration.Operator": func(s *jsonSchema) {
		s.Enum, s.Default = []any{TolerationOpEqual, TolerationOpExists}, DefaultTolerationOp
	},
	"Toleration.Effect": func(s *jsonSchema) {
		s.Enum = []any{"", EffectNoSchedule, EffectPreferNoSchedule, EffectNoExecute}
	},
	"Toleration.TolerationSeconds": func(s *jsonSchema) { s.Minimum = ptr(0) },
	"SecretRef.Name": func(s *jsonSchema) {
		s.Pattern, s.MinLength, s.MaxLength = subdomainPattern, ptr(1), ptr(253)
	},
	"SecretRef.Key": func(s *jsonSchema) { s.Default = DefaultSecretKey },
	"Reconcile.Drift": func(s *jsonSchema) {
		s.Enum, s.Default = []any{DriftCorrect, DriftReport}, DefaultDrift
	},
	"Reconcile.Suspend":           func(s *jsonSchema) { s.Default = false },
	"Reconcile.DriftPullRequests": func(s *jsonSchema) { s.Default = false },
	"ExternalAccess.Type": func(s *jsonSchema) {
		s.Enum = []any{ExternalNodePort, ExternalLoadBalancer, ExternalHostname}
	},
	"ExternalAccess.AddressType": func(s *jsonSchema) {
		s.Enum = []any{AddressExternalIP, AddressInternalIP}
	},
	"ExternalAccess.Hostname": func(s *jsonSchema) { s.Pattern = `\{pod\}` },
	"User.Name": func(s *jsonSchema) {
		var reserved []any
		for _, n := range ReservedUserNames {
			reserved = append(reserved, n)
		}
		s.Pattern, s.MinLength, s.MaxLength = `^[A-Za-z0-9][A-Za-z0-9._-]*$`, ptr(1), ptr(MaxUserNameLength)
		s.Not = &jsonSchema{Description: "users redis-gitops runs itself", Enum: reserved}
	},
	"User.Enabled":            func(s *jsonSchema) { s.Default = true },
	"User.PasswordSecretRefs": func(s *jsonSchema) { s.MinItems = ptr(1) },
	"User.Commands": func(s *jsonSchema) {
		s.MinItems = ptr(1)
		s.Items.Pattern = `^([+-](@[a-z]+|[a-z][a-z0-9_-]*(\|[a-z][a-z0-9_-]*)?)|allcommands|nocommands)$`
	},
	"Auth.RotationGracePeriod": func(s *jsonSchema) { s.Default = Duration{DefaultRotationGracePeriod}.String() },
	"TLSSecretRef.Name": func(s *jsonSchema) {
		s.Pattern, s.MinLength, s.MaxLength = subdomainPattern, ptr(1), ptr(253)
	},
	"TLS.PlaintextPort": func(s *jsonSchema) { s.Default = false },
	"TLS.ClientAuth": func(s *jsonSchema) {
		s.Enum, s.Default = []any{ClientAuthNone, ClientAuthOptional, ClientAuthRequired}, DefaultClientAuth
	},
	"TLS.ExpiryWarning": func(s *jsonSchema) { s.Default = Duration{DefaultTLSExpiryWarning}.String() },
	"Migration.KeysPerBatch": func(s *jsonSchema) {
		s.Minimum, s.Maximum, s.Default = ptr(1), ptr(MaxKeysPerBatch), DefaultKeysPerBatch
	},
	"Migration.ParallelSlots": func(s *jsonSchema) {
		s.Minimum, s.Maximum, s.Default = ptr(1), ptr(MaxParallelSlots), DefaultParallelSlots
	},
	"Migration.Profile": func(s *jsonSchema) {
		s.Enum, s.Default = []any{MigrationGentle, MigrationFast}, MigrationGentle
	},
	"Migration.LatencyBudget": func(s *jsonSchema) { s.Default = Duration{DefaultLatencyBudget}.String() },
}

func resourceMap(s *jsonSchema) {
	s.PropertyNames = &jsonSchema{Enum: []any{"cpu", "memory"}}
	s.AdditionalProperties = &jsonSchema{Type: []string{"string", "number"}, Pattern: quantityPattern}
}

// generateSchema reflects over RedisCluster the way the decoder does (json
// names; a field without omitempty is required), with descriptions from the
// doc comments in typesFile.
func generateSchema(typesFile string) ([]byte, error) {
	docs, err := docComments(typesFile)
	if err != nil {
		return nil, err
	}
	g := &schemaGen{docs: docs, defs: map[string]*jsonSchema{}}
	root := g.object(reflect.TypeFor[RedisCluster]())
	root.Schema = "http://json-schema.org/draft-07/schema#"
	root.ID = "https://redis-gitops.dev/schemas/v1alpha1/redis-cluster.schema.json"
	root.Title = Kind
	root.Definitions = g.defs
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// marshal is json.Marshal without escaping <, > and &, which descriptions use.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

type schemaGen struct {
	docs map[string]string // "Type" and "Type.Field" → doc comment
	defs map[string]*jsonSchema
}

func (g *schemaGen) object(t reflect.Type) *jsonSchema {
	s := &jsonSchema{
		Description:          g.docs[t.Name()],
		Type:                 "object",
		Properties:           &properties{schemas: map[string]*jsonSchema{}},
		AdditionalProperties: false,
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		key := t.Name() + "." + f.Name
		fs := g.schemaOf(f.Type, numericStringFields[key])
		if fs.Ref != "" && g.docs[key] != "" {
			// draft-07 ignores the siblings of a $ref: wrap it to keep the
			// description.
			fs = &jsonSchema{Description: g.docs[key], AllOf: []*jsonSchema{fs}}
		} else {
			fs.Description = g.docs[key]
		}
		if c, ok := constraints[key]; ok {
			c(fs)
		}
		s.Properties.names = append(s.Properties.names, name)
		s.Properties.schemas[name] = fs
		if !slices.Contains(strings.Split(opts, ","), "omitempty") {
			s.Required = append(s.Required, name)
		}
	}
	return s
}

func (g *schemaGen) schemaOf(t reflect.Type, numeric bool) *jsonSchema {
	if t == durationType {
		return &jsonSchema{Type: "string", Pattern: durationPattern}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schemaOf(t.Elem(), numeric)
	case reflect.Struct:
		if _, ok := g.defs[t.Name()]; !ok {
			g.defs[t.Name()] = nil // reserve, in case of recursion
			g.defs[t.Name()] = g.object(t)
		}
		return &jsonSchema{Ref: "#/definitions/" + t.Name()}
	case reflect.Map:
		// Map values take bare numbers, as the decoder does.
		return &jsonSchema{Type: "object", AdditionalProperties: g.schemaOf(t.Elem(), true)}
	case reflect.Slice:
		return &jsonSchema{Type: "array", Items: g.schemaOf(t.Elem(), false)}
	case reflect.String:
		if numeric {
			return &jsonSchema{Type: []string{"string", "number"}}
		}
		return &jsonSchema{Type: "string"}
	case reflect.Int, reflect.Int64:
		return &jsonSchema{Type: "integer"}
	case reflect.Bool:
		return &jsonSchema{Type: "boolean"}
	}
	panic("schema: unsupported Go type " + t.String())
}

// docComments returns the doc comments of the types and fields in file,
// keyed "Type" and "Type.Field", as single lines.
func docComments(file string) (map[string]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	docs := map[string]string{}
	oneLine := func(cg *ast.CommentGroup) string { return strings.Join(strings.Fields(cg.Text()), " ") }
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil {
				doc = gd.Doc
			}
			if doc != nil {
				docs[ts.Name.Name] = oneLine(doc)
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, field := range st.Fields.List {
				if field.Doc == nil {
					continue
				}
				for _, n := range field.Names {
					docs[ts.Name.Name+"."+n.Name] = oneLine(field.Doc)
				}
			}
		}
	}
	return docs, nil
}
