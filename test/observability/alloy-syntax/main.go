// Command alloy-syntax parses a Grafana Alloy configuration file with Alloy's own parser
// (github.com/grafana/alloy/syntax, Apache-2.0) and prints its top-level blocks as JSON, so the
// tests can check the generated pipeline parses and that every component it references exists.
// Built into .cache/bin by scripts/setup.d/50-observability-tools.sh.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/grafana/alloy/syntax/ast"
	"github.com/grafana/alloy/syntax/parser"
)

type block struct {
	Name  string `json:"name"`
	Label string `json:"label"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: alloy-syntax <file.alloy>")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	file, err := parser.ParseFile(os.Args[1], data)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	blocks := []block{}
	for _, stmt := range file.Body {
		if b, ok := stmt.(*ast.BlockStmt); ok {
			blocks = append(blocks, block{Name: strings.Join(b.Name, "."), Label: b.Label})
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(blocks); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
