/**
 * Camel K Integrations and Pipes: which `container:` dependencies a write asks for, whether they
 * need resolving, and the JSON Patch that pins them. Pure: no I/O, nothing here copies or mutates
 * the object.
 *
 * The contract (README.md, "Integrations and Pipes"): every `container:` entry of
 * `spec.dependencies` (a Pipe: also the deprecated `spec.integration.dependencies`) moves, order
 * kept, into the request annotation; the pins annotation lists the same references as
 * `name:tag@sha256:…` in request order; `CAMEL_OCI_DEPENDENCIES=<pins>` goes into
 * `spec.traits.environment.vars`, because traits are hashed into the pod template and so roll the
 * Deployment, while annotations roll nothing.
 *
 * Pins keep the name and tag exactly as the user wrote them and append the resolved manifest
 * digest (`acme/deps:1.0` pins as `acme/deps:1.0@sha256:…`, not `docker.io/acme/deps:1.0@…`), so
 * a pin without its `@digest` is the request entry character for character: people read the pair
 * side by side and the pod path matches them without normalizing. A digest the user wrote is
 * replaced by the resolved one (for an index, the platform manifest the webhook chose); a
 * reference without a tag gets none added.
 */
import { InjectError } from '../base/errors.js';
import {
  ANNOTATION_DEPENDENCIES,
  ANNOTATION_OPT_OUT,
  ANNOTATION_PINNED,
  ANNOTATION_REFRESH,
  ENV_DEPENDENCIES,
  OPT_OUT_VALUE,
} from './annotations.js';
import { REFERENCE_PREFIX, splitReferences } from './decide.js';
import { escapePointer, type JsonPatchOp } from './patch.js';
import { isRecord, own, type JsonObject } from './pod.js';

/** The Camel K kinds this module handles. */
export type CamelKind = 'Integration' | 'Pipe';

/** API version of the Camel K objects this module handles. */
export const CAMEL_API_VERSION = 'camel.apache.org/v1';

/** Why an Integration or Pipe is left alone. Stable strings: logged and counted. */
export const INTEGRATION_SKIP_REASONS = {
  notCamelObject: 'not a camel.apache.org/v1 Integration or Pipe',
  optedOut: `opted out (${ANNOTATION_OPT_OUT}: ${OPT_OUT_VALUE})`,
  derived: 'Integration derived by a controller (a Pipe, or another owner with controller: true, carries the request)',
  notRequested: `no container: dependency and no ${ANNOTATION_DEPENDENCIES} annotation`,
  empty: `annotation ${ANNOTATION_DEPENDENCIES} lists no reference`,
} as const;

/** One `container:` entry taken out of a dependencies list. */
export interface MovedDependency {
  /** JSON Pointer of the list it is in (`/spec/dependencies`, `/spec/integration/dependencies`). */
  readonly list: string;
  /** Index in that list. */
  readonly index: number;
  /** The entry as written (`container:docker.io/acme/deps:1.0`). */
  readonly entry: string;
}

/** Where the pins of a write come from when no resolution is needed. */
export type PinSource = 'old object' | 'object';

/** What to do with an Integration or Pipe write. */
export type IntegrationDecision =
  | { readonly action: 'skip'; readonly reason: string }
  | {
      readonly action: 'pin';
      readonly kind: CamelKind;
      /** The requested references, without the `container:` prefix, deduplicated, in request order. */
      readonly references: readonly string[];
      /** The request annotation's value after the merge (the object's own value when nothing new was moved). */
      readonly request: string;
      /** Entries to take out of the dependencies lists, in list order. */
      readonly moved: readonly MovedDependency[];
      /** True when an UPDATE set a new `oci-refresh` value: tags are asked of the registry, not of a cache. */
      readonly refreshTags: boolean;
      /** Pins to reuse instead of resolving (sticky pins); absent when the references must be resolved. */
      readonly reuse?: { readonly pins: readonly string[]; readonly source: PinSource };
    };

/** A sha256 digest at the end of a pin. */
const PIN = /^([^\s,@]+)@(sha256:[0-9a-f]{64})$/;

function malformed(field: string, what: string): InjectError {
  return new InjectError('UNSUPPORTED', `cannot pin container dependencies: ${field} ${what}`, { context: { field } });
}

function optionalRecordAt(o: JsonObject, key: string, field: string): JsonObject | undefined {
  const v = own(o, key);
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw malformed(field, 'is not an object');
  return v;
}

function optionalArrayAt(o: JsonObject, key: string, field: string): readonly unknown[] | undefined {
  const v = own(o, key);
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw malformed(field, 'is not a list');
  return v;
}

function stringAnnotation(annotations: JsonObject | undefined, key: string): string | undefined {
  if (annotations === undefined) return undefined;
  const v = own(annotations, key);
  return typeof v === 'string' ? v : undefined;
}

/** The kind of a Camel K object this module handles, or undefined for anything else. */
export function camelKindOf(object: unknown): CamelKind | undefined {
  if (!isRecord(object)) return undefined;
  const kind = own(object, 'kind');
  if (own(object, 'apiVersion') !== CAMEL_API_VERSION) return undefined;
  return kind === 'Integration' || kind === 'Pipe' ? kind : undefined;
}

/** The name and tag as written: a reference without its `@digest` part (and without the `container:` prefix). */
export function pinName(referenceOrPin: string): string {
  const bare = referenceOrPin.startsWith(REFERENCE_PREFIX) ? referenceOrPin.slice(REFERENCE_PREFIX.length) : referenceOrPin;
  const at = bare.indexOf('@');
  return at < 0 ? bare : bare.slice(0, at);
}

/** The pin of `reference` (as written, prefix optional) resolved to manifest `digest`: `name:tag@digest`. */
export function pinOf(reference: string, digest: string): string {
  return `${pinName(reference)}@${digest}`;
}

/** Splits a pins annotation; undefined when any entry is not `name@sha256:<64 hex>`. */
export function parsePins(value: string): string[] | undefined {
  const pins = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  return pins.every((p) => PIN.test(p)) ? pins : undefined;
}

/** The digest of a pin (`sha256:…`), or undefined when it is not a pin. */
export function pinDigest(pin: string): string | undefined {
  return PIN.exec(pin)?.[2];
}

/** Pins in `value` that cover exactly `references`, in order; undefined when they do not. */
export function pinsFor(value: string | undefined, references: readonly string[]): string[] | undefined {
  if (value === undefined) return undefined;
  const pins = parsePins(value);
  if (pins === undefined || pins.length !== references.length) return undefined;
  return pins.every((p, i) => pinName(p) === pinName(references[i] as string)) ? pins : undefined;
}

/**
 * True when `metadata.ownerReferences` names a controller (`controller: true`): a Pipe (or its old
 * name, KameletBinding) or any other object whose controller derives this one and compares it with
 * what it derives. Such an Integration is not the user's own: a change made here starts a fight.
 */
export function isControllerDerived(metadata: JsonObject | undefined): boolean {
  if (metadata === undefined) return false;
  const owners = own(metadata, 'ownerReferences');
  if (!Array.isArray(owners)) return false;
  return owners.some((o) => isRecord(o) && own(o, 'controller') === true);
}

/** The `container:` entries of the dependencies lists of an Integration or Pipe, in list order. */
function containerEntries(spec: JsonObject | undefined, kind: CamelKind): MovedDependency[] {
  if (spec === undefined) return [];
  const lists: Array<{ list: string; values: readonly unknown[] | undefined }> = [
    { list: '/spec/dependencies', values: optionalArrayAt(spec, 'dependencies', 'spec.dependencies') },
  ];
  if (kind === 'Pipe') {
    const integration = optionalRecordAt(spec, 'integration', 'spec.integration');
    if (integration !== undefined) {
      lists.push({
        list: '/spec/integration/dependencies',
        values: optionalArrayAt(integration, 'dependencies', 'spec.integration.dependencies'),
      });
    }
  }
  const out: MovedDependency[] = [];
  for (const { list, values } of lists) {
    values?.forEach((entry, index) => {
      if (typeof entry === 'string' && entry.trim().startsWith(REFERENCE_PREFIX)) out.push({ list, index, entry: entry.trim() });
    });
  }
  return out;
}

/**
 * The request annotation after the merge: the object's own value, then each moved entry whose
 * reference it does not already name, comma separated, as written. Returns the value unchanged
 * when nothing new is added, so a re-applied object gets no needless diff.
 */
export function mergeRequest(existing: string | undefined, moved: readonly string[]): string {
  const named = new Set(existing === undefined ? [] : splitReferences(existing));
  const added: string[] = [];
  for (const entry of moved) {
    const ref = entry.slice(REFERENCE_PREFIX.length).trim();
    if (ref.length === 0) {
      throw new InjectError(
        'REFERENCE_INVALID',
        `a dependency "${REFERENCE_PREFIX}" names no reference; write it as ${REFERENCE_PREFIX}REF (for example kamel run -d ${REFERENCE_PREFIX}docker.io/acme/deps:1.0)`,
      );
    }
    if (named.has(ref)) continue;
    named.add(ref);
    added.push(entry);
  }
  if (added.length === 0) return existing ?? '';
  const head = (existing ?? '').replace(/[\s,]+$/, '').trim();
  return head.length === 0 ? added.join(',') : `${head},${added.join(',')}`;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The `oci-refresh` value of the old object (undefined when absent or unreadable). */
function oldRefresh(oldObject: unknown): string | undefined {
  if (!isRecord(oldObject)) return undefined;
  const metadata = own(oldObject, 'metadata');
  const annotations = isRecord(metadata) ? own(metadata, 'annotations') : undefined;
  return isRecord(annotations) ? stringAnnotation(annotations, ANNOTATION_REFRESH) : undefined;
}

/**
 * The old object's pins when the write keeps its request and brings no new refresh value;
 * undefined otherwise. A refresh annotation taken away is no new value: the pins stay.
 */
function stickyPins(oldObject: unknown, references: readonly string[], refresh: string | undefined): string[] | undefined {
  if (!isRecord(oldObject)) return undefined;
  const metadata = own(oldObject, 'metadata');
  const annotations = isRecord(metadata) ? own(metadata, 'annotations') : undefined;
  if (!isRecord(annotations)) return undefined;
  if (refresh !== undefined && stringAnnotation(annotations, ANNOTATION_REFRESH) !== refresh) return undefined;
  const oldRequest = stringAnnotation(annotations, ANNOTATION_DEPENDENCIES);
  if (oldRequest === undefined) return undefined;
  let oldReferences: string[];
  try {
    oldReferences = splitReferences(oldRequest);
  } catch {
    return undefined; // the old object's request was unusable: nothing to stick to
  }
  if (!sameList(oldReferences, references)) return undefined;
  return pinsFor(stringAnnotation(annotations, ANNOTATION_PINNED), references);
}

/**
 * Decides what to do with a write of an Integration or Pipe. `oldObject` is the stored object on
 * UPDATE (undefined on CREATE). Skips objects that opted out, Integrations a controller derived,
 * and objects that ask nothing. Reuses pins without resolving when the UPDATE keeps the request
 * and brings no new `oci-refresh` value (the old object's pins), or when a CREATE already carries
 * pins for exactly its request (an object pinned offline by `camel-oci inject`).
 *
 * Throws InjectError UNSUPPORTED when the object is not an Integration or Pipe or a field has the
 * wrong shape, and REFERENCE_INVALID when the request is not usable.
 */
export function decideIntegration(object: unknown, oldObject?: unknown): IntegrationDecision {
  const kind = camelKindOf(object);
  if (kind === undefined) {
    throw new InjectError('UNSUPPORTED', `cannot pin container dependencies: the object is not a ${CAMEL_API_VERSION} Integration or Pipe`);
  }
  const o = object as JsonObject;
  const metadata = optionalRecordAt(o, 'metadata', 'metadata');
  const annotations = metadata === undefined ? undefined : optionalRecordAt(metadata, 'annotations', 'metadata.annotations');
  const optOut = stringAnnotation(annotations, ANNOTATION_OPT_OUT);
  if (optOut !== undefined && optOut.trim().toLowerCase() === OPT_OUT_VALUE)
    return { action: 'skip', reason: INTEGRATION_SKIP_REASONS.optedOut };
  // Its Pipe was pinned (or its controller owns its spec); any change here makes that controller
  // rebuild it in a loop.
  if (kind === 'Integration' && isControllerDerived(metadata)) return { action: 'skip', reason: INTEGRATION_SKIP_REASONS.derived };

  const moved = containerEntries(optionalRecordAt(o, 'spec', 'spec'), kind);
  const raw = annotations === undefined ? undefined : own(annotations, ANNOTATION_DEPENDENCIES);
  if (raw !== undefined && raw !== null && typeof raw !== 'string') {
    throw new InjectError('REFERENCE_INVALID', `annotation ${ANNOTATION_DEPENDENCIES} must be a string`);
  }
  const existing = typeof raw === 'string' ? raw : undefined;
  if (moved.length === 0 && existing === undefined) return { action: 'skip', reason: INTEGRATION_SKIP_REASONS.notRequested };

  const request = mergeRequest(
    existing,
    moved.map((m) => m.entry),
  );
  const references = splitReferences(request);
  // Moved entries always name a reference (mergeRequest refuses an empty one), so this is an empty annotation alone.
  if (references.length === 0) return { action: 'skip', reason: INTEGRATION_SKIP_REASONS.empty };
  const refresh = stringAnnotation(annotations, ANNOTATION_REFRESH);
  const old = oldObject === undefined || oldObject === null ? undefined : oldObject;
  // Any new value re-resolves the tags; on CREATE there is no old value, so any value is new
  // (`kamel run --annotation camel.apache.org/oci-refresh=…` of a new integration): the tags are
  // asked of the registry. Pins the created object carries for exactly its request still win
  // (a committed object: what git says runs). Taking the annotation away is no new value: a
  // GitOps tool that drops it from the object must not move the pins.
  const refreshTags = refresh !== undefined && (old === undefined || refresh !== oldRefresh(old));
  const base = { action: 'pin', kind, references, request, moved, refreshTags } as const;

  if (old !== undefined) {
    const sticky = stickyPins(old, references, refresh);
    return sticky === undefined ? base : { ...base, reuse: { pins: sticky, source: 'old object' } };
  }
  const own_ = pinsFor(stringAnnotation(annotations, ANNOTATION_PINNED), references);
  return own_ === undefined ? base : { ...base, reuse: { pins: own_, source: 'object' } };
}

/** `CAMEL_OCI_DEPENDENCIES=<pins>`: the environment trait entry that carries the pins. */
export function dependenciesVar(pins: readonly string[]): string {
  return `${ENV_DEPENDENCIES}=${pins.join(',')}`;
}

function pointer(...segments: readonly (string | number)[]): string {
  return segments.map((s) => `/${escapePointer(String(s))}`).join('');
}

/** Operations that take the moved entries out: whole lists when every entry moves, else one by one from the end. */
function removeMoved(object: JsonObject, moved: readonly MovedDependency[]): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  const byList = new Map<string, number[]>();
  for (const m of moved) byList.set(m.list, [...(byList.get(m.list) ?? []), m.index]);
  for (const [list, indices] of byList) {
    const segments = list.slice(1).split('/');
    let values: unknown = object;
    for (const s of segments) values = isRecord(values) ? own(values, s) : undefined;
    const length = Array.isArray(values) ? values.length : 0;
    if (indices.length === length) {
      ops.push({ op: 'remove', path: list });
      continue;
    }
    // From the end, so each index still names the entry it named in the object.
    for (const i of [...indices].sort((a, b) => b - a)) ops.push({ op: 'remove', path: `${list}/${i}` });
  }
  return ops;
}

/** Operations that set `values` in `metadata.annotations`, creating what is missing, touching only what differs. */
function setAnnotations(object: JsonObject, values: Readonly<Record<string, string>>): JsonPatchOp[] {
  const metadata = optionalRecordAt(object, 'metadata', 'metadata');
  if (metadata === undefined) return [{ op: 'add', path: '/metadata', value: { annotations: { ...values } } }];
  const annotations = optionalRecordAt(metadata, 'annotations', 'metadata.annotations');
  if (annotations === undefined) return [{ op: 'add', path: '/metadata/annotations', value: { ...values } }];
  const ops: JsonPatchOp[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (!Object.hasOwn(annotations, key)) ops.push({ op: 'add', path: pointer('metadata', 'annotations', key), value });
    else if (annotations[key] !== value) ops.push({ op: 'replace', path: pointer('metadata', 'annotations', key), value });
  }
  return ops;
}

/**
 * Operations that make `spec.traits.environment.vars` hold `entry` as its one CAMEL_OCI_DEPENDENCIES
 * variable: creates `spec`/`traits`/`environment`/`vars` as needed, replaces the first earlier entry
 * in place and removes any later ones, and leaves the other variables and their order alone.
 */
function setDependenciesVar(object: JsonObject, entry: string): JsonPatchOp[] {
  const spec = optionalRecordAt(object, 'spec', 'spec');
  if (spec === undefined) return [{ op: 'add', path: '/spec', value: { traits: { environment: { vars: [entry] } } } }];
  const traits = optionalRecordAt(spec, 'traits', 'spec.traits');
  if (traits === undefined) return [{ op: 'add', path: '/spec/traits', value: { environment: { vars: [entry] } } }];
  const environment = optionalRecordAt(traits, 'environment', 'spec.traits.environment');
  if (environment === undefined) return [{ op: 'add', path: '/spec/traits/environment', value: { vars: [entry] } }];
  const vars = optionalArrayAt(environment, 'vars', 'spec.traits.environment.vars');
  if (vars === undefined) return [{ op: 'add', path: '/spec/traits/environment/vars', value: [entry] }];
  const prefix = `${ENV_DEPENDENCIES}=`;
  const earlier = vars.flatMap((v, i) => (typeof v === 'string' && v.startsWith(prefix) ? [i] : []));
  const path = '/spec/traits/environment/vars';
  if (earlier.length === 0) return [{ op: 'add', path: `${path}/-`, value: entry }];
  const [first, ...rest] = earlier as [number, ...number[]];
  const ops: JsonPatchOp[] = rest.reverse().map((i) => ({ op: 'remove', path: `${path}/${i}` }));
  if (vars[first] !== entry) ops.push({ op: 'replace', path: `${path}/${first}`, value: entry });
  return ops;
}

/**
 * Builds the JSON Patch for a `pin` decision: takes the moved entries out, sets the request
 * annotation, and, when `pins` is given, the pins annotation and the CAMEL_OCI_DEPENDENCIES
 * variable. `pins` undefined (resolution failed under `--on-error allow`) only moves the entries,
 * so the operator's build no longer fails and pods resolve from the copied request annotation.
 * An object that already holds all of it yields no operations.
 */
export function buildIntegrationPatch(
  object: unknown,
  decision: Extract<IntegrationDecision, { action: 'pin' }>,
  pins: readonly string[] | undefined,
): JsonPatchOp[] {
  if (!isRecord(object)) throw new InjectError('UNSUPPORTED', 'cannot pin container dependencies: the object is not a JSON object');
  if (pins !== undefined && pins.length !== decision.references.length) {
    throw new InjectError('INTERNAL', `${pins.length} pins for ${decision.references.length} references`);
  }
  const values: Record<string, string> = { [ANNOTATION_DEPENDENCIES]: decision.request };
  if (pins !== undefined) values[ANNOTATION_PINNED] = pins.join(',');
  return [
    ...removeMoved(object, decision.moved),
    ...setAnnotations(object, values),
    ...(pins === undefined ? [] : setDependenciesVar(object, dependenciesVar(pins))),
  ];
}
