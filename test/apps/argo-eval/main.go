// argo-eval evaluates Argo Rollouts analysis conditions with Argo Rollouts' own code
// (utils/evaluate.EvaluateResult, v1.9.1, the version the cluster runs), so the tests check the
// verdict conditions the AnalysisTemplates carry with the real expression engine, not a copy.
//
// Input (stdin): a JSON array of cases
//
//	[{"successCondition": "...", "failureCondition": "...", "result": [0.98, "NaN"]}]
//
// where result is the Prometheus provider's vector (numbers, or "NaN"/"+Inf"/"-Inf").
// Output (stdout): a JSON array of {"phase": "Successful|Failed|Inconclusive|Error", "error": "..."}.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/evaluate"
	log "github.com/sirupsen/logrus"
)

type evalCase struct {
	SuccessCondition string            `json:"successCondition"`
	FailureCondition string            `json:"failureCondition"`
	Result           []json.RawMessage `json:"result"`
}

type evalResult struct {
	Phase string `json:"phase"`
	Error string `json:"error,omitempty"`
}

func value(raw json.RawMessage) (float64, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		return f, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("result entries must be numbers or strings like \"NaN\": %s", raw)
	}
	return strconv.ParseFloat(s, 64)
}

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var cases []evalCase
	if err := json.Unmarshal(input, &cases); err != nil {
		fmt.Fprintln(os.Stderr, "argo-eval: input must be a JSON array of cases:", err)
		os.Exit(2)
	}
	logger := log.New()
	logger.SetOutput(io.Discard)
	out := make([]evalResult, 0, len(cases))
	for _, c := range cases {
		result := make([]float64, 0, len(c.Result))
		for _, raw := range c.Result {
			f, err := value(raw)
			if err != nil {
				fmt.Fprintln(os.Stderr, "argo-eval:", err)
				os.Exit(2)
			}
			result = append(result, f)
		}
		metric := v1alpha1.Metric{SuccessCondition: c.SuccessCondition, FailureCondition: c.FailureCondition}
		// The Prometheus provider passes a vector result as []float64 (metricproviders/prometheus).
		phase, err := evaluate.EvaluateResult(result, metric, *log.NewEntry(logger))
		r := evalResult{Phase: string(phase)}
		if err != nil {
			r.Error = err.Error()
		}
		out = append(out, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
