/**
 * The values this repository deploys. Pins carry renovate annotations (a `renovate:` line comment above the pin)
 * so the dependency bot can keep them current. Concern sections keep their values beside their schema.
 */
import { readFileSync } from 'node:fs';
import type { ConfigInput } from './schema.ts';
import { appsValues } from './sections/apps.ts';
import { bootstrapValues } from './sections/bootstrap.ts';
import { costValues } from './sections/cost.ts';
import { databaseValues, dataValues } from './sections/data.ts';
import { deliveryValues } from './sections/delivery.ts';
import { observabilityValues } from './sections/observability.ts';
import { platformValues } from './sections/platform.ts';
import { workersValues } from './sections/workers.ts';

export const values: ConfigInput = {
  cluster: {
    domain: 'lms.example.com',
    node: { cpu: 6, memoryGiB: 12, diskGiB: 100, hostname: 'lms-prod-1' },
    k3s: {
      // renovate: datasource=github-releases depName=k3s-io/k3s
      version: 'v1.36.3+k3s1',
      // Not pinned yet: neither install.sh.sha256sum at v1.36.3+k3s1 nor the digest of
      // rancher/k3s-upgrade:v1.36.3-k3s1 could be read from a trusted copy when this was written (no
      // registry or GitHub access). Until installScript is set the k3s step refuses to run the
      // installer; until upgradeImage is set the upgrade Plan names the image by tag. How to pin
      // both: docs/runbooks/upgrade-k3s.md.
    },
    reservation: {
      systemReserved: { cpu: '500m', memory: '768Mi' },
      // k3s runs the API server, controllers, scheduler, kine and containerd in one process.
      kubeReserved: { cpu: '500m', memory: '1024Mi' },
      evictionHardMemory: '300Mi',
      // Requests (HPA maxima, canary pods, jobs, k3s's own pods) stay within 80 % of allocatable:
      // the rest absorbs bursts above requests, k3s's spikes and a pod restarting on a full node.
      // The config refuses less; docs/architecture.md "Capacity" has the trade-offs.
      headroomPercent: 20,
    },
    storageClass: 'local-path',
    objectStorage: {
      endpoint: 'https://eu2.contabostorage.com',
      region: 'eu2',
      bucket: 'lms-backups',
      credentialsSecret: 'object-storage-credentials',
    },
    alerting: {
      slackWebhook: { name: 'alertmanager-slack', key: 'webhook-url' },
      pagerdutyRoutingKey: { name: 'alertmanager-pagerduty', key: 'routing-key' },
      heartbeatUrl: { name: 'alertmanager-heartbeat', key: 'url' },
      slackChannel: '#lms-alerts',
    },
    // Source: https://www.cloudflare.com/ips-v4 and https://www.cloudflare.com/ips-v6
    cloudflare: {
      ipv4: [
        '173.245.48.0/20', '103.21.244.0/22', '103.22.200.0/22', '103.31.4.0/22', '141.101.64.0/18',
        '108.162.192.0/18', '190.93.240.0/20', '188.114.96.0/20', '197.234.240.0/22', '198.41.128.0/17',
        '162.158.0.0/15', '104.16.0.0/13', '104.24.0.0/14', '172.64.0.0/13', '131.0.72.0/22',
      ],
      ipv6: [
        '2400:cb00::/32', '2606:4700::/32', '2803:f800::/32', '2405:b500::/32', '2405:8100::/32',
        '2a06:98c0::/29', '2c0f:f248::/32',
      ],
      // Cloudflare's published CA for zone-level Authenticated Origin Pulls (a public certificate,
      // https://developers.cloudflare.com/ssl/origin-configuration/authenticated-origin-pull/set-up/zone-level/;
      // valid until 2029-11-01): Traefik admits TLS only from clients it signed (charts-ts/lib/origin-pull.ts).
      originPullCa: readFileSync(new URL('./certs/cloudflare-origin-pull-ca.pem', import.meta.url), 'utf8'),
    },
    letsEncryptEmail: 'platform@lms.example.com',
    platform: platformValues,
    data: dataValues,
    observability: observabilityValues,
    bootstrap: bootstrapValues,
    delivery: deliveryValues,
    cost: costValues,
  },
  environments: {
    staging: {
      name: 'staging',
      namespace: 'lms-staging',
      hostnames: { web: 'staging.lms.example.com', api: 'staging-api.lms.example.com' },
      canary: {
        // One analysed step: staging proves the release under synthetic load; production goes slower.
        steps: [{ setWeight: 50 }, { analysis: true }, { setWeight: 100 }],
        manualApproval: false,
      },
      quota: {
        requests: { cpu: '1500m', memory: '3Gi' },
        // CPU limits of every pod at full scale (HPA max + canary + jobs) stay inside: test/apps/quota.test.ts
        limits: { cpu: '8', memory: '5Gi' },
        pvcStorage: '20Gi',
      },
      apps: appsValues.staging,
      workers: workersValues.staging,
      database: databaseValues.staging,
    },
    production: {
      name: 'production',
      namespace: 'lms-production',
      hostnames: { web: 'lms.example.com', api: 'api.lms.example.com' },
      canary: {
        steps: [
          { setWeight: 10 }, { analysis: true },
          { setWeight: 25 }, { analysis: true },
          { setWeight: 50 }, { analysis: true },
          { setWeight: 100 },
        ],
        manualApproval: true,
      },
      quota: {
        requests: { cpu: '4', memory: '7Gi' },
        limits: { cpu: '18', memory: '10Gi' },
        pvcStorage: '60Gi',
      },
      apps: appsValues.production,
      workers: workersValues.production,
      database: databaseValues.production,
    },
  },
};
