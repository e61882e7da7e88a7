/**
 * The system-upgrade-controller Plan that moves k3s to the pinned `cluster.k3s.version`. Changing that
 * pin is the whole upgrade procedure (docs/runbooks/upgrade-k3s.md).
 *
 * Single node: the node is cordoned, never drained. Draining the only node would evict every pod with
 * nowhere to go (an outage); replacing the k3s binary and restarting the service does not stop the
 * running containers, so the apps keep serving while the API server restarts. The cordon only keeps
 * new pods off the node until the controller uncordons it after a successful upgrade.
 */
import type { Construct } from 'constructs';
import type { Config } from '../config/schema.ts';
import { Plan, PlanSpecWindowDays } from '../imports/upgrade-plan-upgrade.cattle.io.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { footprintAnnotation, footprintValue } from '../lib/footprint.ts';
import { platformNs } from '../lib/namespaces.ts';
import { systemUpgradeServiceAccount } from './system-upgrade-controller.ts';

export const k3sServerPlan = 'k3s-server';

/** The k3s-upgrade image tag for a k3s release: "+" is not allowed in tags, upstream writes "-". */
export const k3sUpgradeTag = (k3sVersion: string): string => k3sVersion.replace('+', '-');

/**
 * The upgrade image: by tag and digest when cluster.k3s.upgradeImage pins it (the controller leaves a
 * tagged or digested reference as it is: system-upgrade-controller pkg/upgrade/container WithLatestTag
 * only appends the version's tag to a bare repository), otherwise the bare repository, to which the
 * controller appends the tag derived from `version` (see k3sUpgradeTag).
 */
export function k3sUpgradeImageRef(config: Config): string {
  const repo = config.cluster.platform.upgrades.k3sUpgradeImage;
  const pin = config.cluster.k3s.upgradeImage;
  return pin ? `${repo}:${pin.tag}@${pin.digest}` : repo;
}

export class UpgradePlansChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.configs, component: 'upgrades' });
    const u = config.cluster.platform.upgrades;
    // The upgrade Job's pod gets the system-upgrade LimitRange defaults (the controller sets none).
    const job = config.cluster.platform.controllers.systemUpgrade.jobResources;
    new Plan(this, k3sServerPlan, {
      metadata: {
        name: k3sServerPlan,
        namespace: platformNs.systemUpgrade,
        annotations: { [footprintAnnotation]: footprintValue([{ name: 'k3s upgrade job (maintenance window only)', replicas: 1, ...job }]) },
      },
      spec: {
        version: config.cluster.k3s.version,
        concurrency: 1,
        cordon: true,
        // No `drain`: see the comment at the top of this file.
        nodeSelector: { matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'In', values: ['true'] }] },
        serviceAccountName: systemUpgradeServiceAccount,
        tolerations: [
          { key: 'CriticalAddonsOnly', operator: 'Exists' },
          { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
        ],
        jobActiveDeadlineSecs: u.jobActiveDeadlineSeconds,
        window: {
          days: u.window.days.map((d) => d as PlanSpecWindowDays),
          startTime: u.window.startTime,
          endTime: u.window.endTime,
          timeZone: u.window.timeZone,
        },
        upgrade: { image: k3sUpgradeImageRef(config) },
      },
    });
  }
}
