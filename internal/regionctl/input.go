package regionctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// readInput reads -f: a file, or stdin for "-". A file that cannot be read is a bad command
// line (exit 2), as a missing flag is.
func (rc *runContext) readInput(path string) ([]byte, error) {
	if path == "-" {
		data, err := io.ReadAll(rc.stdin)
		if err != nil {
			return nil, fmt.Errorf("reading stdin: %v", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("%v", err) // *PathError names the file
	}
	return data, nil
}

// name is how messages call the input.
func inputName(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}

// regionJSON reads a region from a YAML or JSON document and returns it as a JSON object, without
// region_id: ids are made by the server, and leaving it out lets the output of `get -o yaml` be
// applied as it is. Every field of a region is a string, so in YAML a plain `status: 1` is the
// string "1", as it reads; JSON is taken exactly as it is written.
func regionJSON(data []byte, name string) ([]byte, error) {
	body, err := toJSON(data, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("%s: a region must be a mapping (an object) of its fields", name)
	}
	if _, ok := obj["region_id"]; !ok {
		return body, nil
	}
	delete(obj, "region_id")
	return json.Marshal(obj)
}

// toJSON returns JSON as it is, and converts YAML to JSON. A document that starts like JSON is
// read as JSON, so that JSON keeps its exact meaning. stringFields reads the plain numbers and
// booleans of a top-level YAML mapping as the text they are written with.
func toJSON(data []byte, stringFields bool) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("is empty")
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		if !json.Valid(trimmed) {
			var v any
			err := json.Unmarshal(trimmed, &v)
			return nil, fmt.Errorf("is not valid JSON: %v", err)
		}
		return trimmed, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("is not valid YAML: %v", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("holds more than one YAML document; give one region per file")
	}
	if root := &doc; stringFields && len(root.Content) == 1 && root.Content[0].Kind == yaml.MappingNode {
		fields := root.Content[0].Content
		for i := 1; i < len(fields); i += 2 {
			if v := fields[i]; v.Kind == yaml.ScalarNode && v.Style == 0 && slices.Contains([]string{"!!int", "!!float", "!!bool"}, v.ShortTag()) {
				v.Tag = "!!str"
			}
		}
	}
	v, err := yamlValue(&doc)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// yamlValue converts a YAML node to a JSON value. Scalars keep the type YAML gives them, except
// that timestamps stay the text that was written: JSON has no time type.
func yamlValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0])
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	case yaml.MappingNode:
		obj := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" {
				return nil, fmt.Errorf("line %d: YAML merge keys (<<) are not supported", k.Line)
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key must be a plain value", k.Line)
			}
			if _, dup := obj[k.Value]; dup {
				return nil, fmt.Errorf("line %d: %s is given twice", k.Line, k.Value)
			}
			val, err := yamlValue(v)
			if err != nil {
				return nil, err
			}
			obj[k.Value] = val
		}
		return obj, nil
	case yaml.SequenceNode:
		arr := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := yamlValue(c)
			if err != nil {
				return nil, err
			}
			arr = append(arr, val)
		}
		return arr, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, fmt.Errorf("line %d: %v", n.Line, err)
			}
			if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
				return nil, fmt.Errorf("line %d: %s cannot be written in JSON", n.Line, n.Value)
			}
			if u, ok := v.(uint64); ok { // beyond int64: keep the digits
				return json.Number(strconv.FormatUint(u, 10)), nil
			}
			return v, nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML", n.Line)
}
