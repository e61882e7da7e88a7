// Pebble (MPL-2.0, https://github.com/letsencrypt/pebble): Let's Encrypt's small ACME test server, the
// stand-in for Let's Encrypt in the first-deploy test (cert-manager registers, orders and solves DNS-01
// against it as it would against acme-v02.api.letsencrypt.org).
module lms-gitops/test/cluster/components/pebble

go 1.26.0

tool github.com/letsencrypt/pebble/v2/cmd/pebble

// renovate: datasource=go depName=github.com/letsencrypt/pebble/v2
require github.com/letsencrypt/pebble/v2 v2.10.3 // indirect

require (
	github.com/go-jose/go-jose/v4 v4.1.8 // indirect
	github.com/letsencrypt/challtestsrv v1.4.2 // indirect
	github.com/miekg/dns v1.1.62 // indirect
	golang.org/x/mod v0.24.0 // indirect
	golang.org/x/net v0.55.0 // indirect
	golang.org/x/sync v0.14.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
	golang.org/x/tools v0.33.0 // indirect
)
