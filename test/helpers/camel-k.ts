/**
 * Camel K objects for tests: Integrations as `kamel run` creates them, Pipes, the Integration the
 * Pipe controller derives from a Pipe, the pod Camel K starts from an Integration, AdmissionReviews
 * for them, and validation against the Integration and Pipe CRDs (test/fixtures/camel-k-crds/).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { fixtureJson, fixtureText } from './fixtures.js';

/** A JSON object in a test. */
export type Obj = Record<string, any>;

/** The annotation Camel K keeps on a Pipe for its Kamelet's icon, and does not copy to the Integration. */
export const ICON_ANNOTATION = 'camel.apache.org/kamelet.icon';

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keywords of an OpenAPI v3 structural schema that JSON Schema (draft 7) reads the same way. */
const COPIED = new Set([
  'type',
  'required',
  'enum',
  'maxLength',
  'minLength',
  'pattern',
  'maximum',
  'minimum',
  'exclusiveMaximum',
  'exclusiveMinimum',
  'maxItems',
  'minItems',
  'uniqueItems',
  'maxProperties',
  'minProperties',
  'multipleOf',
]);

/**
 * Turns a CRD's structural schema into JSON Schema as the apiserver applies it:
 * `x-kubernetes-int-or-string` becomes integer-or-string, `nullable` admits null, and an object
 * without `x-kubernetes-preserve-unknown-fields` is closed (`additionalProperties: false` unless it
 * has a schema for them), so a field the apiserver would silently prune fails validation instead.
 * Descriptions, formats and the other `x-kubernetes-*` markers are dropped (the apiserver does not
 * reject on formats). `metadata` at the root stays free: the apiserver checks ObjectMeta itself.
 */
export function structuralToJsonSchema(node: unknown, root = true): Obj {
  if (!isObj(node)) return {};
  const nullable = node.nullable === true;
  if (node['x-kubernetes-int-or-string'] === true) {
    return { anyOf: [{ type: 'integer' }, { type: 'string' }, ...(nullable ? [{ type: 'null' }] : [])] };
  }
  const out: Obj = {};
  for (const [k, v] of Object.entries(node)) {
    if (COPIED.has(k)) out[k] = v;
    else if (k === 'properties' && isObj(v)) {
      out.properties = Object.fromEntries(
        Object.entries(v).map(([name, s]) => [name, root && name === 'metadata' ? { type: 'object' } : structuralToJsonSchema(s, false)]),
      );
    } else if (k === 'items') out.items = structuralToJsonSchema(v, false);
    else if (k === 'additionalProperties') out.additionalProperties = isObj(v) ? structuralToJsonSchema(v, false) : v;
    else if (k === 'allOf' || k === 'anyOf' || k === 'oneOf') out[k] = (v as unknown[]).map((s) => structuralToJsonSchema(s, false));
    else if (k === 'not') out.not = structuralToJsonSchema(v, false);
  }
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (node.type === 'object' && !preserve && out.additionalProperties === undefined) out.additionalProperties = false;
  if (nullable && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

const validators = new Map<string, ValidateFunction>();

/** The v1 schema of a Camel K CRD fixture (`integrations` or `pipes`) as JSON Schema. */
export function crdJsonSchema(plural: 'integrations' | 'pipes'): Obj {
  const crd = parse(fixtureText(`camel-k-crds/camel.apache.org_${plural}.yaml`)) as Obj;
  const v1 = (crd.spec.versions as Obj[]).find((v) => v.name === 'v1');
  if (v1 === undefined) throw new Error(`${plural}: no v1 version in the CRD fixture`);
  return structuralToJsonSchema(v1.schema.openAPIV3Schema);
}

/** Errors of an Integration or Pipe against its CRD's v1 structural schema ([] when valid). */
export function crdErrors(object: Obj): string[] {
  const plural = object.kind === 'Pipe' ? 'pipes' : object.kind === 'Integration' ? 'integrations' : undefined;
  if (plural === undefined) return [`kind ${String(object.kind)} is not Integration or Pipe`];
  let validate = validators.get(plural);
  if (validate === undefined) {
    const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
    validate = ajv.compile(crdJsonSchema(plural));
    validators.set(plural, validate);
  }
  const out = validate(object)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  for (const [k, v] of Object.entries(object.metadata?.annotations ?? {}))
    if (typeof v !== 'string') out.push(`annotation ${k} is not a string`);
  return out;
}

/** Options of an Integration as `kamel run` writes it. */
export interface KamelRunOptions {
  /** `-d` values, in order (`camel:http`, `mvn:…`, `container:…`). */
  readonly dependencies?: readonly string[];
  /** `-e NAME=value` values (the environment trait). */
  readonly env?: readonly string[];
  /** Other traits (`-t …`), merged under `spec.traits`. */
  readonly traits?: Obj;
  /** `--annotation` values. */
  readonly annotations?: Readonly<Record<string, string>>;
  readonly namespace?: string;
}

/** An Integration as `kamel run Hello.java [-d …] [-e …] [-t …]` sends it on CREATE. */
export function kamelRunIntegration(name: string, options: KamelRunOptions = {}): Obj {
  const traits: Obj = { ...(options.traits ?? {}) };
  if (options.env !== undefined) traits.environment = { ...(traits.environment ?? {}), vars: [...options.env] };
  return {
    apiVersion: 'camel.apache.org/v1',
    kind: 'Integration',
    metadata: {
      name,
      namespace: options.namespace ?? 'demo',
      annotations: { 'camel.apache.org/operator.id': 'camel-k', ...(options.annotations ?? {}) },
    },
    spec: {
      ...(options.dependencies !== undefined ? { dependencies: [...options.dependencies] } : {}),
      sources: [
        {
          name: 'Hello.java',
          content:
            'import org.apache.camel.builder.RouteBuilder;\npublic class Hello extends RouteBuilder {\n  public void configure() { from("timer:tick").log("hello"); }\n}\n',
        },
      ],
      ...(Object.keys(traits).length > 0 ? { traits } : {}),
    },
  };
}

/** Options of a Pipe. */
export interface PipeOptions {
  readonly dependencies?: readonly string[];
  /** The deprecated `spec.integration.dependencies`. */
  readonly integrationDependencies?: readonly string[];
  readonly traits?: Obj;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A Pipe from the timer-source Kamelet to `log:info`, as `kamel bind` or `kubectl apply` writes it. */
export function pipeOf(name: string, options: PipeOptions = {}): Obj {
  return {
    apiVersion: 'camel.apache.org/v1',
    kind: 'Pipe',
    metadata: {
      name,
      namespace: 'demo',
      uid: '5b0a6ab8-2c37-4d5b-9a9e-7c4d2f1e0a11',
      annotations: {
        [ICON_ANNOTATION]: 'data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4=',
        ...(options.annotations ?? {}),
      },
      labels: { app: name },
    },
    spec: {
      source: { ref: { apiVersion: 'camel.apache.org/v1', kind: 'Kamelet', name: 'timer-source' }, properties: { message: 'hello' } },
      sink: { uri: 'log:info' },
      ...(options.dependencies !== undefined ? { dependencies: [...options.dependencies] } : {}),
      ...(options.integrationDependencies !== undefined ? { integration: { dependencies: [...options.integrationDependencies] } } : {}),
      ...(options.traits !== undefined ? { traits: structuredClone(options.traits) } : {}),
    },
  };
}

/**
 * The Integration the Pipe controller creates from `pipe` (camel-k pkg/controller/pipe/integration.go,
 * reproduced for the fields it copies): annotations minus the Kamelet icon, labels plus the creator
 * labels, a controlling owner reference to the Pipe, the deprecated `spec.integration` as the base
 * spec, then the Pipe's traits, dependencies and replicas, and the route built from source and sink.
 */
export function derivePipeIntegration(pipe: Obj): Obj {
  const annotations: Obj = { ...(pipe.metadata.annotations ?? {}) };
  delete annotations[ICON_ANNOTATION];
  const spec: Obj = pipe.spec.integration !== undefined ? structuredClone(pipe.spec.integration) : {};
  if (pipe.spec.traits !== undefined) spec.traits = structuredClone(pipe.spec.traits);
  if (pipe.spec.dependencies !== undefined) spec.dependencies = structuredClone(pipe.spec.dependencies);
  if (pipe.spec.replicas !== undefined) spec.replicas = pipe.spec.replicas;
  spec.flows = [
    {
      route: {
        id: 'binding',
        from: {
          uri: `kamelet:${pipe.spec.source.ref.name}/source`,
          parameters: pipe.spec.source.properties,
          steps: [{ to: pipe.spec.sink.uri }],
        },
      },
    },
  ];
  return {
    apiVersion: 'camel.apache.org/v1',
    kind: 'Integration',
    metadata: {
      name: pipe.metadata.name,
      namespace: pipe.metadata.namespace,
      annotations,
      labels: {
        ...(pipe.metadata.labels ?? {}),
        'camel.apache.org/created.by.kind': 'Pipe',
        'camel.apache.org/created.by.name': pipe.metadata.name,
      },
      ownerReferences: [
        {
          apiVersion: 'camel.apache.org/v1',
          kind: 'Pipe',
          name: pipe.metadata.name,
          uid: pipe.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec,
  };
}

/**
 * The pod Camel K starts for `integration` (the hello pod fixture): the Integration's annotations
 * copied onto it (all but `kubectl.kubernetes.io/*`), and the environment trait's variables in the
 * integration container.
 */
export function podFromIntegration(integration: Obj): Obj {
  const pod = fixtureJson<Obj>('camel-k-pods/camel-k-hello-pod.json');
  for (const [k, v] of Object.entries(integration.metadata.annotations ?? {})) {
    if (!k.startsWith('kubectl.kubernetes.io/')) pod.metadata.annotations[k] = v;
  }
  const container = (pod.spec.containers as Obj[]).find((c) => c.name === 'integration') as Obj;
  for (const entry of (integration.spec.traits?.environment?.vars ?? []) as string[]) {
    const eq = entry.indexOf('=');
    container.env.push({ name: entry.slice(0, eq), value: entry.slice(eq + 1) });
  }
  return pod;
}

/** An AdmissionReview v1 request for an Integration or Pipe write (CREATE unless told; UPDATE carries `oldObject`). */
export function camelReviewOf(object: Obj, fields: { uid?: string; operation?: 'CREATE' | 'UPDATE'; oldObject?: Obj } = {}): Obj {
  const kind = object.kind as string;
  const resource = kind === 'Pipe' ? 'pipes' : 'integrations';
  const gvk = { group: 'camel.apache.org', version: 'v1', kind };
  const gvr = { group: 'camel.apache.org', version: 'v1', resource };
  const operation = fields.operation ?? (fields.oldObject !== undefined ? 'UPDATE' : 'CREATE');
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: fields.uid ?? '8f0e3c2a-1b4d-4e5f-9a6b-7c8d9e0f1a2b',
      kind: gvk,
      resource: gvr,
      requestKind: gvk,
      requestResource: gvr,
      name: object.metadata?.name ?? '',
      namespace: object.metadata?.namespace ?? 'demo',
      operation,
      userInfo: { username: 'developer', groups: ['system:authenticated'] },
      object,
      oldObject: fields.oldObject ?? null,
      dryRun: false,
      options: { kind: operation === 'CREATE' ? 'CreateOptions' : 'UpdateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  };
}

/**
 * What `kamel run` sends when it runs again on an existing Integration: it reads the stored object,
 * applies its options to a copy (re-adding its `-d` values) and merge-patches, so the result is the
 * stored object with the `container:` dependencies appended again.
 */
export function kamelRerun(stored: Obj, dependencies: readonly string[]): Obj {
  const next = structuredClone(stored);
  const deps: string[] = next.spec.dependencies ?? [];
  for (const d of dependencies) if (!deps.includes(d)) deps.push(d);
  next.spec.dependencies = deps;
  return next;
}
