package main

import (
	"strings"

	"github.com/spf13/pflag"
	cliflag "k8s.io/component-base/cli/flag"

	"github.com/cert-manager/cert-manager/lms-test-binaries/internal/cli"

	config "github.com/cert-manager/cert-manager/internal/apis/config/controller"
	defaults "github.com/cert-manager/cert-manager/internal/apis/config/controller/v1alpha1"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
)

// addFlags binds cert-manager-controller v1.21.1's command-line flags (same names, types and
// visibility) to the configuration; each flag's default is the defaulted configuration's value.
func addFlags(fs *pflag.FlagSet, c *config.ControllerConfiguration) {
	// API server connection.
	fs.StringVar(&c.APIServerHost, "master", c.APIServerHost, "API server address (default: from the kubeconfig or in-cluster)")
	fs.StringVar(&c.KubeConfig, "kubeconfig", c.KubeConfig, "Path to a kubeconfig (only needed out of cluster)")
	fs.Float32Var(&c.KubernetesAPIQPS, "kube-api-qps", c.KubernetesAPIQPS, "Maximum queries per second to the API server")
	fs.IntVar(&c.KubernetesAPIBurst, "kube-api-burst", c.KubernetesAPIBurst, "Maximum burst of queries to the API server")

	// Scope and leader election.
	fs.StringVar(&c.ClusterResourceNamespace, "cluster-resource-namespace", c.ClusterResourceNamespace, "Namespace for the resources of cluster-scoped issuers (ClusterIssuer Secrets)")
	fs.StringVar(&c.Namespace, "namespace", c.Namespace, "Watch only this namespace (disables ClusterIssuers); empty watches all")
	le := &c.LeaderElectionConfig
	fs.BoolVar(&le.Enabled, "leader-elect", le.Enabled, "Run controllers only while holding the leader lease")
	fs.StringVar(&le.Namespace, "leader-election-namespace", le.Namespace, "Namespace of the leader election Lease")
	fs.DurationVar(&le.LeaseDuration, "leader-election-lease-duration", le.LeaseDuration, "How long a leader's lease is valid without renewal")
	fs.DurationVar(&le.RenewDeadline, "leader-election-renew-deadline", le.RenewDeadline, "How long the leader keeps trying to renew before giving up leadership")
	fs.DurationVar(&le.RetryPeriod, "leader-election-retry-period", le.RetryPeriod, "Wait between attempts to acquire or renew the lease")

	fs.StringSliceVar(&c.Controllers, "controllers", c.Controllers, "Controllers to run: '*' = the default set, 'name' adds one, '-name' removes one. Known: "+strings.Join(defaults.AllControllers, ", "))

	// ACME HTTP-01 solver pods.
	h := &c.ACMEHTTP01Config
	fs.StringVar(&h.SolverImage, "acme-http01-solver-image", h.SolverImage, "Image of the ACME HTTP-01 solver pods")
	fs.StringVar(&h.SolverResourceRequestCPU, "acme-http01-solver-resource-request-cpu", h.SolverResourceRequestCPU, "CPU request of HTTP-01 solver pods")
	fs.StringVar(&h.SolverResourceRequestMemory, "acme-http01-solver-resource-request-memory", h.SolverResourceRequestMemory, "Memory request of HTTP-01 solver pods")
	fs.StringVar(&h.SolverResourceLimitsCPU, "acme-http01-solver-resource-limits-cpu", h.SolverResourceLimitsCPU, "CPU limit of HTTP-01 solver pods")
	fs.StringVar(&h.SolverResourceLimitsMemory, "acme-http01-solver-resource-limits-memory", h.SolverResourceLimitsMemory, "Memory limit of HTTP-01 solver pods")
	fs.BoolVar(&h.SolverRunAsNonRoot, "acme-http01-solver-run-as-non-root", h.SolverRunAsNonRoot, "Run HTTP-01 solver pods as non-root")
	fs.StringSliceVar(&h.SolverNameservers, "acme-http01-solver-nameservers", h.SolverNameservers, "DNS servers (host:port, comma-separated) for the HTTP-01 self check")
	fs.Var(cliflag.NewMapStringString(&h.SolverExtraLabels), "acme-http01-solver-extra-labels", "key=value labels added to HTTP-01 solver pods, services, ingresses and routes")
	fs.StringVar(&h.SolverRuntimeClassName, "acme-http01-solver-runtime-class-name", h.SolverRuntimeClassName, "RuntimeClassName of HTTP-01 solver pods")

	// Issuers.
	fs.BoolVar(&c.ClusterIssuerAmbientCredentials, "cluster-issuer-ambient-credentials", c.ClusterIssuerAmbientCredentials, "Let ClusterIssuers use ambient credentials (environment, metadata services)")
	fs.BoolVar(&c.IssuerAmbientCredentials, "issuer-ambient-credentials", c.IssuerAmbientCredentials, "Let Issuers use ambient credentials (environment, metadata services)")

	// ingress-shim and Gateway API shim.
	s := &c.IngressShimConfig
	fs.StringSliceVar(&s.DefaultAutoCertificateAnnotations, "auto-certificate-annotations", s.DefaultAutoCertificateAnnotations, "Annotations by which an Ingress requests a certificate")
	fs.StringSliceVar(&s.ExtraCertificateAnnotations, "extra-certificate-annotations", []string{}, "Extra annotations ingress-shim copies onto Certificates")
	fs.StringVar(&s.DefaultIssuerName, "default-issuer-name", s.DefaultIssuerName, "Issuer name for Ingresses that name none")
	fs.StringVar(&s.DefaultIssuerKind, "default-issuer-kind", s.DefaultIssuerKind, "Issuer kind for Ingresses that name none")
	fs.StringVar(&s.DefaultIssuerGroup, "default-issuer-group", s.DefaultIssuerGroup, "Issuer group for Ingresses that name none")

	// ACME DNS-01 and propagation checks.
	d := &c.ACMEDNS01Config
	fs.StringSliceVar(&d.RecursiveNameservers, "dns01-recursive-nameservers", d.RecursiveNameservers, "Resolvers for the DNS-01 self check: host:port or https://DoH-URL, comma-separated")
	fs.BoolVar(&d.RecursiveNameserversOnly, "dns01-recursive-nameservers-only", d.RecursiveNameserversOnly, "Query only the recursive resolvers, never the authoritative servers")
	fs.DurationVar(&d.CheckRetryPeriod, "dns01-check-retry-period", d.CheckRetryPeriod, "Wait between DNS-01 and HTTP-01 propagation checks")

	// Certificates.
	fs.BoolVar(&c.EnableCertificateOwnerRef, "enable-certificate-owner-ref", c.EnableCertificateOwnerRef, "Make each Certificate the owner of its Secret (deleted with it)")
	g := &c.GatewayAPIConfig
	fs.BoolVar(&g.Enabled, "enable-gateway-api", g.Enabled, "Enable the Gateway API integration (needs the ExperimentalGatewayAPISupport gate)")
	fs.BoolVar(&g.EnableListenerSet, "enable-gateway-api-listenerset", g.EnableListenerSet, "Enable ListenerSet support (needs the ListenerSets gate)")
	fs.StringSliceVar(&g.ExtraProtocols, "gateway-api-extra-protocols", g.ExtraProtocols, "Extra Gateway listener protocols treated as TLS-capable")
	fs.StringSliceVar(&c.CopiedAnnotationPrefixes, "copied-annotation-prefixes", c.CopiedAnnotationPrefixes, "Annotation key prefixes copied from Certificates to CertificateRequests and Orders ('-prefix' excludes)")
	fs.Var(cliflag.NewMapStringBool(&c.FeatureGates), "feature-gates", "key=value feature gates. Known:\n"+strings.Join(utilfeature.DefaultFeatureGate.KnownFeatures(), "\n"))

	fs.IntVar(&c.NumberOfConcurrentWorkers, "concurrent-workers", c.NumberOfConcurrentWorkers, "Workers per controller")
	fs.IntVar(&c.MaxConcurrentChallenges, "max-concurrent-challenges", c.MaxConcurrentChallenges, "Maximum ACME challenges processed at once")

	// Metrics, profiling, health.
	fs.StringVar(&c.MetricsListenAddress, "metrics-listen-address", c.MetricsListenAddress, "host:port of the metrics endpoint")
	fs.BoolVar(&c.EnablePprof, "enable-profiling", c.EnablePprof, "Serve Go pprof endpoints")
	fs.StringVar(&c.PprofAddress, "profiler-address", c.PprofAddress, "host:port of the pprof endpoints (keep it private)")
	cli.AddMetricsTLSFlags(fs, &c.MetricsTLSConfig)
	fs.StringVar(&c.HealthzListenAddress, "internal-healthz-listen-address", c.HealthzListenAddress, "host:port of the healthz server (/livez)")
	_ = fs.MarkHidden("internal-healthz-listen-address")
	fs.DurationVar(&le.HealthzTimeout, "internal-healthz-leader-election-timeout", le.HealthzTimeout, "How long after the lease expired /livez still reports healthy")
	_ = fs.MarkHidden("internal-healthz-leader-election-timeout")

	// PEM size limits.
	p := &c.PEMSizeLimitsConfig
	fs.IntVar(&p.MaxCertificateSize, "max-certificate-size", p.MaxCertificateSize, "Maximum bytes of one PEM certificate")
	fs.IntVar(&p.MaxPrivateKeySize, "max-private-key-size", p.MaxPrivateKeySize, "Maximum bytes of one PEM private key")
	fs.IntVar(&p.MaxChainLength, "max-certificate-chain-length", p.MaxChainLength, "Maximum bytes of a PEM certificate chain")
	fs.IntVar(&p.MaxBundleSize, "max-certificate-bundle-size", p.MaxBundleSize, "Maximum bytes of a PEM certificate bundle")

	fs.DurationVar(&c.CertificateRequestMinimumBackoffDuration, "certificate-request-minimum-backoff-duration", c.CertificateRequestMinimumBackoffDuration, "First back-off after a failed certificate request (doubles per failure)")
	fs.DurationVar(&c.CertificateRequestMaximumBackoffDuration, "certificate-request-maximum-backoff-duration", c.CertificateRequestMaximumBackoffDuration, "Longest back-off after failed certificate requests")

	logf.AddFlags(&c.Logging, fs)
}
