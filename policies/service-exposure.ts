/**
 * Only the ingress (Traefik, in kube-system) is exposed on the node: a NodePort or LoadBalancer
 * Service anywhere else would bypass Cloudflare, TLS and the firewall's 80/443-only rule.
 */
import type { AdmissionPolicy, PolicyContext } from './types.ts';

export const serviceExposure = (ctx: PolicyContext): AdmissionPolicy => ({
  name: 'lms-service-exposure',
  description: `Services are ClusterIP (or headless/ExternalName) outside the ingress namespace ${ctx.ingressNamespace}.`,
  resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['services'], operations: ['CREATE', 'UPDATE'] }],
  namespaces: { allExcept: [ctx.ingressNamespace] },
  validations: [{
    expression: "!has(object.spec.type) || !(object.spec.type in ['NodePort', 'LoadBalancer'])",
    message: `Services of type NodePort or LoadBalancer are only allowed in ${ctx.ingressNamespace} (the ingress); use type ClusterIP and route traffic through an IngressRoute`,
    messageExpression: `'Service ' + object.metadata.name + ' has type ' + object.spec.type + '; only the ingress in ${ctx.ingressNamespace} is exposed on the node: use type ClusterIP and route traffic through an IngressRoute'`,
    reason: 'Forbidden',
  }],
});
