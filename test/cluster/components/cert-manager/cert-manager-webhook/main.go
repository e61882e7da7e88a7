// cert-manager-webhook for the cluster tests: cert-manager v1.21.1's admission webhook (validation,
// mutation and conversion of cert-manager's resources) assembled from its published module (see
// ../go.mod for why this program is ours and not upstream's cmd/).
//
// Its flags, configuration defaults and the webhook server itself are cert-manager's own
// (pkg/webhook/options and internal/webhook); this program only adds the command line around them.
package main

import (
	"context"
	"fmt"
	"os"

	logsapi "k8s.io/component-base/logs/api/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/cert-manager/cert-manager/lms-test-binaries/internal/cli"

	config "github.com/cert-manager/cert-manager/internal/apis/config/webhook"
	"github.com/cert-manager/cert-manager/internal/apis/config/webhook/validation"
	cmwebhook "github.com/cert-manager/cert-manager/internal/webhook"
	_ "github.com/cert-manager/cert-manager/internal/webhook/feature" // registers the webhook's feature gates
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	webhookconfigfile "github.com/cert-manager/cert-manager/pkg/webhook/configfile"
	"github.com/cert-manager/cert-manager/pkg/webhook/options"
)

func main() {
	cfg, err := options.NewWebhookConfiguration()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager-webhook: building the default configuration:", err)
		os.Exit(1)
	}
	cli.Main(cli.Program[config.WebhookConfiguration]{
		Name:        "webhook",
		Description: "cert-manager's webhook: validates, defaults and converts cert-manager's resources for the API server.",
		Config:      cfg,
		AddFlags:    options.AddConfigFlags,
		Setup:       func() { ctrl.SetLogger(logf.Log) },
		ReadFile: func(path string, cfg *config.WebhookConfiguration) error {
			f := webhookconfigfile.New()
			if err := cli.ReadConfigFile(path, f); err != nil {
				return err
			}
			f.Config.DeepCopyInto(cfg)
			return nil
		},
		FeatureGates: func(c *config.WebhookConfiguration) map[string]bool { return c.FeatureGates },
		Validate: func(c *config.WebhookConfiguration) error {
			return validation.ValidateWebhookConfiguration(c, nil).ToAggregate()
		},
		Logging: func(c *config.WebhookConfiguration) *logsapi.LoggingConfiguration { return &c.Logging },
		Run: func(ctx context.Context, c *config.WebhookConfiguration) error {
			cli.LogStart(ctx, "webhook")
			srv, err := cmwebhook.NewCertManagerWebhookServer(logf.FromContext(ctx), *c)
			if err != nil {
				return err
			}
			return srv.Run(ctx)
		},
	})
}
