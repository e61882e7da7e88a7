/**
 * Kubeconfigs that act as a ServiceAccount: the run's admin certificate with `as:` set to the
 * account, so every request a component makes is authorised by the RBAC its chart (or Flux's
 * install manifest) grants that account, exactly as for the pod, and nothing more. The API server
 * adds the account's groups (system:serviceaccounts, system:serviceaccounts:<ns>) itself.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ControlPlane } from '../../cluster/support/control-plane.ts';

export function impersonatingKubeconfig(plane: ControlPlane, namespace: string, serviceAccount: string): string {
  const file = join(plane.runDir, `kubeconfig-${namespace}-${serviceAccount}`);
  writeFileSync(file, stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lms-test', cluster: { server: plane.server, 'certificate-authority': plane.pki.caCert } }],
    users: [{ name: serviceAccount, user: { 'client-certificate': plane.pki.adminCert, 'client-key': plane.pki.adminKey, as: `system:serviceaccount:${namespace}:${serviceAccount}` } }],
    contexts: [{ name: 'lms-test', context: { cluster: 'lms-test', user: serviceAccount, namespace } }],
    'current-context': 'lms-test',
  }), { mode: 0o600 });
  return file;
}
