/**
 * The one place cdk8s-plus is imported. It targets the Kubernetes 1.27 API; moving to another major
 * (cdk8s-plus-33, ...) is a one-line change here. See docs/adr/0001-cdk8s-plus-27.md for how its
 * output is checked against the Kubernetes version the cluster runs.
 */
export * as kplus from 'cdk8s-plus-27';
