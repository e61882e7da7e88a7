// argo-eval runs Argo Rollouts' own code (v1.9.1, the version the cluster runs) on what the
// charts render, so the tests check it with the real implementation, not a copy:
//
//	argo-eval conditions   evaluate analysis success/failure conditions (utils/evaluate.EvaluateResult)
//	argo-eval validate     validate Rollouts and their AnalysisTemplates and Services the way the
//	                       controller does before it acts (pkg/apis/rollouts/validation, utils/analysis)
//
// conditions: stdin is a JSON array of cases
//
//	[{"successCondition": "...", "failureCondition": "...", "result": [0.98, "NaN"]}]
//
// where result is the Prometheus provider's vector (numbers, or "NaN"/"+Inf"/"-Inf"); stdout is a
// JSON array of {"phase": "Successful|Failed|Inconclusive|Error", "error": "..."}.
//
// validate: stdin is a JSON array of {"rollout": {...}, "analysisTemplates": [...], "services": [...]}
// (the rendered objects); stdout is a JSON array of error lists, one per rollout (empty when valid).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/validation"
	analysisutil "github.com/argoproj/argo-rollouts/utils/analysis"
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

type validateCase struct {
	Rollout           v1alpha1.Rollout            `json:"rollout"`
	AnalysisTemplates []*v1alpha1.AnalysisTemplate `json:"analysisTemplates"`
	Services          []*corev1.Service           `json:"services"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "argo-eval: "+format+"\n", args...)
	os.Exit(2)
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

func conditions(input []byte) any {
	var cases []evalCase
	if err := json.Unmarshal(input, &cases); err != nil {
		fail("conditions input must be a JSON array of cases: %v", err)
	}
	logger := log.New()
	logger.SetOutput(io.Discard)
	out := make([]evalResult, 0, len(cases))
	for _, c := range cases {
		result := make([]float64, 0, len(c.Result))
		for _, raw := range c.Result {
			f, err := value(raw)
			if err != nil {
				fail("%v", err)
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
	return out
}

// templatesNamed returns the AnalysisTemplates a Rollout references, or an error naming a missing one.
func templatesNamed(refs []v1alpha1.AnalysisTemplateRef, all []*v1alpha1.AnalysisTemplate) ([]*v1alpha1.AnalysisTemplate, []string) {
	var found []*v1alpha1.AnalysisTemplate
	var missing []string
	for _, ref := range refs {
		ok := false
		for _, t := range all {
			if t.Name == ref.TemplateName {
				found = append(found, t)
				ok = true
			}
		}
		if !ok {
			missing = append(missing, fmt.Sprintf("AnalysisTemplate %q referenced but not rendered", ref.TemplateName))
		}
	}
	return found, missing
}

func validate(input []byte) any {
	var cases []validateCase
	if err := json.Unmarshal(input, &cases); err != nil {
		fail("validate input must be a JSON array of {rollout, analysisTemplates, services}: %v", err)
	}
	out := make([][]string, 0, len(cases))
	for _, c := range cases {
		errs := []string{}
		ro := &c.Rollout
		for _, e := range validation.ValidateRollout(ro) {
			errs = append(errs, e.Error())
		}
		refs := validation.ReferencedResources{}
		if canary := ro.Spec.Strategy.Canary; canary != nil {
			if canary.Analysis != nil {
				ts, missing := templatesNamed(canary.Analysis.Templates, c.AnalysisTemplates)
				errs = append(errs, missing...)
				refs.AnalysisTemplatesWithType = append(refs.AnalysisTemplatesWithType, validation.AnalysisTemplatesWithType{
					AnalysisTemplates: ts, TemplateType: validation.BackgroundAnalysis, Args: canary.Analysis.Args,
				})
			}
			for i, step := range canary.Steps {
				if step.Analysis == nil {
					continue
				}
				ts, missing := templatesNamed(step.Analysis.Templates, c.AnalysisTemplates)
				errs = append(errs, missing...)
				refs.AnalysisTemplatesWithType = append(refs.AnalysisTemplatesWithType, validation.AnalysisTemplatesWithType{
					AnalysisTemplates: ts, TemplateType: validation.InlineAnalysis, CanaryStepIndex: i, Args: step.Analysis.Args,
				})
			}
			for _, svc := range c.Services {
				switch svc.Name {
				case canary.StableService:
					refs.ServiceWithType = append(refs.ServiceWithType, validation.ServiceWithType{Service: svc, Type: validation.StableService})
				case canary.CanaryService:
					refs.ServiceWithType = append(refs.ServiceWithType, validation.ServiceWithType{Service: svc, Type: validation.CanaryService})
				}
			}
		}
		for _, e := range validation.ValidateRolloutReferencedResources(ro, refs) {
			errs = append(errs, e.Error())
		}
		// What the analysis controller checks before it runs a template's metrics.
		for _, t := range c.AnalysisTemplates {
			if err := analysisutil.ValidateMetrics(t.Spec.Metrics); err != nil {
				errs = append(errs, fmt.Sprintf("AnalysisTemplate %s: %v", t.Name, err))
			}
		}
		out = append(out, errs)
	}
	return out
}

func main() {
	mode := "conditions"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("%v", err)
	}
	var out any
	switch mode {
	case "conditions":
		out = conditions(input)
	case "validate":
		out = validate(input)
	default:
		fail("unknown mode %q; use conditions or validate", mode)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("%v", err)
	}
}
