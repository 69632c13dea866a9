package spec

import (
	_ "embed"
	"slices"
)

//go:generate go test -run TestSchemaIsUpToDate -update .

// SchemaFile is the name of the JSON Schema in this package's directory.
const SchemaFile = "redis-cluster.schema.json"

//go:embed redis-cluster.schema.json
var schema []byte

// Schema returns the JSON Schema (draft-07) of a RedisCluster document, for
// editors (yaml-language-server) and CI. It is generated from the Go types,
// their doc comments and the validation limits, and checks what it can
// express: fields, types, enums, ranges and patterns, not the cross-field
// rules.
func Schema() []byte { return slices.Clone(schema) }
