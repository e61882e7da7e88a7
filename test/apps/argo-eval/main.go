// argo-eval runs Argo Rollouts' own code (v1.9.1, the version the cluster runs) on what the
// charts render, so the tests check it with the real implementation, not a copy:
//
//	argo-eval conditions   evaluate analysis success/failure conditions (utils/evaluate.EvaluateResult)
//	argo-eval abort        replay an abort with trafficRouting and dynamicStableScale: the stable
//	                       and canary sizes from utils/replicaset (CalculateReplicaCountsForTrafficRoutedCanary,
//	                       GetDesiredCanaryWeight), the weight as rollout/trafficrouting.go sets it
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
//
// notify: stdin is {"configMap": {...}, "secret": {...}, "rollout": {...}, "reason": "RolloutPaused"}:
// the notifications config (argo-rollouts-notification-configmap as the chart renders it, and its
// Secret), a Rollout, and the event reason the controller records. It sends that event's
// notifications with the controller's own settings (utils/record.NewAPIFactorySettings) through
// notifications-engine, exactly as utils/record's sendNotifications does (global subscriptions,
// then the Rollout's subscribe annotations; the trigger named after the reason), to the real service
// URLs (a test points HTTPS_PROXY and SSL_CERT_FILE at its stand-ins). stdout is a JSON array of
// {"trigger", "service", "error"}, one per destination.
package main

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/validation"
	analysisutil "github.com/argoproj/argo-rollouts/utils/analysis"
	"github.com/argoproj/argo-rollouts/utils/evaluate"
	"github.com/argoproj/argo-rollouts/utils/record"
	replicasetutil "github.com/argoproj/argo-rollouts/utils/replicaset"
	"github.com/argoproj/argo-rollouts/utils/weightutil"
	"github.com/argoproj/notifications-engine/pkg/api"
	"github.com/argoproj/notifications-engine/pkg/subscriptions"
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
	Rollout           v1alpha1.Rollout             `json:"rollout"`
	AnalysisTemplates []*v1alpha1.AnalysisTemplate `json:"analysisTemplates"`
	Services          []*corev1.Service            `json:"services"`
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

type notifyCase struct {
	ConfigMap corev1.ConfigMap `json:"configMap"`
	Secret    corev1.Secret    `json:"secret"`
	Rollout   v1alpha1.Rollout `json:"rollout"`
	Reason    string           `json:"reason"`
}

type notifyResult struct {
	Trigger string `json:"trigger"`
	Service string `json:"service"`
	Error   string `json:"error,omitempty"`
}

// The key notifications-engine gives a trigger condition (sha1, base64url), as record.go compares it.
func conditionHash(when string) string {
	h := sha1.Sum([]byte(when))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// The trigger of an event reason, as utils/record's translateReasonToTrigger names it.
func triggerOf(reason string) string {
	t := regexp.MustCompile("(.)([A-Z][a-z]+)").ReplaceAllString(reason, "${1}-${2}")
	t = regexp.MustCompile("([a-z0-9])([A-Z])").ReplaceAllString(t, "${1}-${2}")
	return "on-" + strings.ToLower(t)
}

func notify(input []byte) any {
	var c notifyCase
	if err := json.Unmarshal(input, &c); err != nil {
		fail("notify input must be {configMap, secret, rollout, reason}: %v", err)
	}
	log.SetOutput(io.Discard)
	cfg, err := api.ParseConfig(&c.ConfigMap, &c.Secret)
	if err != nil {
		fail("notifications config: %v", err)
	}
	getVars, err := record.NewAPIFactorySettings(nil).InitGetVars(cfg, &c.ConfigMap, &c.Secret)
	if err != nil {
		fail("notifications vars: %v", err)
	}
	notificationsAPI, err := api.NewAPI(*cfg, getVars)
	if err != nil {
		fail("notifications API: %v", err)
	}
	// The Rollout as a map, the way the controller's toObjectMap makes it (json round trip of the typed object).
	raw, err := json.Marshal(&c.Rollout)
	if err != nil {
		fail("%v", err)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		fail("%v", err)
	}
	trigger := triggerOf(c.Reason)
	dests := cfg.GetGlobalDestinations(c.Rollout.GetLabels())
	dests.Merge(subscriptions.NewAnnotations(c.Rollout.GetAnnotations()).GetDestinations(cfg.DefaultTriggers, cfg.ServiceDefaultTriggers))
	out := []notifyResult{}
	emptyCondition := conditionHash("")
	for _, dest := range dests[trigger] {
		results, err := notificationsAPI.RunTrigger(trigger, obj)
		if err != nil {
			out = append(out, notifyResult{Trigger: trigger, Service: dest.Service, Error: err.Error()})
			continue
		}
		for _, r := range results {
			// A condition without `when` always sends; one with it sends when it held (as record.go does).
			if strings.Split(r.Key, ".")[1] != emptyCondition && !r.Triggered {
				continue
			}
			res := notifyResult{Trigger: trigger, Service: dest.Service}
			if err := notificationsAPI.Send(obj, r.Templates, dest); err != nil {
				res.Error = err.Error()
			}
			out = append(out, res)
		}
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
	case "notify":
		out = notify(input)
	case "abort":
		out = abort(input)
	default:
		fail("unknown mode %q; use conditions, validate, notify or abort", mode)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("%v", err)
	}
}

// abort: stdin is a JSON array of {"steps": [10, 25, 50, 100], "weight": 50, "replicas": 2} (the
// setWeight values in order, the step weight the rollout is at, spec.replicas); stdout is a JSON
// array of {"stableBefore", "canaryBefore", "rounds", "weights", "peakPods"}: the ReplicaSets' sizes
// at that step as the controller sets them, then the abort, reconcile by reconcile, until the canary
// weight is 0: how often it waits for new stable pods to become available ("rounds"), the canary
// weight after each change, and the most pods of both sets at once. Canary pods removed stop counting
// at once; new stable pods count when nothing else can move (a round).
type abortCase struct {
	Steps    []int32 `json:"steps"`
	Weight   int32   `json:"weight"`
	Replicas int32   `json:"replicas"`
}

type abortResult struct {
	StableBefore int32   `json:"stableBefore"`
	CanaryBefore int32   `json:"canaryBefore"`
	Rounds       int     `json:"rounds"`
	Weights      []int32 `json:"weights"`
	PeakPods     int32   `json:"peakPods"`
	Error        string  `json:"error,omitempty"`
}

func available(n int32) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{}
	rs.Status.AvailableReplicas = n
	return rs
}

func trafficWeights(canary int32) *v1alpha1.TrafficWeights {
	return &v1alpha1.TrafficWeights{Canary: v1alpha1.WeightDestination{Weight: canary}, Stable: v1alpha1.WeightDestination{Weight: 100 - canary}}
}

// abortWeight is rollout/trafficrouting.go calculateDesiredWeightOnAbortOrStableRollback (a method
// of the unexported rolloutContext) with the weights set, as it is after a step.
func abortWeight(ro *v1alpha1.Rollout, newRS, stableRS *appsv1.ReplicaSet) int32 {
	maxWeight := weightutil.MaxTrafficWeight(ro)
	desiredCanaryWeight := replicasetutil.GetDesiredCanaryWeight(ro, newRS, stableRS)
	expectedCanaryWeight := max(0, maxWeight-((maxWeight*stableRS.Status.AvailableReplicas) / *ro.Spec.Replicas))
	currentCanaryWeight := ro.Status.Canary.Weights.Canary.Weight
	if desiredCanaryWeight <= 0 {
		return min(expectedCanaryWeight, currentCanaryWeight)
	}
	currentStableReplicasWeight := (maxWeight * stableRS.Status.AvailableReplicas) / *ro.Spec.Replicas
	if desiredCanaryWeight > 0 && currentStableReplicasWeight < (maxWeight-desiredCanaryWeight) {
		return currentCanaryWeight
	}
	return min(desiredCanaryWeight, currentCanaryWeight)
}

func abortReplay(c abortCase) abortResult {
	replicas := c.Replicas
	var steps []v1alpha1.CanaryStep
	stepIndex := int32(-1)
	for i, w := range c.Steps {
		weight := w
		steps = append(steps, v1alpha1.CanaryStep{SetWeight: &weight})
		if w == c.Weight && stepIndex < 0 {
			stepIndex = int32(i)
		}
	}
	if stepIndex < 0 {
		return abortResult{Error: fmt.Sprintf("weight %d is not a step", c.Weight)}
	}
	ro := &v1alpha1.Rollout{
		Spec: v1alpha1.RolloutSpec{
			Replicas: &replicas,
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				StableService: "stable", CanaryService: "canary", DynamicStableScale: true,
				TrafficRouting: &v1alpha1.RolloutTrafficRouting{Traefik: &v1alpha1.TraefikTrafficRouting{WeightedTraefikServiceName: "weighted"}},
				Steps:          steps,
			}},
		},
		Status: v1alpha1.RolloutStatus{StableRS: "stable", CurrentPodHash: "canary", CurrentStepIndex: &stepIndex},
	}
	ro.Status.Canary.Weights = trafficWeights(c.Weight)
	// At the step: the sizes the controller keeps there (the weights applied, the pods available).
	canary, stable := replicasetutil.CalculateReplicaCountsForTrafficRoutedCanary(ro, available(0), available(replicas), ro.Status.Canary.Weights)
	newRS, stableRS := available(canary), available(stable)
	out := abortResult{StableBefore: stable, CanaryBefore: canary, PeakPods: stable + canary, Weights: []int32{}}

	ro.Status.Abort = true
	weight := c.Weight
	canaryWhenRequested := int32(-1)
	for i := 0; i < 100; i++ {
		start := weight
		ro.Status.Canary.Weights = trafficWeights(start)
		weight = abortWeight(ro, newRS, stableRS)
		// The ReplicaSets' sizes from the weights this reconcile started with.
		canaryTarget, stableTarget := replicasetutil.CalculateReplicaCountsForTrafficRoutedCanary(ro, newRS, stableRS, ro.Status.Canary.Weights)
		if stableTarget > stableRS.Status.AvailableReplicas {
			if canaryWhenRequested < 0 {
				canaryWhenRequested = newRS.Status.AvailableReplicas
			}
			out.PeakPods = max(out.PeakPods, stableTarget+canaryWhenRequested)
		}
		canaryRemoved := canaryTarget < newRS.Status.AvailableReplicas
		if canaryRemoved {
			newRS = available(canaryTarget)
		}
		if weight != start {
			out.Weights = append(out.Weights, weight)
		}
		if weight == 0 {
			return out
		}
		if weight != start || canaryRemoved {
			continue
		}
		if stableTarget > stableRS.Status.AvailableReplicas {
			stableRS = available(stableTarget)
			canaryWhenRequested = -1
			out.Rounds++
			continue
		}
		out.Error = fmt.Sprintf("stalls at weight %d (stable %d, canary %d)", weight, stableRS.Status.AvailableReplicas, newRS.Status.AvailableReplicas)
		return out
	}
	out.Error = "does not converge"
	return out
}

func abort(input []byte) []abortResult {
	var cases []abortCase
	if err := json.Unmarshal(input, &cases); err != nil {
		fail("abort: %v", err)
	}
	out := make([]abortResult, len(cases))
	for i, c := range cases {
		out[i] = abortReplay(c)
	}
	return out
}
