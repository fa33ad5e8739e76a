package regionctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	apiclient "github.com/regiond/regiond/gen/client"
)

// OutputFlag selects how regions are printed.
type OutputFlag struct {
	Output string `short:"o" enum:"table,json,yaml" default:"table" help:"Output format: table, json or yaml."`
}

// statusNames are the names of the statuses, as the API describes them.
var statusNames = map[apiclient.RegionStatus]string{
	apiclient.RegionStatusEditing:     "editing",
	apiclient.RegionStatusEnabled:     "enabled",
	apiclient.RegionStatusDisabled:    "disabled",
	apiclient.RegionStatusMaintenance: "maintenance",
}

// parseStatus accepts a status as the API writes it ("0".."3") or by name.
func parseStatus(s string) (apiclient.RegionStatus, error) {
	s = strings.TrimSpace(s)
	if st := apiclient.RegionStatus(s); st.Valid() {
		return st, nil
	}
	for st, name := range statusNames {
		if strings.EqualFold(s, name) {
			return st, nil
		}
	}
	return "", usagef("invalid status %q: use 0 (editing), 1 (enabled), 2 (disabled) or 3 (maintenance)", s)
}

// printRegions prints regions as the server sent them (raw JSON objects, so that JSON and YAML keep
// the API's members and their order).
func printRegions(w io.Writer, format string, items []json.RawMessage) error {
	switch format {
	case "json":
		return writeJSON(w, joinArray(items))
	case "yaml":
		return writeYAML(w, joinArray(items))
	}
	return writeTable(w, items)
}

// printRegion prints one region as the server sent it.
func printRegion(w io.Writer, format string, item []byte) error {
	switch format {
	case "json":
		return writeJSON(w, item)
	case "yaml":
		return writeYAML(w, item)
	}
	return writeTable(w, []json.RawMessage{item})
}

func joinArray(items []json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteByte(']')
	return b.Bytes()
}

func writeJSON(w io.Writer, raw []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return fmt.Errorf("the server sent JSON that does not parse: %v", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

func writeTable(w io.Writer, items []json.RawMessage) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION_ID\tNAME\tALIAS\tSTATUS\tSCOPE\tURL")
	for _, it := range items {
		var r apiclient.RegionInfoResp
		if err := json.Unmarshal(it, &r); err != nil {
			return fmt.Errorf("the server sent a region that does not parse: %v", err)
		}
		status := string(r.Status)
		if name, ok := statusNames[r.Status]; ok {
			status += " " + name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(r.RegionId), cell(r.RegionName), cell(r.RegionAlias),
			cell(status), cell(string(r.Scope)), cell(r.Url))
	}
	return tw.Flush()
}

// cell keeps a value on its line and in its column.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// writeYAML prints JSON as YAML with the same keys in the same order. Strings stay strings:
// status "1" is written "1" (quoted), not the number 1.
func writeYAML(w io.Writer, raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	node, err := jsonToYAML(dec)
	if err != nil {
		return fmt.Errorf("the server sent JSON that does not parse: %v", err)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return err
	}
	return enc.Close()
}

func jsonToYAML(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	scalar := func(tag, value string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
	}
	switch v := tok.(type) {
	case json.Delim:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v == '{' {
			n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		for dec.More() {
			if v == '{' {
				key, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, scalar("!!str", key.(string)))
			}
			child, err := jsonToYAML(dec)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, child)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return scalar("!!str", v), nil
	case json.Number:
		if strings.ContainsAny(v.String(), ".eE") {
			return scalar("!!float", v.String()), nil
		}
		return scalar("!!int", v.String()), nil
	case bool:
		return scalar("!!bool", fmt.Sprint(v)), nil
	case nil:
		return scalar("!!null", "null"), nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}
