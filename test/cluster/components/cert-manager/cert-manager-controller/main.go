// cert-manager-controller for the cluster tests: cert-manager v1.21.1's controller manager assembled
// from its published module (see ../go.mod for why this program is ours and not upstream's cmd/).
//
// What it runs, as upstream's binary does: the configuration from flags and --config (defaulted by
// the config scheme, validated), every controller that configuration enables (by default the
// default-on set of the config API; the CSR, Gateway API and ListenerSet controllers only with their
// feature gates), the Prometheus metrics server (optionally TLS), the healthz server (/livez, also
// watching the leader election), optional pprof, and leader election on the Lease
// <leader-election-namespace>/cert-manager-controller before any controller starts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/resource"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	logsapi "k8s.io/component-base/logs/api/v1"

	"github.com/cert-manager/cert-manager/lms-test-binaries/internal/cli"

	config "github.com/cert-manager/cert-manager/internal/apis/config/controller"
	configscheme "github.com/cert-manager/cert-manager/internal/apis/config/controller/scheme"
	defaults "github.com/cert-manager/cert-manager/internal/apis/config/controller/v1alpha1"
	"github.com/cert-manager/cert-manager/internal/apis/config/controller/validation"
	"github.com/cert-manager/cert-manager/internal/controller/feature"
	"github.com/cert-manager/cert-manager/internal/pem"
	configv1alpha1 "github.com/cert-manager/cert-manager/pkg/apis/config/controller/v1alpha1"
	"github.com/cert-manager/cert-manager/pkg/controller"
	gateways "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/gateways"
	listenerset "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/listenerset"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	controllerconfigfile "github.com/cert-manager/cert-manager/pkg/controller/configfile"
	"github.com/cert-manager/cert-manager/pkg/healthz"
	dnsutil "github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/util"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/server"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"

	// Controllers and issuer implementations register themselves with controller.Known() and the
	// issuer registry when imported (the config defaults package imports the remaining controllers).
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmechallenges"
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmeorders"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/ingresses"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/acme"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/vault"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/venafi"
)

func main() {
	cfg, err := defaultConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager-controller: building the default configuration:", err)
		os.Exit(1)
	}
	cli.Main(cli.Program[config.ControllerConfiguration]{
		Name:        "controller",
		Description: "cert-manager's controller manager: issues and renews the certificates that Certificate, Issuer and ClusterIssuer resources ask for.",
		Config:      cfg,
		AddFlags:    addFlags,
		// Upstream also accepts the Go flags registered by its dependencies.
		ExtraFlags: func(fs *pflag.FlagSet) { fs.AddGoFlagSet(flag.CommandLine) },
		ReadFile: func(path string, cfg *config.ControllerConfiguration) error {
			f := controllerconfigfile.New()
			if err := cli.ReadConfigFile(path, f); err != nil {
				return err
			}
			f.Config.DeepCopyInto(cfg)
			return nil
		},
		FeatureGates: func(c *config.ControllerConfiguration) map[string]bool { return c.FeatureGates },
		Validate: func(c *config.ControllerConfiguration) error {
			return validation.ValidateControllerConfiguration(c, nil).ToAggregate()
		},
		Logging: func(c *config.ControllerConfiguration) *logsapi.LoggingConfiguration { return &c.Logging },
		Run:     run,
	})
}

// defaultConfig is the ControllerConfiguration of an empty config file: the v1alpha1 defaults.
func defaultConfig() (*config.ControllerConfiguration, error) {
	scheme, _, err := configscheme.NewSchemeAndCodecs()
	if err != nil {
		return nil, err
	}
	versioned := &configv1alpha1.ControllerConfiguration{}
	scheme.Default(versioned)
	cfg := &config.ControllerConfiguration{}
	return cfg, scheme.Convert(versioned, cfg, nil)
}

func run(parent context.Context, opts *config.ControllerConfiguration) error {
	parent, cancel := context.WithCancel(parent)
	defer cancel()
	log := logf.FromContext(parent)
	g, ctx := errgroup.WithContext(parent)

	cli.LogStart(ctx, "controller")

	factory, err := contextFactory(ctx, opts)
	if err != nil {
		return err
	}
	base, err := factory.Build()
	if err != nil {
		return err
	}
	if err := applyPEMSizeLimits(opts); err != nil {
		return fmt.Errorf("failed to configure PEM size limits: %w", err)
	}
	enabled := enabledControllers(opts)
	log.Info(fmt.Sprintf("enabled controllers: %s", sets.List(enabled)))

	// Metrics.
	certSource := cli.CertificateSource(opts.MetricsTLSConfig, base.RESTConfig, "cert-manager")
	if certSource != nil {
		log.V(logf.InfoLevel).Info("listening for secure connections", "address", opts.MetricsListenAddress)
		g.Go(func() error {
			if err := certSource.Start(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		})
	} else {
		log.V(logf.InfoLevel).Info("listening for insecure connections", "address", opts.MetricsListenAddress)
	}
	metricsLn, err := server.Listen(ctx, "tcp", opts.MetricsListenAddress,
		server.WithCertificateSource(certSource),
		server.WithTLSCipherSuites(opts.MetricsTLSConfig.CipherSuites),
		server.WithTLSMinVersion(opts.MetricsTLSConfig.MinTLSVersion))
	if err != nil {
		return fmt.Errorf("failed to listen on prometheus address %s: %v", opts.MetricsListenAddress, err)
	}
	informers := base.SharedInformerFactory
	base.Metrics.SetupACMECollector(informers.Acme().V1().Challenges().Lister())
	base.Metrics.SetupCertificateCollector(informers.Certmanager().V1().Certificates().Lister())
	base.Metrics.SetupIssuerCollector(informers.Certmanager().V1().Issuers().Lister())
	if enabled.Has(clusterissuers.ControllerName) {
		base.Metrics.SetupClusterIssuerCollector(informers.Certmanager().V1().ClusterIssuers().Lister())
	}
	serveMetrics := cli.ServeHTTP(ctx, base.Metrics.NewServer(metricsLn), metricsLn)
	g.Go(func() error {
		log.V(logf.InfoLevel).Info("starting metrics server", "address", metricsLn.Addr())
		return serveMetrics()
	})

	if opts.EnablePprof {
		serve, err := cli.ServeProfiler(ctx, opts.PprofAddress)
		if err != nil {
			return err
		}
		g.Go(func() error {
			log.V(logf.InfoLevel).Info("starting profiler", "address", opts.PprofAddress)
			return serve()
		})
	}

	// Health: /livez, which also fails when the leader has not renewed its lease in time.
	healthzLn, err := (&net.ListenConfig{}).Listen(ctx, "tcp", opts.HealthzListenAddress)
	if err != nil {
		return fmt.Errorf("failed to listen on healthz address %s: %v", opts.HealthzListenAddress, err)
	}
	healthzServer := healthz.NewServer(opts.LeaderElectionConfig.HealthzTimeout)
	g.Go(func() error {
		log.V(logf.InfoLevel).Info("starting healthz server", "address", healthzLn.Addr())
		return healthzServer.Start(ctx, healthzLn)
	})

	elected := make(chan struct{})
	if opts.LeaderElectionConfig.Enabled {
		g.Go(func() error {
			log.V(logf.InfoLevel).Info("starting leader election")
			return leaderElection(ctx, opts, factory, healthzServer, func() { close(elected) })
		})
	} else {
		close(elected)
	}
	select {
	case <-ctx.Done(): // shutting down, or a server failed
		return g.Wait()
	case <-elected:
	}

	for name, construct := range controller.Known() {
		log := log.WithValues("controller", name)
		if !enabled.Has(name) {
			log.V(logf.InfoLevel).Info("skipping disabled controller")
			continue
		}
		c, err := construct(factory)
		if err != nil {
			err = fmt.Errorf("error starting controller: %v", err)
			cancel()
			if err2 := g.Wait(); err2 != nil {
				return utilerrors.NewAggregate([]error{err, err2})
			}
			return err
		}
		g.Go(func() error {
			log.V(logf.InfoLevel).Info("starting controller")
			return c.Run(opts.NumberOfConcurrentWorkers, ctx)
		})
	}

	log.V(logf.DebugLevel).Info("starting shared informer factories")
	gateway := utilfeature.DefaultFeatureGate.Enabled(feature.ExperimentalGatewayAPISupport) && opts.GatewayAPIConfig.Enabled
	base.SharedInformerFactory.Start(ctx.Done())
	base.KubeSharedInformerFactory.Start(ctx.Done())
	base.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	if gateway {
		base.GWShared.Start(ctx.Done())
	}

	if err := g.Wait(); err != nil {
		return fmt.Errorf("error starting controller: %v", err)
	}
	log.V(logf.InfoLevel).Info("control loops exited")
	if gateway {
		base.GWShared.Shutdown()
	}
	base.HTTP01ResourceMetadataInformersFactory.Shutdown()
	base.KubeSharedInformerFactory.Shutdown()
	base.SharedInformerFactory.Shutdown()
	return nil
}

// contextFactory turns the configuration into the options every controller is built with.
func contextFactory(ctx context.Context, opts *config.ControllerConfiguration) (*controller.ContextFactory, error) {
	nameservers := opts.ACMEDNS01Config.RecursiveNameservers
	if len(nameservers) == 0 {
		nameservers = dnsutil.RecursiveNameservers
	}
	logf.FromContext(ctx).V(logf.InfoLevel).WithName("build-context").WithValues("nameservers", nameservers).Info("configured acme dns01 nameservers")

	h := opts.ACMEHTTP01Config
	quantities := map[string]string{
		"ACMEHTTP01SolverResourceRequestCPU":    h.SolverResourceRequestCPU,
		"ACMEHTTP01SolverResourceRequestMemory": h.SolverResourceRequestMemory,
		"ACMEHTTP01SolverResourceLimitsCPU":     h.SolverResourceLimitsCPU,
		"ACMEHTTP01SolverResourceLimitsMemory":  h.SolverResourceLimitsMemory,
	}
	parsed := map[string]resource.Quantity{}
	for name, value := range quantities {
		q, err := resource.ParseQuantity(value)
		if err != nil {
			return nil, fmt.Errorf("error parsing %s: %w", name, err)
		}
		parsed[name] = q
	}

	return controller.NewContextFactory(ctx, controller.ContextOptions{
		Kubeconfig:         opts.KubeConfig,
		KubernetesAPIQPS:   opts.KubernetesAPIQPS,
		KubernetesAPIBurst: opts.KubernetesAPIBurst,
		APIServerHost:      opts.APIServerHost,
		Namespace:          opts.Namespace,
		ACMEOptions: controller.ACMEOptions{
			HTTP01SolverResourceRequestCPU:    parsed["ACMEHTTP01SolverResourceRequestCPU"],
			HTTP01SolverResourceRequestMemory: parsed["ACMEHTTP01SolverResourceRequestMemory"],
			HTTP01SolverResourceLimitsCPU:     parsed["ACMEHTTP01SolverResourceLimitsCPU"],
			HTTP01SolverResourceLimitsMemory:  parsed["ACMEHTTP01SolverResourceLimitsMemory"],
			ACMEHTTP01SolverRunAsNonRoot:      h.SolverRunAsNonRoot,
			HTTP01SolverImage:                 h.SolverImage,
			HTTP01SolverNameservers:           h.SolverNameservers,
			HTTP01SolverExtraLabels:           h.SolverExtraLabels,
			HTTP01SolverRuntimeClassName:      h.SolverRuntimeClassName,
			DNS01Nameservers:                  nameservers,
			DNS01CheckRetryPeriod:             opts.ACMEDNS01Config.CheckRetryPeriod,
			DNS01CheckAuthoritative:           !opts.ACMEDNS01Config.RecursiveNameserversOnly,
		},
		SchedulerOptions: controller.SchedulerOptions{MaxConcurrentChallenges: opts.MaxConcurrentChallenges},
		IssuerOptions: controller.IssuerOptions{
			ClusterIssuerAmbientCredentials: opts.ClusterIssuerAmbientCredentials,
			IssuerAmbientCredentials:        opts.IssuerAmbientCredentials,
			ClusterResourceNamespace:        opts.ClusterResourceNamespace,
		},
		IngressShimOptions: controller.IngressShimOptions{
			DefaultIssuerName:                 opts.IngressShimConfig.DefaultIssuerName,
			DefaultIssuerKind:                 opts.IngressShimConfig.DefaultIssuerKind,
			DefaultIssuerGroup:                opts.IngressShimConfig.DefaultIssuerGroup,
			DefaultAutoCertificateAnnotations: opts.IngressShimConfig.DefaultAutoCertificateAnnotations,
			ExtraCertificateAnnotations:       opts.IngressShimConfig.ExtraCertificateAnnotations,
			GatewayAPIExtraProtocols:          sets.New(opts.GatewayAPIConfig.ExtraProtocols...),
		},
		CertificateOptions: controller.CertificateOptions{
			EnableOwnerRef:                           opts.EnableCertificateOwnerRef,
			CopiedAnnotationPrefixes:                 opts.CopiedAnnotationPrefixes,
			CertificateRequestMinimumBackoffDuration: opts.CertificateRequestMinimumBackoffDuration,
			CertificateRequestMaximumBackoffDuration: opts.CertificateRequestMaximumBackoffDuration,
		},
		ConfigOptions: controller.ConfigOptions{
			EnableGatewayAPI:            opts.GatewayAPIConfig.Enabled,
			EnableGatewayAPIListenerSet: opts.GatewayAPIConfig.EnableListenerSet,
		},
	})
}

// enabledControllers resolves --controllers ('*' = the default-on set, 'x' adds, '-x' removes; only
// removals implies '*'), adds what feature gates switch on, and drops the cluster-scoped controllers
// when the controller is limited to one namespace. Removals apply last.
func enabledControllers(o *config.ControllerConfiguration) sets.Set[string] {
	enabled := sets.New[string]()
	var disabled []string
	for _, c := range o.Controllers {
		switch {
		case c == "*":
			enabled.Insert(defaults.DefaultEnabledControllers...)
		case strings.HasPrefix(c, "-"):
			disabled = append(disabled, strings.TrimPrefix(c, "-"))
		default:
			enabled.Insert(c)
		}
	}
	if len(disabled) > 0 && enabled.Len() == 0 {
		enabled.Insert(defaults.DefaultEnabledControllers...)
	}
	gates := utilfeature.DefaultFeatureGate
	if gates.Enabled(feature.ExperimentalCertificateSigningRequestControllers) {
		logf.Log.Info("enabling all experimental certificatesigningrequest controllers")
		enabled.Insert(defaults.ExperimentalCertificateSigningRequestControllers...)
	}
	if gates.Enabled(feature.ExperimentalGatewayAPISupport) && o.GatewayAPIConfig.Enabled {
		logf.Log.Info("enabling the sig-network Gateway API certificate-shim and HTTP-01 solver")
		enabled.Insert(gateways.ControllerName)
	}
	if gates.Enabled(feature.ListenerSets) && o.GatewayAPIConfig.Enabled && o.GatewayAPIConfig.EnableListenerSet {
		logf.Log.Info("enabling the sig-network Gateway API ListenerSet certificate-shim")
		enabled.Insert(listenerset.ControllerName)
	}
	if gates.Enabled(feature.ValidateCAA) {
		logf.Log.Info("the ValidateCAA feature flag has been removed and is now a no-op")
	}
	if o.Namespace != "" {
		logf.Log.Info("disabling all cluster-scoped controllers as cert-manager is scoped to a single namespace",
			"controllers", strings.Join(defaults.ClusterScopedControllers, ", "))
		enabled.Delete(defaults.ClusterScopedControllers...)
	}
	return enabled.Delete(disabled...)
}

// applyPEMSizeLimits sets the process-wide limits for decoding PEM certificates, keys and bundles.
func applyPEMSizeLimits(opts *config.ControllerConfiguration) error {
	l := opts.PEMSizeLimitsConfig
	for name, v := range map[string]int{"maxCertificateSize": l.MaxCertificateSize, "maxPrivateKeySize": l.MaxPrivateKeySize, "maxChainLength": l.MaxChainLength, "maxBundleSize": l.MaxBundleSize} {
		if v <= 0 {
			return fmt.Errorf("%s must be greater than 0, got %d", name, v)
		}
	}
	if l.MaxCertificateSize > l.MaxBundleSize {
		return fmt.Errorf("maxCertificateSize (%d) must not be larger than maxBundleSize (%d)", l.MaxCertificateSize, l.MaxBundleSize)
	}
	if l.MaxChainLength > l.MaxBundleSize {
		return fmt.Errorf("maxChainLength (%d) must not exceed maxBundleSize (%d)", l.MaxChainLength, l.MaxBundleSize)
	}
	limits := pem.NewSizeLimitsFromConfig(l.MaxCertificateSize, l.MaxPrivateKeySize, l.MaxChainLength, l.MaxBundleSize)
	pem.SetGlobalSizeLimits(limits)
	logf.Log.V(logf.InfoLevel).Info("configured PEM size limits", "maxCertificateSize", limits.MaxCertificateSize,
		"maxPrivateKeySize", limits.MaxPrivateKeySize, "maxChainLength", limits.MaxChainLength, "maxBundleSize", limits.MaxBundleSize)
	return nil
}

// leaderElection campaigns for the Lease cert-manager-controller (as upstream: same name, identity
// suffix and labels, so our binary and the official one contend for the same lock) and returns
// when the context ends, or with an error when leadership is lost.
func leaderElection(ctx context.Context, opts *config.ControllerConfiguration, factory *controller.ContextFactory, hz *healthz.Server, onElected func()) error {
	lec, err := factory.Build("leader-election")
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("error getting hostname: %v", err)
	}
	lock, err := resourcelock.NewWithLabels(resourcelock.LeasesResourceLock, opts.LeaderElectionConfig.Namespace, "cert-manager-controller",
		lec.Client.CoreV1(), lec.Client.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: host + "-external-cert-manager-controller", EventRecorder: lec.Recorder},
		map[string]string{"app.kubernetes.io/managed-by": "cert-manager"})
	if err != nil {
		return fmt.Errorf("error creating leader election lock: %v", err)
	}
	lost := make(chan error, 1)
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   opts.LeaderElectionConfig.LeaseDuration,
		RenewDeadline:   opts.LeaderElectionConfig.RenewDeadline,
		RetryPeriod:     opts.LeaderElectionConfig.RetryPeriod,
		ReleaseOnCancel: true,
		WatchDog:        hz.LeaderHealthzAdaptor,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { onElected() },
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					lost <- errors.New("leader election lost")
				}
			},
		},
	})
	if err != nil {
		return err
	}
	le.Run(ctx)
	select {
	case err := <-lost:
		return err
	default:
		return nil
	}
}
