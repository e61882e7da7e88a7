/**
 * The API server's AdmissionConfiguration for Pod Security Admission, equal to the one k3s is
 * started with on the VPS (k3s `pod-security-admission-config-file`): the default level for
 * namespaces without their own labels and the exempt namespaces come from the same config
 * (`cluster.bootstrap.k3s.podSecurityDefault` / `podSecurityExemptNamespaces`) the bootstrap step
 * renders that file from. Warn and audit use the same level, so anything that would be warned about
 * on the cluster is warned about here (and a warning fails the tests).
 */
import { parseConfig } from '../../../charts-ts/config/load.ts';
import { values } from '../../../charts-ts/config/values.ts';

export function podSecurityConfiguration() {
  const { podSecurityDefault: level, podSecurityExemptNamespaces: namespaces } = parseConfig(values).cluster.bootstrap.k3s;
  return {
    apiVersion: 'pod-security.admission.config.k8s.io/v1',
    kind: 'PodSecurityConfiguration',
    defaults: { enforce: level, 'enforce-version': 'latest', audit: level, 'audit-version': 'latest', warn: level, 'warn-version': 'latest' },
    exemptions: { usernames: [], runtimeClasses: [], namespaces: [...namespaces] },
  };
}

export function admissionConfiguration() {
  return {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'AdmissionConfiguration',
    plugins: [{ name: 'PodSecurity', configuration: podSecurityConfiguration() }],
  };
}
