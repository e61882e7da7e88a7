// Package cli is what our three cert-manager programs share: the command line (cobra, pflag) with
// cert-manager's --config semantics, logging set-up and exit codes.
//
// Behaviour, as cert-manager v1.21.1's own binaries have it:
//   - the configuration starts from the versioned config type's defaults (the config scheme);
//   - flags are parsed; an unknown flag or a bad value fails with pflag's error and exit code 1;
//   - with --config FILE the file (strictly decoded, relative paths resolved against its directory)
//     replaces that configuration, then the command-line flags are applied again on top of it, so a
//     flag always wins over the file;
//   - feature gates are set from the result, the result is validated, logging options applied;
//   - SIGINT/SIGTERM cancel the context (graceful shutdown, exit 0), a second signal exits 130.
package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	cliflag "k8s.io/component-base/cli/flag"
	logsapi "k8s.io/component-base/logs/api/v1"

	"github.com/cert-manager/cert-manager/internal/apis/config/shared"
	"github.com/cert-manager/cert-manager/internal/cmd/util"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/server/tls"
	"github.com/cert-manager/cert-manager/pkg/server/tls/authority"
	cmutil "github.com/cert-manager/cert-manager/pkg/util"
	"github.com/cert-manager/cert-manager/pkg/util/configfile"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
	"github.com/cert-manager/cert-manager/pkg/util/profiling"
)

// Program describes one binary; T is its internal configuration type.
type Program[T any] struct {
	// Name is the command name and the logger name ("controller", "webhook", "cainjector").
	Name string
	// Description is the --help text.
	Description string
	// Config holds the defaulted configuration; flags are bound to its fields.
	Config *T
	// AddFlags registers the configuration flags (everything but --config).
	AddFlags func(fs *pflag.FlagSet, cfg *T)
	// ReadFile decodes a configuration file into cfg (replacing it).
	ReadFile func(path string, cfg *T) error
	// FeatureGates, Validate and Logging expose those parts of the configuration.
	FeatureGates func(cfg *T) map[string]bool
	Validate     func(cfg *T) error
	Logging      func(cfg *T) *logsapi.LoggingConfiguration
	// Run runs the component until ctx is cancelled.
	Run func(ctx context.Context, cfg *T) error
	// Setup runs after logging is initialised, before the command executes (e.g. to hand the logger
	// to controller-runtime).
	Setup func()
	// Extra flags to accept, added after AddFlags (names already present are skipped).
	ExtraFlags func(fs *pflag.FlagSet)
}

// Main runs the program with os.Args and exits with its status.
func Main[T any](p Program[T]) {
	ctx, exit := util.SetupExitHandler(context.Background(), util.GracefulShutdown)
	defer exit() // may call os.Exit: registered first, so it runs last

	logf.InitLogs()
	defer logf.FlushLogs()
	if p.Setup != nil {
		p.Setup()
	}
	ctx = logf.NewContext(ctx, logf.Log, p.Name)

	if err := Command(p, os.Args[1:]).ExecuteContext(ctx); err != nil {
		logf.Log.Error(err, "error executing command")
		util.SetExitCode(err)
	}
}

// Command builds the cobra command for args (exported for inspection; Main executes it).
func Command[T any](p Program[T], args []string) *cobra.Command {
	var configFile string
	applyGates := func() error {
		if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(p.FeatureGates(p.Config)); err != nil {
			return fmt.Errorf("failed to set feature gates: %w", err)
		}
		return nil
	}
	cmd := &cobra.Command{
		Use:           p.Name,
		Long:          p.Description,
		SilenceErrors: true, // Main logs the error once
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyGates(); err != nil {
				return err
			}
			if configFile != "" {
				if err := p.ReadFile(configFile, p.Config); err != nil {
					return fmt.Errorf("failed to load config file %s: %w", configFile, err)
				}
				// The file replaced everything; the command line takes precedence over it.
				if err := cmd.ParseFlags(args); err != nil {
					return fmt.Errorf("failed to re-parse flags: %w", err)
				}
				if err := applyGates(); err != nil {
					return err
				}
			}
			if err := p.Validate(p.Config); err != nil {
				return fmt.Errorf("error validating flags: %w", err)
			}
			if err := logf.ValidateAndApply(p.Logging(p.Config)); err != nil {
				return fmt.Errorf("failed to validate %s logging flags: %w", p.Name, err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return p.Run(cmd.Context(), p.Config)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&configFile, "config", "", "Path to a file with a "+p.Name+" configuration object (cert-manager's config API); flags given on the command line override it")
	p.AddFlags(fs, p.Config)
	if p.ExtraFlags != nil {
		var extra pflag.FlagSet
		p.ExtraFlags(&extra)
		extra.VisitAll(func(f *pflag.Flag) {
			if fs.Lookup(f.Name) == nil {
				fs.AddFlag(f)
			}
		})
	}
	cmd.SetArgs(args)
	return cmd
}

// ReadConfigFile loads path (made absolute, so relative paths inside resolve against its directory)
// with cert-manager's configfile loader into file.
func ReadConfigFile(path string, file configfile.ConfigFile) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	loader, err := configfile.NewConfigurationFSLoader(nil, abs)
	if err != nil {
		return err
	}
	return loader.Load(file)
}

// LogStart logs the line cert-manager's binaries start with ("starting cert-manager <what>" with
// the version stamped at build time into pkg/util.AppVersion and AppGitCommit).
func LogStart(ctx context.Context, what string) {
	v := cmutil.VersionInfo()
	logf.FromContext(ctx).Info("starting cert-manager "+what, "version", v.GitVersion, "git_commit", v.GitCommit, "go_version", v.GoVersion, "platform", v.Platform)
}

// CertificateSource is the TLS certificate a metrics listener serves, as the config asks: files,
// a dynamic CA kept in a Secret (labelled app.kubernetes.io/managed-by=managedBy), or none (plain HTTP).
func CertificateSource(c shared.TLSConfig, restConfig *rest.Config, managedBy string) tls.CertificateSource {
	switch {
	case c.FilesystemConfigProvided():
		return &tls.FileCertificateSource{CertPath: c.Filesystem.CertFile, KeyPath: c.Filesystem.KeyFile}
	case c.DynamicConfigProvided():
		return &tls.DynamicSource{
			DNSNames: c.Dynamic.DNSNames,
			Authority: &authority.DynamicAuthority{
				SecretNamespace: c.Dynamic.SecretNamespace,
				SecretName:      c.Dynamic.SecretName,
				SecretLabels:    map[string]string{"app.kubernetes.io/managed-by": managedBy},
				LeafDuration:    c.Dynamic.LeafDuration,
				RESTConfig:      restConfig,
			},
		}
	}
	return nil
}

// ServeProfiler serves Go's pprof endpoints on addr until ctx ends.
func ServeProfiler(ctx context.Context, addr string) (func() error, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("failed to listen on profiler address %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	profiling.Install(mux)
	return ServeHTTP(ctx, &http.Server{Handler: mux, ReadHeaderTimeout: ReadHeaderTimeout}, ln), nil
}

// ReadHeaderTimeout bounds slow clients (the value Kubernetes' servers use).
const ReadHeaderTimeout = 32 * time.Second

// ServeHTTP returns a function that serves srv on ln until ctx ends, then shuts it down (5 s grace).
func ServeHTTP(ctx context.Context, srv *http.Server, ln net.Listener) func() error {
	return func() error {
		stopped := make(chan error, 1)
		go func() {
			<-ctx.Done()
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			stopped <- srv.Shutdown(shutdownCtx)
		}()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return <-stopped
	}
}

// AddMetricsTLSFlags binds the metrics endpoint TLS flags the controller and cainjector share.
func AddMetricsTLSFlags(fs *pflag.FlagSet, t *shared.TLSConfig) {
	fs.StringVar(&t.Filesystem.CertFile, "metrics-tls-cert-file", t.Filesystem.CertFile, "TLS certificate file of the metrics endpoint")
	fs.StringVar(&t.Filesystem.KeyFile, "metrics-tls-private-key-file", t.Filesystem.KeyFile, "TLS private key file of the metrics endpoint")
	fs.DurationVar(&t.Dynamic.LeafDuration, "metrics-dynamic-serving-leaf-duration", t.Dynamic.LeafDuration, "Lifetime of dynamically issued metrics serving certificates")
	fs.StringVar(&t.Dynamic.SecretNamespace, "metrics-dynamic-serving-ca-secret-namespace", t.Dynamic.SecretNamespace, "Namespace of the Secret holding the metrics serving CA")
	fs.StringVar(&t.Dynamic.SecretName, "metrics-dynamic-serving-ca-secret-name", t.Dynamic.SecretName, "Name of the Secret holding the metrics serving CA")
	fs.StringSliceVar(&t.Dynamic.DNSNames, "metrics-dynamic-serving-dns-names", t.Dynamic.DNSNames, "DNS names of the dynamically issued metrics serving certificates")
	fs.StringSliceVar(&t.CipherSuites, "metrics-tls-cipher-suites", t.CipherSuites, "TLS cipher suites of the metrics endpoint (default: Go's). Possible: "+strings.Join(cliflag.TLSCipherPossibleValues(), ","))
	fs.StringVar(&t.MinTLSVersion, "metrics-tls-min-version", t.MinTLSVersion, "Minimum TLS version of the metrics endpoint (default: Go's). Possible: "+strings.Join(cliflag.TLSPossibleVersions(), ", "))
}
