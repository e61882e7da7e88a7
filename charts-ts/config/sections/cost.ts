/**
 * Config section: cost. Monthly prices (USD, from the invoice; update when the plan changes) and the
 * active-users metric the API exposes, for the cost-per-active-user KPI (target <= 0.10 USD/month).
 */
import { z } from 'zod';
import { image, secretRef } from '../fields.ts';

const usd = z.number().min(0, 'must be a price in USD >= 0');

export const CostSettings = z.object({
  /** Contabo Cloud VPS 20 (6 vCPU, 12 GB RAM, 100 GB NVMe), incl. 2 snapshots. */
  vpsMonthlyUsd: usd,
  objectStorage: z.object({
    /** Contabo Object Storage is sold in blocks (250 GB at the time of writing). */
    blockGiB: z.number().int().min(1, 'must be the size of one purchased block in GiB'),
    blockMonthlyUsd: usd,
    /** Expected stored volume: base backups + WAL for the retention window + logical dumps. */
    expectedGiB: z.number().min(0),
  }).strict(),
  /** Everything else billed monthly (domain, Slack/PagerDuty seats, ...). */
  otherMonthlyUsd: z.record(z.string().regex(/^[a-z0-9-]+$/, 'must be a lower-case item name like "domain"'), usd),
  /** Gauge the API exposes: distinct users active in the last 30 days. */
  activeUsersMetric: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'is not a Prometheus metric name'),
  /** Target from the epic, applied after the first three months. */
  targetPerActiveUserUsd: usd,
  /** The weekly KPI and cost report posted to Slack (CronJob in monitoring). */
  weeklyReport: z.object({
    schedule: z.string().regex(/^(\S+\s+){4}\S+$/, 'is not a cron schedule; use five fields like "0 8 * * 1"'),
    timeZone: z.string().regex(/^[A-Za-z]+\/[A-Za-z_]+$/, 'is not an IANA time zone; use e.g. "Europe/Sofia"'),
    image,
    /**
     * Cloudflare API token (Analytics:Read and Zone:Read on the zone) for the edge figures: the
     * origin health check's events. The Secret is optional: without it those lines read "no data".
     */
    cloudflareToken: secretRef,
  }).strict(),
}).strict();

/**
 * Python for the standard-library scripts (weekly report, canary probe); digest of python:3.13-slim
 * (linux/amd64 index) as of 2026-09.
 */
// renovate: datasource=docker depName=docker.io/library/python
export const pythonImage = {
  repository: 'docker.io/library/python',
  tag: '3.13-slim',
  digest: 'sha256:7c61056e61ac89e852de05f3dc6fa51a6dd2181797bceed46aa725dd7cb2cd3b',
};

export const costValues: z.input<typeof CostSettings> = {
  vpsMonthlyUsd: 8.49,
  objectStorage: { blockGiB: 250, blockMonthlyUsd: 2.99, expectedGiB: 120 },
  // Cloudflare Pro (monthly billing): WAF managed rules and rate-limit rules per host need it.
  otherMonthlyUsd: { domain: 1.25, 'cloudflare-pro': 25, 'pagerduty-free': 0, 'slack-free': 0, 'github-free': 0 },
  activeUsersMetric: 'lms_active_users_30d',
  targetPerActiveUserUsd: 0.1,
  weeklyReport: {
    schedule: '0 8 * * 1',
    timeZone: 'Europe/Sofia',
    image: pythonImage,
    cloudflareToken: { name: 'cloudflare-analytics', key: 'api-token' },
  },
};
