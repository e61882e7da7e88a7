// netpol-eval runs a real NetworkPolicy evaluator on what the charts render: the policy matcher of
// Cyclonus (github.com/mattfenwick/cyclonus/pkg/matcher, MIT), the engine that the Kubernetes SIG
// Network's policy-assistant (sigs.k8s.io/network-policy-api, cmd/policy-assistant) was forked from
// and still carries for v1 NetworkPolicies. policy-assistant itself cannot be built from the Go
// module proxy: its module path (sigs.k8s.io/network-policy-api/policy-assistant) does not match its
// directory (cmd/policy-assistant), so the proxy serves no version of it. Built by
// scripts/setup.d/42-netpol-eval.sh into .cache/bin; this file is only the JSON front end.
//
// stdin: {"policies": [NetworkPolicy, ...], "traffic": [case, ...]} where a case is
//
//	{"name": "...", "protocol": "TCP|UDP|SCTP", "port": 5432,
//	 "source":      {"ip": "10.42.0.10", "internal": {"namespace": "...", "namespaceLabels": {...}, "podLabels": {...}}},
//	 "destination": {"ip": "203.0.113.10"}}                      (no "internal": outside the cluster)
//
// stdout: a JSON array, one result per case, in order:
//
//	{"name": "...", "allowed": bool,
//	 "egress":  {"allowed": bool, "allowedBy": ["ns/policy", ...], "selectedBy": ["ns/policy", ...]},
//	 "ingress": {...}}
//
// selectedBy lists every policy whose podSelector picks the side's pod for that direction (none:
// the pod is not isolated and the direction is allowed); allowedBy those of them with a rule that
// admits the traffic. Policies are matched as written (no simplification).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

type peer struct {
	IP       string `json:"ip"`
	Internal *struct {
		Namespace       string            `json:"namespace"`
		NamespaceLabels map[string]string `json:"namespaceLabels"`
		PodLabels       map[string]string `json:"podLabels"`
	} `json:"internal,omitempty"`
}

type trafficCase struct {
	Name        string `json:"name"`
	Protocol    string `json:"protocol"`
	Port        int    `json:"port"`
	PortName    string `json:"portName"`
	Source      peer   `json:"source"`
	Destination peer   `json:"destination"`
}

type input struct {
	Policies []*networkingv1.NetworkPolicy `json:"policies"`
	Traffic  []trafficCase                 `json:"traffic"`
}

type direction struct {
	Allowed    bool     `json:"allowed"`
	AllowedBy  []string `json:"allowedBy"`
	SelectedBy []string `json:"selectedBy"`
}

type result struct {
	Name    string    `json:"name"`
	Allowed bool      `json:"allowed"`
	Egress  direction `json:"egress"`
	Ingress direction `json:"ingress"`
}

func toPeer(p peer) *matcher.TrafficPeer {
	tp := &matcher.TrafficPeer{IP: p.IP}
	if p.Internal != nil {
		tp.Internal = &matcher.InternalPeer{
			Namespace:       p.Internal.Namespace,
			NamespaceLabels: p.Internal.NamespaceLabels,
			PodLabels:       p.Internal.PodLabels,
		}
	}
	return tp
}

func policyNames(targets []*matcher.Target) []string {
	seen := map[string]bool{}
	names := []string{}
	for _, t := range targets {
		for _, np := range t.SourceRules {
			n := np.Namespace + "/" + np.Name
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

func toDirection(d *matcher.DirectionResult) direction {
	all := append(append([]*matcher.Target{}, d.AllowingTargets...), d.DenyingTargets...)
	return direction{Allowed: d.IsAllowed(), AllowedBy: policyNames(d.AllowingTargets), SelectedBy: policyNames(all)}
}

func run(in io.Reader, out io.Writer) error {
	var req input
	dec := json.NewDecoder(in)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	for i, np := range req.Policies {
		if np == nil || np.Namespace == "" || np.Name == "" {
			return fmt.Errorf("policy %d: metadata.name and metadata.namespace are required", i)
		}
	}
	policies := matcher.BuildNetworkPolicies(false, req.Policies)
	results := make([]result, 0, len(req.Traffic))
	for _, c := range req.Traffic {
		switch c.Protocol {
		case "TCP", "UDP", "SCTP":
		default:
			return fmt.Errorf("case %q: protocol %q is not TCP, UDP or SCTP", c.Name, c.Protocol)
		}
		if c.Port < 1 || c.Port > 65535 || c.Source.IP == "" || c.Destination.IP == "" {
			return fmt.Errorf("case %q: needs a port and both IPs", c.Name)
		}
		r := policies.IsTrafficAllowed(&matcher.Traffic{
			Source:           toPeer(c.Source),
			Destination:      toPeer(c.Destination),
			ResolvedPort:     c.Port,
			ResolvedPortName: c.PortName,
			Protocol:         corev1.Protocol(c.Protocol),
		})
		results = append(results, result{Name: c.Name, Allowed: r.IsAllowed(), Egress: toDirection(r.Egress), Ingress: toDirection(r.Ingress)})
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", " ")
	return enc.Encode(results)
}

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: netpol-eval < input.json (see the comment in main.go)")
		os.Exit(2)
	}
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "netpol-eval:", err)
		os.Exit(1)
	}
}
