package adopt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/redis-gitops/redis-gitops/spec"
)

// Write prints c as a YAML spec file, its fields in the order of the spec's
// types (as the examples write them) and only those set, after a comment
// saying where it came from and the notes, one comment line each.
func Write(w io.Writer, c *spec.RedisCluster, from string, notes []Note) error {
	doc, err := specNode(c)
	if err != nil {
		return fmt.Errorf("write spec %s: %w", c.Key(), err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by `redis-gitops adopt --from %s` from the live cluster.\n", from)
	fmt.Fprintf(&b, "# Review it, then commit it: the daemon takes the cluster over (spec.adopt).\n")
	if len(notes) > 0 {
		b.WriteString("#\n# Not carried over, or chosen for you:\n")
		for _, n := range notes {
			b.WriteString("#   - " + strings.ReplaceAll(n.String(), "\n", " ") + "\n")
		}
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write spec %s: %w", c.Key(), err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write spec %s: %w", c.Key(), err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// specNode is c as a YAML node tree. The spec's types carry JSON names and
// omitempty; JSON is YAML, so the JSON encoding read back by yaml.v3 keeps
// the names and the field order, then turns into block style with empty
// mappings (a spec.placement with nothing set) dropped.
func specNode(c *spec.RedisCluster) (*yaml.Node, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	blockStyle(&doc, false)
	return &doc, nil
}

// blockStyle makes n block-style YAML and drops the mapping entries
// whose value is an empty mapping (a spec.placement with nothing set) or
// a zero Duration (omitempty does not omit a struct). A string YAML 1.1
// would read as a boolean ("yes") is quoted, for the people and tools
// that still read it so; the encoder quotes those YAML 1.2 would misread
// ("0") by itself.
func blockStyle(n *yaml.Node, inConfig bool) {
	n.Style = 0
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && yaml11Bool[strings.ToLower(n.Value)] {
		n.Style = yaml.DoubleQuotedStyle
	}
	if n.Kind != yaml.MappingNode {
		for _, c := range n.Content {
			blockStyle(c, inConfig)
		}
		return
	}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		blockStyle(k, inConfig)
		blockStyle(v, inConfig || k.Value == "config")
		if v.Kind == yaml.MappingNode && len(v.Content) == 0 || !inConfig && v.Kind == yaml.ScalarNode && v.Value == "0s" {
			continue
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
}

// yaml11Bool are the words YAML 1.1 reads as booleans.
var yaml11Bool = map[string]bool{"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true, "true": true, "false": true}
