/**
 * Offline schema validation of every object, as the API server would see it:
 * - built-in kinds against the OpenAPI v3 spec of the Kubernetes version the cluster runs
 *   (config cluster.k3s.version -> .cache/k8s-openapi/v<version>/, see scripts/setup.d/10-k8s-openapi.sh);
 * - custom resources against the `openAPIV3Schema` of the served version of the pinned CRD
 *   (cdk8s.yaml + crds.sha256, files in CRD_DIR), plus k3s's HelmChartConfig (./helmchartconfig.ts);
 * - anything else fails as an unknown kind.
 *
 * Like the API server's strict field validation, unknown fields are errors: every object schema that
 * lists `properties` and does not allow `additionalProperties` (or x-kubernetes-preserve-unknown-fields)
 * rejects other keys. Quantities must parse, int-or-string fields take either, list-type map/set
 * entries must be unique, and a custom resource's `metadata` is checked as an ObjectMeta.
 * Not checked offline: CEL rules (x-kubernetes-validations) and Go-coded validation of built-in
 * kinds; the cluster tests (npm run test:cluster) apply the output to a real kube-apiserver for those.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../charts-ts/config/load.ts';
import { kubernetesVersion } from '../../charts-ts/config/schema.ts';
import { values } from '../../charts-ts/config/values.ts';
import { crdFile, pinnedCrds, repoRoot } from '../../charts-ts/lib/crds.ts';
import { helmChartConfigCrd } from './helmchartconfig.ts';
import { problem, type OutputObject, type Problem } from './problem.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv, formats: string[]) => Ajv;

/** Kubernetes resource.Quantity (k8s.io/apimachinery/pkg/api/resource), as controller-gen emits it. */
const quantityPattern = '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';
const objectMeta = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
/** Formats checked like the API server decodes them; any other format is accepted as is. */
const checkedFormats = ['date-time', 'byte', 'int32', 'int64', 'float', 'double'];

export interface ResourceType {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Where the schema comes from, for messages. */
  readonly source: string;
}

// ------------------------------------------------------------------ schema preparation

/** group, version and kind as the OpenAPI spec's `x-kubernetes-group-version-kind` gives them. */
interface Gvk { readonly group: string; readonly version: string; readonly kind: string }

/**
 * A JSON Schema node of the OpenAPI spec or a CRD: the keywords read or rewritten here, every other
 * keyword kept as it is (and passed to ajv).
 */
interface SchemaNode {
  type?: string;
  format?: string;
  pattern?: string;
  $ref?: string;
  properties?: Record<string, Schema>;
  patternProperties?: Record<string, Schema>;
  definitions?: Record<string, Schema>;
  $defs?: Record<string, Schema>;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  items?: Schema;
  additionalProperties?: Schema;
  additionalItems?: Schema;
  not?: Schema;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-group-version-kind'?: Gvk[];
  'x-kubernetes-list-map-keys'?: string[];
  /** Set here: the name messages give the schema. */
  'x-schema-name'?: string;
  [keyword: string]: unknown;
}
type Schema = SchemaNode | boolean;

/** The object form of a schema (undefined for `true`/`false`). */
const nodeOf = (s: Schema | undefined): SchemaNode | undefined => (typeof s === 'object' ? s : undefined);

const schemaMaps = ['properties', 'patternProperties', 'definitions', '$defs'] as const;
const schemaLists = ['allOf', 'anyOf', 'oneOf'] as const;
const schemaSingles = ['items', 'additionalProperties', 'not', 'additionalItems'] as const;

/**
 * Rewrites a schema in place the way the API server interprets it: unknown fields are errors,
 * x-kubernetes-int-or-string means integer or string, embedded resources carry apiVersion/kind/metadata.
 */
function kubernetesSemantics(node: Schema | undefined, formats: Set<string>): void {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return;
  if (typeof node.format === 'string') formats.add(node.format);
  if (node['x-kubernetes-int-or-string'] && !node.type && !node.anyOf && !node.oneOf) {
    node.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (node['x-kubernetes-embedded-resource'] && node.properties) {
    node.properties = { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...node.properties };
  }
  if (node.properties && node.additionalProperties === undefined && !node['x-kubernetes-preserve-unknown-fields']) {
    node.additionalProperties = false;
  }
  for (const k of schemaMaps) for (const v of Object.values(node[k] ?? {})) kubernetesSemantics(v, formats);
  for (const k of schemaLists) for (const v of node[k] ?? []) kubernetesSemantics(v, formats);
  for (const k of schemaSingles) if (typeof node[k] === 'object') kubernetesSemantics(node[k], formats);
}

/** Names every object schema of a CRD for messages: `Rollout spec.strategy.canary.steps[] (CRD rollouts.argoproj.io v1alpha1)`. */
function nameSchemas(node: Schema | undefined, kind: string, path: string, source: string): void {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return;
  if (node.properties) node['x-schema-name'] = `${kind}${path ? ` ${path}` : ''} (${source})`;
  for (const [k, v] of Object.entries(node.properties ?? {})) nameSchemas(v, kind, path ? `${path}.${k}` : k, source);
  if (typeof node.items === 'object') nameSchemas(node.items, kind, `${path}[]`, source);
  if (typeof node.additionalProperties === 'object') nameSchemas(node.additionalProperties, kind, `${path}.*`, source);
  for (const k of schemaLists) for (const v of node[k] ?? []) nameSchemas(v, kind, path, source);
}

// ------------------------------------------------------------------ the Kubernetes OpenAPI spec

export function openApiDir(version: string): string {
  const dir = process.env.K8S_OPENAPI_DIR ?? resolve(repoRoot, '.cache', 'k8s-openapi', `v${version}`);
  if (!existsSync(join(dir, '.source'))) {
    throw new Error(`the Kubernetes ${version} OpenAPI spec is not in ${dir}: run \`npm run setup\` `
      + `(scripts/setup.d/10-k8s-openapi.sh copies it from the Go module k8s.io/kubernetes@v${version})`);
  }
  return dir;
}

interface K8sSpec {
  readonly schemas: Record<string, SchemaNode>;
  /** `apiVersion kind` -> schema name, for kinds that can be created (a POST path exists). */
  readonly resources: Map<string, ResourceType & { schema: string }>;
}

const gvkKey = (apiVersion: string, kind: string): string => `${apiVersion} ${kind}`;
const apiVersionOf = (g: { group: string; version: string }): string => (g.group ? `${g.group}/${g.version}` : g.version);

/** One file of the OpenAPI v3 spec: the parts read. */
interface OpenApiDoc {
  readonly components?: { readonly schemas?: Record<string, SchemaNode> };
  readonly paths?: Record<string, { readonly post?: { readonly 'x-kubernetes-group-version-kind'?: Gvk; readonly 'x-kubernetes-action'?: string } }>;
}

function loadK8sSpec(version: string, formats: Set<string>): K8sSpec {
  const dir = openApiDir(version);
  const schemas: Record<string, SchemaNode> = {};
  const scope = new Map<string, boolean>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const doc = JSON.parse(readFileSync(join(dir, f), 'utf8')) as OpenApiDoc;
    Object.assign(schemas, doc.components?.schemas ?? {});
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      const post = item.post;
      const gvk = post?.['x-kubernetes-group-version-kind'];
      // Collection POSTs create objects; POSTs under /{name}/ are subresources (eviction, binding).
      if (!gvk || post['x-kubernetes-action'] !== 'post' || path.includes('{name}')) continue;
      scope.set(gvkKey(apiVersionOf(gvk), gvk.kind), path.includes('/namespaces/{namespace}/'));
    }
  }
  const resources = new Map<string, ResourceType & { schema: string }>();
  for (const [name, s] of Object.entries(schemas)) {
    const gvks: Gvk[] = s['x-kubernetes-group-version-kind'] ?? [];
    if (gvks.length !== 1) continue; // DeleteOptions, WatchEvent, ... carry every group
    const apiVersion = apiVersionOf(gvks[0]);
    const namespaced = scope.get(gvkKey(apiVersion, gvks[0].kind));
    if (namespaced === undefined) continue;
    resources.set(gvkKey(apiVersion, gvks[0].kind), {
      apiVersion, kind: gvks[0].kind, namespaced, schema: name, source: `Kubernetes ${version} OpenAPI ${name}`,
    });
  }
  for (const [name, s] of Object.entries(schemas)) {
    kubernetesSemantics(s, formats);
    s['x-schema-name'] = `${name.split('.').pop()} (Kubernetes ${version} ${name})`;
  }
  const quantity = schemas['io.k8s.apimachinery.pkg.api.resource.Quantity'];
  if (quantity) quantity.oneOf = [{ type: 'string', pattern: quantityPattern }, { type: 'number' }];
  return { schemas, resources };
}

// ------------------------------------------------------------------ pinned CRDs

/** A CustomResourceDefinition: the fields read. */
interface Crd {
  readonly metadata: { readonly name: string };
  readonly spec: {
    readonly group: string;
    readonly names: { readonly kind: string };
    readonly scope: string;
    readonly versions?: readonly {
      readonly name: string;
      readonly served?: boolean;
      readonly deprecated?: boolean;
      readonly deprecationWarning?: string;
      readonly schema?: { readonly openAPIV3Schema?: SchemaNode };
    }[];
  };
}

/** Parsing the pinned CRD YAML takes seconds; the parsed form is cached by file hash in .cache/crd-json. */
function loadCrds(): Crd[] {
  const cacheDir = resolve(repoRoot, '.cache', 'crd-json');
  mkdirSync(cacheDir, { recursive: true });
  return pinnedCrds().flatMap((crd) => {
    const path = crdFile(crd); // verifies the sha256 pinned in crds.sha256
    const text = readFileSync(path);
    const cached = join(cacheDir, `${createHash('sha256').update(text).digest('hex')}.json`);
    if (existsSync(cached)) return JSON.parse(readFileSync(cached, 'utf8')) as Crd[];
    const objects = parseAllDocuments(text.toString('utf8')).map((d) => d.toJS())
      .filter((o) => o?.kind === 'CustomResourceDefinition');
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(objects));
    renameSync(tmp, cached);
    return objects;
  });
}

interface CrdVersion {
  readonly type: ResourceType;
  readonly schema: SchemaNode;
  readonly served: boolean;
  readonly deprecationWarning?: string;
}

// ------------------------------------------------------------------ ajv extensions

/** x-kubernetes-list-type: entries of a `set` are unique, entries of a `map` are unique by their list-map-keys. */
function listTypeKeyword(ajv: Ajv): void {
  ajv.addKeyword({
    keyword: 'x-kubernetes-list-type',
    type: 'array',
    schemaType: 'string',
    errors: true,
    validate: function check(listType: string, data: unknown[], parent: SchemaNode | undefined): boolean {
      const self = check as unknown as { errors?: Partial<ErrorObject>[] };
      self.errors = [];
      if (listType !== 'set' && listType !== 'map') return true;
      const keys: string[] = parent?.['x-kubernetes-list-map-keys'] ?? [];
      const seen = new Map<string, number>();
      data.forEach((item, i) => {
        const id = listType === 'set' ? JSON.stringify(item) : JSON.stringify(keys.map((k) => (item as Record<string, unknown> | null | undefined)?.[k] ?? null));
        const first = seen.get(id);
        if (first === undefined) { seen.set(id, i); return; }
        self.errors!.push({
          keyword: 'x-kubernetes-list-type',
          message: listType === 'set'
            ? `duplicate value ${id} (also at [${first}]); this list is a set`
            : `duplicate entry for ${keys.join('+')} ${id} (also at [${first}]); entries must be unique by ${keys.join('+')}`,
          params: { index: i },
        });
      });
      return self.errors.length === 0;
    },
  });
}

/**
 * CRD patterns are Go (RE2) regular expressions. The only RE2 syntax they use that JavaScript lacks is
 * the inline case-insensitive flag `(?i)`; it is applied to the whole pattern (slightly more lenient
 * than RE2 when the flag sits mid-pattern).
 */
const goRegExp = Object.assign((pattern: string, flags: string) => {
  const insensitive = pattern.includes('(?i)');
  return new RegExp(pattern.replaceAll('(?i)', ''), insensitive ? `${flags}i` : flags);
}, { code: 'goRegExp' });

// ------------------------------------------------------------------ specialization

const structural = new Set(['properties', 'items', 'additionalProperties', 'allOf', 'anyOf', 'oneOf', 'not', '$ref', 'description', 'default', 'example']);
/** Extensions that carry no validation (already applied by kubernetesSemantics, or server-side only). */
const ignoredExtensions = (k: string): boolean => k.startsWith('x-kubernetes-') && k !== 'x-kubernetes-list-type' && k !== 'x-kubernetes-list-map-keys';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The part of a schema that `samples` can reach: sub-schemas of fields the data does not have become
 * `true` (their names stay, so unknown fields are still caught), `$ref`s are inlined where data goes
 * through them. Validating a sample against the result gives exactly the errors of the full schema,
 * but ajv compiles a schema the size of the object instead of all of PodSpec or a whole CRD, which is
 * what keeps the whole output's validation within seconds.
 */
function specialize(schema: Schema, samples: unknown[], resolveRef: (ref: string) => SchemaNode, depth = 0): Schema {
  if (schema === true || schema === false || !isObject(schema)) return schema;
  if (depth > 200) throw new Error('schema nesting too deep while specializing (recursive $ref?)');
  const out: SchemaNode = {};
  for (const [k, v] of Object.entries(schema)) if (!structural.has(k) && !ignoredExtensions(k)) out[k] = v;
  if (typeof schema.$ref === 'string') {
    const target = resolveRef(schema.$ref);
    out.allOf = [...(out.allOf ?? []), specialize(target, samples, resolveRef, depth + 1)];
  }
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
    if (Array.isArray(schema[k])) out[k] = [...(out[k] ?? []), ...schema[k].map((s) => specialize(s, samples, resolveRef, depth + 1))];
  }
  if (schema.not !== undefined) out.not = specialize(schema.not, samples, resolveRef, depth + 1);
  const objects = samples.filter(isObject);
  if (isObject(schema.properties)) {
    out.properties = {};
    for (const [name, sub] of Object.entries(schema.properties)) {
      const values = objects.map((o) => o[name]).filter((v) => v !== undefined);
      out.properties[name] = values.length ? specialize(sub, values, resolveRef, depth + 1) : true;
    }
  }
  if (schema.additionalProperties !== undefined) {
    if (!isObject(schema.additionalProperties)) out.additionalProperties = schema.additionalProperties;
    else {
      const known = new Set(Object.keys(schema.properties ?? {}));
      const values = objects.flatMap((o) => Object.entries(o).filter(([k]) => !known.has(k)).map(([, v]) => v));
      out.additionalProperties = values.length ? specialize(schema.additionalProperties, values, resolveRef, depth + 1) : true;
    }
  }
  if (schema.items !== undefined) {
    const values = samples.filter(Array.isArray).flat();
    out.items = values.length ? specialize(schema.items, values, resolveRef, depth + 1) : true;
  }
  return out;
}

// ------------------------------------------------------------------ the validator

export class SchemaValidator {
  private readonly ajv: Ajv;
  private readonly k8s: K8sSpec;
  private readonly crds = new Map<string, CrdVersion>();
  /** group/kind -> versions the CRD defines (for "wrong version" messages). */
  private readonly crdKinds = new Map<string, string[]>();
  /** Compiled specialized schemas by their JSON: objects of the same shape share one. */
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly formats = new Set<string>();

  constructor(readonly kubernetesVersion: string) {
    this.ajv = new Ajv({
      strict: false, allErrors: true, verbose: true, validateFormats: true,
      code: { optimize: false, regExp: goRegExp },
    });
    addFormats(this.ajv, [...checkedFormats]);
    listTypeKeyword(this.ajv);
    this.k8s = loadK8sSpec(kubernetesVersion, this.formats);
    for (const crd of [...loadCrds(), structuredClone(helmChartConfigCrd)]) this.addCrd(crd);
    // Formats the API server does not check for these types (int-or-string, ...) are accepted as they are.
    for (const f of this.formats) if (!checkedFormats.includes(f)) this.ajv.addFormat(f, true);
  }

  private addCrd(crd: Crd): void {
    const { group, names, scope } = crd.spec;
    for (const v of crd.spec.versions ?? []) {
      const schema = structuredClone(v.schema?.openAPIV3Schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
      kubernetesSemantics(schema, this.formats);
      // The API server validates a custom resource's metadata as ObjectMeta.
      schema.properties = { ...schema.properties, metadata: { $ref: `#/components/schemas/${objectMeta}` } };
      const apiVersion = `${group}/${v.name}`;
      nameSchemas(schema, names.kind, '', `CRD ${crd.metadata.name} ${v.name}`);
      this.crds.set(gvkKey(apiVersion, names.kind), {
        type: { apiVersion, kind: names.kind, namespaced: scope === 'Namespaced', source: `CRD ${crd.metadata.name} ${v.name}` },
        schema,
        served: v.served !== false,
        deprecationWarning: v.deprecated ? (v.deprecationWarning ?? `${apiVersion} ${names.kind} is deprecated`) : undefined,
      });
      const k = `${group}/${names.kind}`;
      this.crdKinds.set(k, [...(this.crdKinds.get(k) ?? []), v.name]);
    }
  }

  /** The type of an apiVersion/kind, or a message saying why it is not known. */
  resolve(apiVersion: string, kind: string): ResourceType | string {
    const key = gvkKey(apiVersion, kind);
    const builtin = this.k8s.resources.get(key);
    if (builtin) {
      const version = apiVersion.split('/').pop()!;
      if (/alpha|beta/.test(version)) {
        const ga = [...this.k8s.resources.values()].filter((r) => r.kind === kind && !/alpha|beta/.test(r.apiVersion)).map((r) => r.apiVersion);
        return `${apiVersion} ${kind} is a pre-release API that Kubernetes ${this.kubernetesVersion} does not serve by default; `
          + (ga.length ? `use ${ga.join(' or ')}` : 'it would need a feature gate and --runtime-config on the k3s server');
      }
      return builtin;
    }
    const crd = this.crds.get(key);
    if (crd) {
      if (!crd.served) return `${apiVersion} ${kind}: the pinned CRD defines this version but does not serve it (served: false); use ${this.servedVersions(apiVersion, kind)}`;
      return crd.type;
    }
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
    const versions = this.crdKinds.get(`${group}/${kind}`)?.map((v) => `${group}/${v}`)
      ?? [...this.k8s.resources.values()].filter((r) => r.kind === kind).map((r) => r.apiVersion);
    if (versions.length) return `unknown version ${apiVersion} for kind ${kind}; known: ${[...new Set(versions)].join(', ')}`;
    return `unknown kind ${kind} (${apiVersion}): it is neither a Kubernetes ${this.kubernetesVersion} built-in nor in a pinned CRD; `
      + 'add its CRD to cdk8s.yaml and crds.sha256 (see docs/development.md, "Adding a CRD")';
  }

  private servedVersions(apiVersion: string, kind: string): string {
    const group = apiVersion.split('/')[0];
    return [...this.crds.values()].filter((c) => c.type.kind === kind && c.type.apiVersion.startsWith(`${group}/`) && c.served)
      .map((c) => c.type.apiVersion).join(' or ') || 'another version';
  }

  private readonly resolveRef = (ref: string): SchemaNode => {
    const name = ref.replace(/^.*#\/components\/schemas\//, '');
    const s = this.k8s.schemas[name];
    if (!s) throw new Error(`schema reference ${ref} not found in the Kubernetes ${this.kubernetesVersion} OpenAPI spec`);
    return s;
  };

  /** Schema problems of one object. */
  validate(at: OutputObject): Problem[] {
    const o = at.object;
    if (!isObject(o) || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') {
      return [problem('schema', at, '', 'is not a Kubernetes object: apiVersion and kind must be strings')];
    }
    const type = this.resolve(o.apiVersion, o.kind);
    if (typeof type === 'string') return [problem('schema', at, '', type)];
    const out: Problem[] = [];
    const key = gvkKey(type.apiVersion, type.kind);
    const crd = this.crds.get(key);
    if (crd?.deprecationWarning) out.push(problem('schema', at, 'apiVersion', `${crd.deprecationWarning}; use the CRD's storage version`));
    if (!o.metadata?.name) out.push(problem('schema', at, 'metadata.name', 'is required'));
    const root = crd ? crd.schema : this.k8s.schemas[this.k8s.resources.get(key)!.schema];
    const schema = specialize(root, [o], this.resolveRef);
    const id = JSON.stringify(schema);
    let validate = this.compiled.get(id);
    if (!validate) this.compiled.set(id, (validate = this.ajv.compile(schema)));
    if (!validate(o)) out.push(...describeErrors(validate.errors ?? [], at));
    return out;
  }
}

// ------------------------------------------------------------------ messages

/** `/spec/template/spec/containers/0/name` -> `spec.template.spec.containers[0].name` */
export function dottedPath(pointer: string): string {
  return pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

const join2 = (a: string, b: string): string => (a ? `${a}.${b}` : b);

/** The schema an error is about, e.g. `SecurityContext (Kubernetes 1.36.3 io.k8s.api.core.v1.SecurityContext)`. */
const typeName = (e: ErrorObject): string => (e.parentSchema as SchemaNode | undefined)?.['x-schema-name'] ?? 'the schema';

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

function suggestion(field: string, allowed: string[]): string {
  const best = allowed.map((f) => [f, editDistance(field, f)] as const).sort((x, y) => x[1] - y[1])[0];
  if (best && best[1] <= Math.max(2, Math.floor(field.length / 3))) return `; did you mean "${best[0]}"?`;
  return allowed.length <= 12 ? `; allowed: ${allowed.join(', ')}` : '';
}

function describeErrors(errors: ErrorObject[], at: OutputObject): Problem[] {
  // A failed oneOf/anyOf also reports every branch's error at the same path: keep only the summary.
  const unions = new Set(errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').map((e) => e.instancePath));
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const e of errors) {
    if (unions.has(e.instancePath) && e.keyword !== 'oneOf' && e.keyword !== 'anyOf') continue;
    let path = dottedPath(e.instancePath);
    let message: string;
    switch (e.keyword) {
      case 'additionalProperties': {
        const field = e.params.additionalProperty as string;
        path = join2(path, field);
        const allowed = Object.keys((e.parentSchema as SchemaNode | undefined)?.properties ?? {});
        message = `unknown field "${field}" in ${typeName(e)}${suggestion(field, allowed)}`;
        break;
      }
      case 'required':
        path = join2(path, e.params.missingProperty as string);
        message = `is required by ${typeName(e)}`;
        break;
      case 'enum':
        message = `${JSON.stringify(e.data)} is not allowed; use one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'type':
        message = `${JSON.stringify(e.data)} must be of type ${e.params.type as string}`;
        break;
      case 'oneOf':
      case 'anyOf': {
        if (nodeOf((e.parentSchema as SchemaNode | undefined)?.oneOf?.[0])?.pattern === quantityPattern) {
          message = `${JSON.stringify(e.data)} is not a Kubernetes quantity; use e.g. "250m" or "1" (CPU), "512Mi" or "2Gi" (memory)`;
        } else {
          const branches = ((e.schema as Schema[] | undefined) ?? []).map((b) => nodeOf(b)?.type ?? nodeOf(b)?.['x-schema-name'] ?? 'another shape').join(' or ');
          message = `${JSON.stringify(e.data)} must be ${branches}`;
        }
        break;
      }
      case 'pattern':
        message = `${JSON.stringify(e.data)} does not match ${e.params.pattern as string}`;
        break;
      case 'format':
        message = `${JSON.stringify(e.data)} is not a valid ${e.params.format as string}`;
        break;
      case 'x-kubernetes-list-type':
        path = `${path}[${e.params.index as number}]`;
        message = e.message ?? 'duplicate entry';
        break;
      default:
        message = `${e.message ?? e.keyword}${e.data !== undefined && typeof e.data !== 'object' ? ` (got ${JSON.stringify(e.data)})` : ''}`;
    }
    const line = `${path}\u0000${message}`;
    if (seen.has(line)) continue;
    seen.add(line);
    out.push(problem('schema', at, path, message));
  }
  return out;
}

// ------------------------------------------------------------------ shared instance

const instances = new Map<string, SchemaValidator>();

/** The Kubernetes version of config values.ts (cluster.k3s.version). */
export const configuredKubernetesVersion = (): string => kubernetesVersion(parseConfig(values).cluster);

/** One validator per Kubernetes version per process: loading and compiling schemas is the slow part. */
export function schemaValidator(version = configuredKubernetesVersion()): SchemaValidator {
  let v = instances.get(version);
  if (!v) instances.set(version, (v = new SchemaValidator(version)));
  return v;
}
