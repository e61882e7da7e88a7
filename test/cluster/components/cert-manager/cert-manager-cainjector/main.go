// cert-manager-cainjector for the cluster tests: cert-manager v1.21.1's CA injector assembled from its
// published module (see ../go.mod for why this program is ours and not upstream's cmd/).
//
// It runs cert-manager's injectors (pkg/controller/cainjector) in a controller-runtime manager: the
// CA data of the Certificate, Secret or kubeconfig an annotation names is written into annotated
// ValidatingWebhookConfigurations, MutatingWebhookConfigurations, CRD conversion webhooks and
// APIServices, each kind switchable by flag. Secrets are read directly, not cached (as upstream,
// to keep memory and API load low). Like upstream it takes the API server from KUBECONFIG (or the
// in-cluster config); its --kubeconfig flag is accepted and ignored, as upstream's is.
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apiext "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	kscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	cliflag "k8s.io/component-base/cli/flag"
	logsapi "k8s.io/component-base/logs/api/v1"
	apireg "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cert-manager/cert-manager/lms-test-binaries/internal/cli"

	config "github.com/cert-manager/cert-manager/internal/apis/config/cainjector"
	configscheme "github.com/cert-manager/cert-manager/internal/apis/config/cainjector/scheme"
	"github.com/cert-manager/cert-manager/internal/apis/config/cainjector/validation"
	"github.com/cert-manager/cert-manager/internal/cainjector/feature"
	configv1alpha1 "github.com/cert-manager/cert-manager/pkg/apis/config/cainjector/v1alpha1"
	cainjectorconfigfile "github.com/cert-manager/cert-manager/pkg/cainjector/configfile"
	cmscheme "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/scheme"
	"github.com/cert-manager/cert-manager/pkg/controller/cainjector"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
)

func main() {
	cfg, err := defaultConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager-cainjector: building the default configuration:", err)
		os.Exit(1)
	}
	cli.Main(cli.Program[config.CAInjectorConfiguration]{
		Name:        "cainjector",
		Description: "cert-manager's CA injector: keeps the CA bundles of annotated webhook configurations, CRD conversion webhooks and APIServices current.",
		Config:      cfg,
		AddFlags:    addFlags,
		Setup:       func() { ctrl.SetLogger(logf.Log) },
		ReadFile: func(path string, cfg *config.CAInjectorConfiguration) error {
			f := cainjectorconfigfile.New()
			if err := cli.ReadConfigFile(path, f); err != nil {
				return err
			}
			f.Config.DeepCopyInto(cfg)
			return nil
		},
		FeatureGates: func(c *config.CAInjectorConfiguration) map[string]bool { return c.FeatureGates },
		Validate: func(c *config.CAInjectorConfiguration) error {
			return validation.ValidateCAInjectorConfiguration(c, nil).ToAggregate()
		},
		Logging: func(c *config.CAInjectorConfiguration) *logsapi.LoggingConfiguration { return &c.Logging },
		Run:     run,
	})
}

// defaultConfig is the CAInjectorConfiguration of an empty config file: the v1alpha1 defaults.
func defaultConfig() (*config.CAInjectorConfiguration, error) {
	scheme, _, err := configscheme.NewSchemeAndCodecs()
	if err != nil {
		return nil, err
	}
	versioned := &configv1alpha1.CAInjectorConfiguration{}
	scheme.Default(versioned)
	cfg := &config.CAInjectorConfiguration{}
	return cfg, scheme.Convert(versioned, cfg, nil)
}

// addFlags binds cert-manager-cainjector v1.21.1's command-line flags (same names and types) to the
// configuration; each default is the defaulted configuration's value.
func addFlags(fs *pflag.FlagSet, c *config.CAInjectorConfiguration) {
	fs.StringVar(&c.KubeConfig, "kubeconfig", c.KubeConfig, "Path to a kubeconfig (accepted for compatibility; the API server comes from KUBECONFIG or the in-cluster config)")
	fs.StringVar(&c.Namespace, "namespace", c.Namespace, "Only inject into resources of this namespace (and read CA sources only there)")
	fs.StringSliceVar(&c.IgnoreNamespaces, "ignore-namespaces", c.IgnoreNamespaces, "Namespaces whose Secrets are never used as CA sources (not with --namespace)")
	le := &c.LeaderElectionConfig
	fs.BoolVar(&le.Enabled, "leader-elect", le.Enabled, "Inject only while holding the leader lease")
	fs.StringVar(&le.Namespace, "leader-election-namespace", le.Namespace, "Namespace of the leader election Lease")
	fs.DurationVar(&le.LeaseDuration, "leader-election-lease-duration", le.LeaseDuration, "How long a leader's lease is valid without renewal")
	fs.DurationVar(&le.RenewDeadline, "leader-election-renew-deadline", le.RenewDeadline, "How long the leader keeps trying to renew before giving up leadership")
	fs.DurationVar(&le.RetryPeriod, "leader-election-retry-period", le.RetryPeriod, "Wait between attempts to acquire or renew the lease")

	fs.BoolVar(&c.EnableDataSourceConfig.Certificates, "enable-certificates-data-source", c.EnableDataSourceConfig.Certificates, "Use cert-manager Certificates as CA sources (needs the Certificate CRD)")
	inj := &c.EnableInjectableConfig
	fs.BoolVar(&inj.ValidatingWebhookConfigurations, "enable-validatingwebhookconfigurations-injectable", inj.ValidatingWebhookConfigurations, "Inject into annotated ValidatingWebhookConfigurations (cert-manager's own webhook needs it)")
	fs.BoolVar(&inj.MutatingWebhookConfigurations, "enable-mutatingwebhookconfigurations-injectable", inj.MutatingWebhookConfigurations, "Inject into annotated MutatingWebhookConfigurations (cert-manager's own webhook needs it)")
	fs.BoolVar(&inj.CustomResourceDefinitions, "enable-customresourcedefinitions-injectable", inj.CustomResourceDefinitions, "Inject into the conversion webhooks of annotated CustomResourceDefinitions")
	fs.BoolVar(&inj.APIServices, "enable-apiservices-injectable", inj.APIServices, "Inject into annotated APIServices")

	fs.BoolVar(&c.EnablePprof, "enable-profiling", c.EnablePprof, "Serve Go pprof endpoints")
	fs.StringVar(&c.PprofAddress, "profiler-address", c.PprofAddress, "host:port of the pprof endpoints (keep it private)")
	fs.Var(cliflag.NewMapStringBool(&c.FeatureGates), "feature-gates", "key=value feature gates. Known:\n"+strings.Join(utilfeature.DefaultFeatureGate.KnownFeatures(), "\n"))
	logf.AddFlags(&c.Logging, fs)

	fs.StringVar(&c.MetricsListenAddress, "metrics-listen-address", c.MetricsListenAddress, "host:port of the metrics endpoint; '0' disables it")
	cli.AddMetricsTLSFlags(fs, &c.MetricsTLSConfig)
}

func run(ctx context.Context, opts *config.CAInjectorConfiguration) error {
	log := logf.FromContext(ctx)
	cli.LogStart(ctx, "ca-injector")
	if utilfeature.DefaultFeatureGate.Enabled(feature.ServerSideApply) {
		log.Info("the ServerSideApply feature flag has been deprecated and cainjector will always use server-side apply")
	}

	restConfig := util.RestConfigWithUserAgent(ctrl.GetConfigOrDie(), "cainjector")

	certSource := cli.CertificateSource(opts.MetricsTLSConfig, restConfig, "cert-manager-cainjector")
	metrics := metricsserver.Options{BindAddress: opts.MetricsListenAddress}
	if certSource != nil {
		suites, err := cliflag.TLSCipherSuites(opts.MetricsTLSConfig.CipherSuites)
		if err != nil {
			return err
		}
		minVersion, err := cliflag.TLSVersion(opts.MetricsTLSConfig.MinTLSVersion)
		if err != nil {
			return err
		}
		metrics.SecureServing = true
		metrics.TLSOpts = []func(*tls.Config){func(c *tls.Config) {
			c.CipherSuites, c.MinVersion, c.GetCertificate = suites, minVersion, certSource.GetCertificate
		}}
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(kscheme.AddToScheme(scheme))
	utilruntime.Must(cmscheme.AddToScheme(scheme))
	utilruntime.Must(apiext.AddToScheme(scheme))
	utilruntime.Must(apireg.AddToScheme(scheme))

	var namespaces map[string]cache.Config
	if opts.Namespace != "" {
		namespaces = map[string]cache.Config{opts.Namespace: {}}
	}
	le := opts.LeaderElectionConfig
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme: scheme,
		Cache:  cache.Options{ReaderFailOnMissingInformer: true, DefaultNamespaces: namespaces},
		// Secrets are fetched when needed instead of cached: a cache would list (and hold) every
		// Secret of the cluster.
		Client:                        client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		LeaderElection:                le.Enabled,
		LeaderElectionNamespace:       le.Namespace,
		LeaderElectionID:              "cert-manager-cainjector-leader-election",
		LeaderElectionReleaseOnCancel: true,
		LeaderElectionLabels:          map[string]string{"app.kubernetes.io/managed-by": "cert-manager-cainjector"},
		LeaderElectionResourceLock:    resourcelock.LeasesResourceLock,
		LeaseDuration:                 &le.LeaseDuration,
		RenewDeadline:                 &le.RenewDeadline,
		RetryPeriod:                   &le.RetryPeriod,
		Metrics:                       metrics,
	})
	if err != nil {
		return fmt.Errorf("error creating manager: %v", err)
	}
	if certSource != nil {
		if err := mgr.Add(certSource); err != nil {
			return err
		}
	}
	if opts.EnablePprof {
		serve, err := cli.ServeProfiler(ctx, opts.PprofAddress)
		if err != nil {
			return err
		}
		log.V(logf.InfoLevel).Info("running go profiler on", "address", opts.PprofAddress)
		if err := mgr.Add(everyReplica(func(context.Context) error { return serve() })); err != nil {
			return err
		}
	}

	// With Certificates as a CA source, wait (up to 5 minutes) for their CRD to exist.
	if opts.EnableDataSourceConfig.Certificates {
		if err := waitForCertificateCRD(ctx, mgr); err != nil {
			log.Error(err, "error retrieving certificate.cert-manager.io CRDs")
			return err
		}
	}

	if err := cainjector.RegisterAllInjectors(ctx, mgr, cainjector.SetupOptions{
		Namespace:                    opts.Namespace,
		IgnoreNamespaces:             opts.IgnoreNamespaces,
		EnableCertificatesDataSource: opts.EnableDataSourceConfig.Certificates,
		EnabledReconcilersFor: map[string]bool{
			cainjector.MutatingWebhookConfigurationName:   opts.EnableInjectableConfig.MutatingWebhookConfigurations,
			cainjector.ValidatingWebhookConfigurationName: opts.EnableInjectableConfig.ValidatingWebhookConfigurations,
			cainjector.APIServiceName:                     opts.EnableInjectableConfig.APIServices,
			cainjector.CustomResourceDefinitionName:       opts.EnableInjectableConfig.CustomResourceDefinitions,
		},
	}); err != nil {
		log.Error(err, "failed to register controllers")
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("error running manager: %v", err)
	}
	return nil
}

func waitForCertificateCRD(ctx context.Context, mgr ctrl.Manager) error {
	log := logf.FromContext(ctx)
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return fmt.Errorf("failed to create client: %w", err)
	}
	return wait.PollUntilContextTimeout(ctx, time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		err := direct.Get(ctx, types.NamespacedName{Name: "certificates.cert-manager.io"}, &apiext.CustomResourceDefinition{})
		switch {
		case apierrors.IsNotFound(err):
			log.Info("cainjector has been configured to watch certificates, but certificates.cert-manager.io CRD not found, retrying with a backoff...")
			return false, nil
		case err != nil:
			log.Error(err, "error checking if certificates.cert-manager.io CRD is installed")
			return false, err
		}
		log.V(logf.DebugLevel).Info("certificates.cert-manager.io CRD found")
		return true, nil
	})
}

// everyReplica is a manager runnable that runs whether or not this replica leads.
type everyReplica func(context.Context) error

func (r everyReplica) Start(ctx context.Context) error { return r(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }
