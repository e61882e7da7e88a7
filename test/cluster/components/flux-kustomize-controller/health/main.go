// flux-health: kustomize-controller's own health-check evaluator for custom resources as a command,
// so the tests judge the Kustomizations' healthCheckExprs exactly as Flux does (RFC-0009 order:
// inProgress, failed, current; the built-in observedGeneration check for integer generations).
// Built from this wrapper module, so it links the fluxcd/pkg/runtime version kustomize-controller
// v1.9.4 links (go.sum), by scripts/setup.d/90-cluster-components.sh into .cache/bin.
//
// stdin:  {"exprs": {"current": "...", "inProgress": "...", "failed": "..."}, "objects": [{...}, ...]}
// stdout: [{"status": "Current|InProgress|Failed", "error": "..."}, ...], one per object.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/runtime/cel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type input struct {
	Exprs   kustomize.HealthCheckExpressions `json:"exprs"`
	Objects []map[string]any                 `json:"objects"`
}

type result struct {
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

func main() {
	var in input
	dec := json.NewDecoder(os.Stdin)
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		fail(fmt.Errorf("reading stdin: %w", err))
	}
	evaluator, err := cel.NewStatusEvaluator(&in.Exprs)
	if err != nil {
		fail(err)
	}
	out := make([]result, 0, len(in.Objects))
	for _, o := range in.Objects {
		// The API server's JSON, decoded as client-go decodes it (integers as int64).
		u := &unstructured.Unstructured{}
		raw, _ := json.Marshal(o)
		if err := u.UnmarshalJSON(raw); err != nil {
			out = append(out, result{Error: err.Error()})
			continue
		}
		r, err := evaluator.Evaluate(context.Background(), u)
		if err != nil {
			out = append(out, result{Error: err.Error()})
			continue
		}
		out = append(out, result{Status: r.Status.String()})
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "flux-health:", err)
	os.Exit(2)
}
