/**
 * system-upgrade-controller, rendered from the upstream install manifests (manifests/ at the pinned
 * tag): upstream publishes no Helm chart, Rancher's packaging hard-codes the cattle-system namespace
 * and offers no resources value, and community charts lag behind. Rendering it here also lets the
 * capacity budget read its pod template directly. The controller registers the Plan CRD itself on
 * start-up; the Plans are in upgrade-plans.ts (configs layer).
 */
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import type { Config } from '../config/schema.ts';
import { imageRef } from '../config/fields.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { providesApiGroupsAnnotation } from '../lib/helm-release.ts';
import { platformNs } from '../lib/namespaces.ts';

const namespace = platformNs.systemUpgrade;
/** The service account the controller and its upgrade Jobs run as. */
export const systemUpgradeServiceAccount = 'system-upgrade';
const controllerName = 'system-upgrade-controller';
const envConfigMap = 'default-controller-env';

type SystemUpgradeSettings = Config['cluster']['platform']['controllers']['systemUpgrade'];

export class SystemUpgradeControllerChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.controllers, component: 'system-upgrade-controller' });
    const c = config.cluster.platform.controllers.systemUpgrade;
    new ApiObject(this, 'service-account', {
      apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: systemUpgradeServiceAccount, namespace },
    });
    this.controllerEnv(c, config.cluster.platform.upgrades.jobActiveDeadlineSeconds);
    this.controllerDeployment(c);
    this.rbac();
  }

  /** The controller's settings (upstream manifests/system-upgrade-controller.yaml's ConfigMap). */
  private controllerEnv(c: SystemUpgradeSettings, jobActiveDeadlineSeconds: number): void {
    new ApiObject(this, 'env', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: envConfigMap, namespace },
      data: {
        SYSTEM_UPGRADE_CONTROLLER_DEBUG: 'false',
        SYSTEM_UPGRADE_CONTROLLER_THREADS: '2',
        SYSTEM_UPGRADE_CONTROLLER_LEADER_ELECT: 'true',
        SYSTEM_UPGRADE_JOB_ACTIVE_DEADLINE_SECONDS: String(jobActiveDeadlineSeconds),
        SYSTEM_UPGRADE_JOB_BACKOFF_LIMIT: '99',
        // Images are pinned by digest: no need to re-pull on every Job.
        SYSTEM_UPGRADE_JOB_IMAGE_PULL_POLICY: 'IfNotPresent',
        SYSTEM_UPGRADE_JOB_KUBECTL_IMAGE: imageRef(c.kubectlImage),
        SYSTEM_UPGRADE_JOB_KUBECTL_IMAGE_WINDOWS: '',
        // The k3s upgrade replaces the binary on the host: the Job must be privileged.
        SYSTEM_UPGRADE_JOB_PRIVILEGED: 'true',
        SYSTEM_UPGRADE_JOB_TTL_SECONDS_AFTER_FINISH: '900',
        SYSTEM_UPGRADE_PLAN_POLLING_INTERVAL: '15m',
      },
    });
  }

  /** One replica on the control-plane node, restricted, with the host's CA bundles read-only. */
  private controllerDeployment(c: SystemUpgradeSettings): void {
    const labels = {
      'app.kubernetes.io/name': controllerName,
      'app.kubernetes.io/component': 'controller',
      // The controller recognises its own pod by this label and never drains it.
      'upgrade.cattle.io/controller': controllerName,
    };
    const hostCa = (name: string, path: string) => ({ name, hostPath: { path, type: 'DirectoryOrCreate' } });
    new ApiObject(this, 'deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: controllerName, namespace, annotations: { [providesApiGroupsAnnotation]: JSON.stringify(['upgrade.cattle.io']) } },
      spec: {
        replicas: 1,
        strategy: { type: 'Recreate' },
        selector: { matchLabels: { 'upgrade.cattle.io/controller': controllerName } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: systemUpgradeServiceAccount,
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{
                    matchExpressions: [
                      { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' },
                      { key: 'kubernetes.io/os', operator: 'In', values: ['linux'] },
                    ],
                  }],
                },
              },
            },
            tolerations: [
              { key: 'CriticalAddonsOnly', operator: 'Exists' },
              { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
              { key: 'node-role.kubernetes.io/master', operator: 'Exists', effect: 'NoSchedule' },
            ],
            securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{
              name: controllerName,
              image: imageRef(c.image),
              imagePullPolicy: 'IfNotPresent',
              resources: c.resources,
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              envFrom: [{ configMapRef: { name: envConfigMap } }],
              env: [
                { name: 'SYSTEM_UPGRADE_CONTROLLER_NAME', valueFrom: { fieldRef: { fieldPath: "metadata.labels['upgrade.cattle.io/controller']" } } },
                { name: 'SYSTEM_UPGRADE_CONTROLLER_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'SYSTEM_UPGRADE_CONTROLLER_NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
              ],
              // The host's CA bundles, read-only (upstream's choice: upgrade channels are fetched over TLS).
              volumeMounts: [
                { name: 'etc-ssl', mountPath: '/etc/ssl', readOnly: true },
                { name: 'etc-pki', mountPath: '/etc/pki', readOnly: true },
                { name: 'etc-ca-certificates', mountPath: '/etc/ca-certificates', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            }],
            volumes: [
              hostCa('etc-ssl', '/etc/ssl'),
              hostCa('etc-pki', '/etc/pki'),
              hostCa('etc-ca-certificates', '/etc/ca-certificates'),
              { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
            ],
          },
        },
      },
    });
  }

  /** RBAC, as upstream manifests/clusterrole.yaml and clusterrolebinding.yaml. */
  private rbac(): void {
    const rule = (apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[]) =>
      ({ apiGroups, resources, verbs, ...(resourceNames ? { resourceNames } : {}) });
    new ApiObject(this, 'cluster-role', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: controllerName },
      rules: [
        rule(['batch'], ['jobs'], ['get', 'list', 'watch']),
        rule(['apiextensions.k8s.io'], ['customresourcedefinitions'], ['get', 'list', 'watch', 'create', 'patch', 'update']),
        rule([''], ['namespaces', 'nodes'], ['get', 'list', 'watch']),
        rule([''], ['nodes'], ['update']),
        rule([''], ['events'], ['get', 'create', 'patch', 'update']),
        rule(['coordination.k8s.io'], ['leases'], ['create']),
        rule(['coordination.k8s.io'], ['leases'], ['get', 'update'], [controllerName]),
        rule(['upgrade.cattle.io'], ['plans', 'plans/status'], ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete']),
      ],
    });
    new ApiObject(this, 'drainer-role', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `${controllerName}-drainer` },
      rules: [
        rule([''], ['pods/eviction'], ['create']),
        rule([''], ['pods'], ['get', 'list', 'delete']),
        rule([''], ['nodes'], ['get', 'patch']),
        rule(['apps'], ['statefulsets', 'daemonsets', 'replicasets'], ['get', 'list']),
      ],
    });
    new ApiObject(this, 'role', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: controllerName, namespace },
      rules: [
        rule(['batch'], ['jobs'], ['create', 'delete', 'deletecollection', 'patch', 'update', 'get', 'list', 'watch']),
        rule([''], ['secrets'], ['get', 'list', 'watch']),
      ],
    });
    const subjects = [{ kind: 'ServiceAccount', name: systemUpgradeServiceAccount, namespace }];
    const bind = (cid: string, kind: 'ClusterRoleBinding' | 'RoleBinding', name: string, roleKind: string, roleName: string) =>
      new ApiObject(this, cid, {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind,
        metadata: { name, ...(kind === 'RoleBinding' ? { namespace } : {}) },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: roleName },
        subjects,
      });
    bind('cluster-role-binding', 'ClusterRoleBinding', 'system-upgrade', 'ClusterRole', controllerName);
    bind('drainer-binding', 'ClusterRoleBinding', 'system-upgrade-drainer', 'ClusterRole', `${controllerName}-drainer`);
    bind('role-binding', 'RoleBinding', 'system-upgrade', 'Role', controllerName);
  }
}
