/**
 * A CloudNativePG Pooler (PgBouncer, transaction pooling) in front of a cluster's primary. Rendered
 * only when the connection budget needs it (./connection-budget.ts): the API then connects to
 * `names.database.poolerService` instead of `-rw`, and PostgreSQL sees at most defaultPoolSize
 * server connections per PgBouncer instance.
 */
import { Construct } from 'constructs';
import type { Environment, Image, Resources } from '../config/schema.ts';
import { imageRef } from '../config/schema.ts';
import { PodMonitor } from '../imports/podmonitor-monitoring.coreos.com.ts';
import {
  Pooler, PoolerSpecPgbouncerPoolMode, PoolerSpecTemplateSpecContainersResourcesLimits,
  PoolerSpecTemplateSpecContainersResourcesRequests, PoolerSpecType,
} from '../imports/cnpg-pooler-postgresql.cnpg.io.ts';
import { footprintAnnotation, footprintValue } from '../lib/footprint.ts';

export interface PgBouncerPoolerProps {
  readonly env: Environment;
  readonly name: string;
  readonly clusterName: string;
  readonly image: Image;
  readonly instances: number;
  readonly defaultPoolSize: number;
  readonly maxClientConn: number;
  readonly resources: Resources;
}

export class PgBouncerPooler extends Construct {
  constructor(scope: Construct, id: string, props: PgBouncerPoolerProps) {
    super(scope, id);
    const r = props.resources;
    const resources = {
      requests: {
        cpu: PoolerSpecTemplateSpecContainersResourcesRequests.fromString(r.requests.cpu),
        memory: PoolerSpecTemplateSpecContainersResourcesRequests.fromString(r.requests.memory),
      },
      limits: {
        cpu: PoolerSpecTemplateSpecContainersResourcesLimits.fromString(r.limits.cpu),
        memory: PoolerSpecTemplateSpecContainersResourcesLimits.fromString(r.limits.memory),
      },
    };
    new Pooler(this, 'Resource', {
      metadata: {
        name: props.name,
        namespace: props.env.namespace,
        annotations: {
          [footprintAnnotation]: footprintValue([{ name: `${props.name} (pgbouncer)`, replicas: props.instances, ...r }]),
        },
      },
      spec: {
        cluster: { name: props.clusterName },
        instances: props.instances,
        type: PoolerSpecType.RW,
        pgbouncer: {
          image: imageRef(props.image),
          poolMode: PoolerSpecPgbouncerPoolMode.TRANSACTION,
          parameters: {
            default_pool_size: String(props.defaultPoolSize),
            max_client_conn: String(props.maxClientConn),
            // Protocol-level prepared statements survive transaction pooling (PgBouncer >= 1.21).
            max_prepared_statements: '200',
          },
        },
        template: {
          spec: {
            containers: [{ name: 'pgbouncer', resources }],
            // CloudNativePG adds a `bootstrap-controller` init container (it copies the instance
            // manager into the pod) and gives it only the template's pod-level resources
            // (pkg/specs/pgbouncer/deployments.go, 1.30); without these the operator's Deployment
            // has a container without requests/limits, which lms-resources-required and the quota
            // refuse (found by npm run test:e2e). Same numbers as pgbouncer: the pod's effective
            // request stays the same.
            initContainers: [{ name: 'bootstrap-controller', resources }],
          },
        },
      },
    });
    new PodMonitor(this, 'PodMonitor', {
      metadata: { name: props.name, namespace: props.env.namespace },
      spec: {
        selector: { matchLabels: { 'cnpg.io/poolerName': props.name } },
        podMetricsEndpoints: [{ port: 'metrics' }],
      },
    });
  }
}
