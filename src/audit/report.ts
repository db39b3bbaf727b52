/**
 * The audit report: pods, Integrations and Pipes (as the Kubernetes API returns them) grouped by
 * integration, with what was asked, what was pinned, what each pod runs, and findings with stable
 * codes. Pure: the objects are read elsewhere (src/kube/audit-source.ts), tags are resolved
 * elsewhere (src/commands/audit.ts) and handed in.
 */
import { asCamelOciError } from '../base/errors.js';
import {
  ANNOTATION_DEPENDENCIES,
  ANNOTATION_OPT_OUT,
  ANNOTATION_PINNED,
  ANNOTATION_RESOLVED,
  IMAGE_VOLUME_PREFIX,
  LABEL_INTEGRATION,
  OPT_OUT_VALUE,
} from '../inject/annotations.js';
import { REFERENCE_PREFIX, splitReferences } from '../inject/decide.js';
import { annotation, isImageVolume, isInjected, isRecord, own, type JsonObject } from '../inject/pod.js';
import { digestHex12 } from '../plan/plan.js';
import { isTagReference, parsePins, parseResolvedAnnotation, pinKey, pinnedDigest, referenceKey, type Pin } from './annotations.js';

/** Version of the JSON report's shape; a change that removes or retypes a field bumps it. */
export const AUDIT_API_VERSION = 'camel-oci.audit/v1';

/** Stable finding codes (scripts switch on them; README.md lists their meaning). */
export const FINDING_CODES = [
  'NOT_INJECTED',
  'RESOLVED_INVALID',
  'DIGEST_SKEW',
  'STALE_RESOLUTION',
  'UNPINNED',
  'PIN_MISMATCH',
  'TAG_MOVED',
  'TAG_CHECK_FAILED',
] as const;

/** One finding code. */
export type FindingCode = (typeof FINDING_CODES)[number];

/** A problem the audit found. */
export interface Finding {
  readonly code: FindingCode;
  readonly namespace: string;
  readonly integration: string;
  readonly pod?: string;
  /** The reference concerned, as requested. */
  readonly reference?: string;
  /** Full digests involved (the message shortens them). */
  readonly digests?: readonly string[];
  readonly message: string;
}

/** One reference a pod runs, from its resolved annotation. */
export interface RunningReference {
  /** The reference as the pod asked for it. */
  readonly reference: string;
  /** `domain/repository@sha256:…` of the image manifest. */
  readonly pinned: string;
  readonly digest: string;
  /** Digest of the index the manifest was chosen from. */
  readonly index?: string;
  readonly platform?: string;
  readonly layers: readonly string[];
  /** The webhook used an earlier resolution because the registry failed. */
  readonly stale?: true;
  /** With `--image-volumes` on at admission: mounted as an image volume, or fetched. */
  readonly mode?: 'image-volume' | 'fetch';
  /** Why it was fetched although image volumes were on. */
  readonly fallback?: string;
}

/** One pod of an integration. */
export interface PodEntry {
  readonly name: string;
  /** `metadata.creationTimestamp` as the API gives it (RFC 3339), when present. */
  readonly since?: string;
  readonly phase?: string;
  /** The `camel-oci-fetch` init container, or a camel-oci image volume, is present. */
  readonly injected: boolean;
  /** References the pod's own request annotation names. */
  readonly requested: readonly string[];
  /** What it runs: empty when not injected or its resolved annotation is unreadable. */
  readonly runs: readonly RunningReference[];
}

/** Where an integration's request and pins were read. */
export type ObjectKind = 'Integration' | 'Pipe' | 'none';

/** One integration: its object (when the API serves Camel K) and its pods. */
export interface IntegrationEntry {
  readonly namespace: string;
  readonly name: string;
  /** The object the request and pins come from: a Pipe over the Integration it owns; `none` when only pods were seen. */
  readonly object: ObjectKind;
  /**
   * References asked for, in order: the object's request annotation plus `container:` entries still in
   * its dependencies; else the pods'.
   */
  readonly requested: readonly string[];
  /** Pins, in request order (from the object; else copied onto the pods by Camel K). */
  readonly pins: readonly Pin[];
  readonly pods: readonly PodEntry[];
}

/** The result of one tag check. */
export type TagCheck =
  | { readonly reference: string; readonly digest: string; readonly index?: string }
  | { readonly reference: string; readonly error: { readonly code: string; readonly message: string } };

/** The whole report; JSON output is this object. */
export interface AuditReport {
  readonly apiVersion: typeof AUDIT_API_VERSION;
  /** The namespace audited, or null with `allNamespaces`. */
  readonly namespace: string | null;
  readonly allNamespaces: boolean;
  /** Whether the API served camel.apache.org/v1 Integrations (else only pods were read). */
  readonly camelApi: boolean;
  readonly integrations: readonly IntegrationEntry[];
  /** Tags resolved with `--check-tags` (empty without it). */
  readonly tags: readonly TagCheck[];
  readonly findings: readonly Finding[];
}

/** What the report is built from. */
export interface AuditObjects {
  readonly pods: readonly unknown[];
  readonly integrations: readonly unknown[];
  readonly pipes: readonly unknown[];
  readonly camelApi: boolean;
}

/** What was audited. */
export interface AuditScope {
  readonly namespace: string | null;
  readonly allNamespaces: boolean;
}

function str(o: JsonObject | undefined, key: string): string | undefined {
  if (o === undefined) return undefined;
  const v = own(o, key);
  return typeof v === 'string' ? v : undefined;
}

function sub(o: unknown, key: string): JsonObject | undefined {
  if (!isRecord(o)) return undefined;
  const v = own(o, key);
  return isRecord(v) ? v : undefined;
}

function annotationsOf(o: unknown): JsonObject | undefined {
  return sub(sub(o, 'metadata'), 'annotations');
}

/** `container:` entries of a dependencies list (the user's `kamel run -d container:…` not yet moved by the webhook). */
function containerDependencies(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list
    .filter((d): d is string => typeof d === 'string' && d.startsWith(REFERENCE_PREFIX))
    .map((d) => d.slice(REFERENCE_PREFIX.length));
}

/** What an object or pod asks for; `problem` when its request annotation is unusable. */
function requestOf(o: unknown, extra: readonly string[] = []): { refs: string[]; problem?: string } {
  const value = annotation(annotationsOf(o), ANNOTATION_DEPENDENCIES);
  let refs: string[] = [];
  let problem: string | undefined;
  if (value !== undefined) {
    try {
      refs = splitReferences(value);
    } catch (err) {
      problem = asCamelOciError(err).message;
    }
  }
  const seen = new Set(refs.map(referenceKey));
  for (const r of extra) {
    if (!seen.has(referenceKey(r))) {
      seen.add(referenceKey(r));
      refs.push(r);
    }
  }
  return problem === undefined ? { refs } : { refs, problem };
}

function pinsOf(o: unknown): { pins: Pin[]; problem?: string } {
  const value = annotation(annotationsOf(o), ANNOTATION_PINNED);
  if (value === undefined) return { pins: [] };
  try {
    return { pins: parsePins(value) };
  } catch (err) {
    return { pins: [], problem: asCamelOciError(err).message };
  }
}

function short(digest: string): string {
  return digestHex12(digest);
}

interface Group {
  namespace: string;
  name: string;
  integration?: unknown;
  pipe?: unknown;
  pods: unknown[];
}

function groupKey(namespace: string, name: string): string {
  return JSON.stringify([namespace, name]);
}

/** The pod's entry, plus its findings. */
function podEntry(pod: unknown, namespace: string, integration: string, findings: Finding[]): PodEntry {
  const metadata = sub(pod, 'metadata');
  const annotations = annotationsOf(pod);
  const name = str(metadata, 'name') ?? '(unnamed)';
  const since = str(metadata, 'creationTimestamp');
  const phase = str(sub(pod, 'status'), 'phase');
  const injected = isInjected(pod);
  const request = requestOf(pod);
  const base = { namespace, integration, pod: name };
  const entry = (runs: RunningReference[]): PodEntry => ({
    name,
    ...(since !== undefined ? { since } : {}),
    ...(phase !== undefined ? { phase } : {}),
    injected,
    requested: request.refs,
    runs,
  });
  const asked = request.refs.length > 0 || request.problem !== undefined;
  const resolved = annotation(annotations, ANNOTATION_RESOLVED);
  if (!injected) {
    if (asked) {
      const optOut = annotation(annotations, ANNOTATION_OPT_OUT);
      const why =
        optOut !== undefined && optOut.trim().toLowerCase() === OPT_OUT_VALUE
          ? `it opted out (${ANNOTATION_OPT_OUT}: ${OPT_OUT_VALUE})`
          : request.problem !== undefined
            ? `its request is invalid (${request.problem})`
            : resolved !== undefined
              ? 'it carries a resolved annotation but no camel-oci-fetch init container or camel-oci image volume (copied or forged: not trusted)'
              : 'it has no camel-oci-fetch init container or camel-oci image volume (webhook down or bypassed, namespace not labelled, or admitted with --on-error allow)';
      findings.push({ ...base, code: 'NOT_INJECTED', message: `asked for container dependencies but was not injected: ${why}` });
    }
    return entry([]);
  }
  if (resolved === undefined) {
    findings.push({
      ...base,
      code: 'NOT_INJECTED',
      message: `has the camel-oci-fetch init container or a camel-oci image volume but no ${ANNOTATION_RESOLVED} annotation: what it runs is unknown`,
    });
    return entry([]);
  }
  let runs: RunningReference[];
  try {
    runs = parseResolvedAnnotation(resolved).map((r) => ({
      reference: r.ref,
      pinned: r.pinned,
      digest: pinnedDigest(r.pinned),
      ...(r.index !== undefined ? { index: r.index } : {}),
      ...(r.platform !== undefined ? { platform: r.platform } : {}),
      layers: r.layers,
      ...(r.stale === true ? { stale: true as const } : {}),
      ...(r.mode !== undefined ? { mode: r.mode } : {}),
      ...(r.fallback !== undefined ? { fallback: r.fallback } : {}),
    }));
  } catch (err) {
    findings.push({
      ...base,
      code: 'RESOLVED_INVALID',
      message: `its ${ANNOTATION_RESOLVED} annotation is unreadable: ${asCamelOciError(err).message}`,
    });
    return entry([]);
  }
  const images = imageVolumeReferences(pod);
  for (const r of runs) {
    // The record says the kubelet mounts this manifest: the pod must carry that very volume.
    if (
      r.mode === 'image-volume' &&
      images.get(`${IMAGE_VOLUME_PREFIX}${r.digest.slice('sha256:'.length, 'sha256:'.length + 12)}`) !== r.pinned
    ) {
      findings.push({
        ...base,
        code: 'RESOLVED_INVALID',
        reference: r.reference,
        digests: [r.digest],
        message: `its ${ANNOTATION_RESOLVED} annotation says ${r.reference} is an image volume, but the pod has no camel-oci image volume of ${r.pinned}`,
      });
    }
    if (r.stale === true) {
      findings.push({
        ...base,
        code: 'STALE_RESOLUTION',
        reference: r.reference,
        digests: [r.digest],
        message: `admitted from a stale resolution of ${r.reference} (registry unavailable at admission): runs ${short(r.digest)}, which the tag may no longer name`,
      });
    }
  }
  return entry(runs);
}

/** The pod's camel-oci image volumes: name → the reference they mount. */
function imageVolumeReferences(pod: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const volumes = own(sub(pod, 'spec') ?? {}, 'volumes');
  if (!Array.isArray(volumes)) return out;
  for (const v of volumes) {
    if (!isImageVolume(v)) continue;
    const image = own(v as JsonObject, 'image') as JsonObject;
    const reference = own(image, 'reference');
    if (typeof reference === 'string') out.set(own(v as JsonObject, 'name') as string, reference);
  }
  return out;
}

/** DIGEST_SKEW and PIN_MISMATCH of one integration. */
function crossPodFindings(entry: IntegrationEntry, findings: Finding[]): void {
  const base = { namespace: entry.namespace, integration: entry.name };
  const byKey = new Map<string, { reference: string; digests: Map<string, string[]> }>();
  for (const pod of entry.pods) {
    for (const r of pod.runs) {
      const key = referenceKey(r.reference);
      let slot = byKey.get(key);
      if (slot === undefined) byKey.set(key, (slot = { reference: r.reference, digests: new Map() }));
      const pods = slot.digests.get(r.digest) ?? [];
      pods.push(pod.name);
      slot.digests.set(r.digest, pods);
    }
  }
  for (const { reference, digests } of byKey.values()) {
    if (digests.size < 2) continue;
    const parts = [...digests.entries()].map(([d, pods]) => `${short(d)} (${pods.length} pod${pods.length === 1 ? '' : 's'})`);
    findings.push({
      ...base,
      code: 'DIGEST_SKEW',
      reference,
      digests: [...digests.keys()],
      message: `replicas run different digests of ${reference}: ${parts.join(', ')}`,
    });
  }
  const pins = new Map(entry.pins.map((p) => [pinKey(p), p]));
  for (const pod of entry.pods) {
    for (const r of pod.runs) {
      const pin = pins.get(referenceKey(r.reference));
      if (pin === undefined || pin.digest === r.digest || pin.digest === r.index) continue;
      findings.push({
        ...base,
        pod: pod.name,
        code: 'PIN_MISMATCH',
        reference: r.reference,
        digests: [pin.digest, r.digest],
        message: `runs ${short(r.digest)} of ${r.reference}, but the ${entry.object} pins ${short(pin.digest)} (a pod from before the pins changed, or one admitted without them)`,
      });
    }
  }
}

function unpinnedFinding(entry: IntegrationEntry, problems: { request?: string; pins?: string }, findings: Finding[]): void {
  if (entry.object === 'none' || (entry.requested.length === 0 && problems.request === undefined)) return;
  const pinned = new Set(entry.pins.map(pinKey));
  const missing = entry.requested.filter((r) => !pinned.has(referenceKey(r)));
  if (missing.length === 0 && problems.pins === undefined && problems.request === undefined) return;
  const what =
    problems.request !== undefined
      ? `its ${ANNOTATION_DEPENDENCIES} annotation is invalid, so nothing could be pinned (${problems.request})`
      : problems.pins !== undefined
        ? `its ${ANNOTATION_PINNED} annotation is unreadable (${problems.pins})`
        : `no pin for ${missing.join(', ')}`;
  findings.push({
    namespace: entry.namespace,
    integration: entry.name,
    code: 'UNPINNED',
    ...(missing.length === 1 ? { reference: missing[0] } : {}),
    message: `the ${entry.object} asks for container dependencies but ${what}: its pods may each resolve tags for themselves (was the webhook down when it was written? a new camel.apache.org/oci-refresh value pins it again)`,
  });
}

/** A finding with its fields in the documented order (code first), whatever order it was built in. */
function ordered(f: Finding): Finding {
  return {
    code: f.code,
    namespace: f.namespace,
    integration: f.integration,
    ...(f.pod !== undefined ? { pod: f.pod } : {}),
    ...(f.reference !== undefined ? { reference: f.reference } : {}),
    ...(f.digests !== undefined ? { digests: f.digests } : {}),
    message: f.message,
  };
}

/** Orders findings by namespace, integration, code, pod and reference, so output is stable. */
function compareFindings(a: Finding, b: Finding): number {
  const fields = (f: Finding): string[] => [
    f.namespace,
    f.integration,
    String(FINDING_CODES.indexOf(f.code)).padStart(2, '0'),
    f.pod ?? '',
    f.reference ?? '',
  ];
  const x = fields(a);
  const y = fields(b);
  for (let i = 0; i < x.length; i++) {
    if (x[i]! < y[i]!) return -1;
    if (x[i]! > y[i]!) return 1;
  }
  return 0;
}

function metaName(o: unknown): { namespace: string; name: string } | undefined {
  const m = sub(o, 'metadata');
  const name = str(m, 'name');
  if (name === undefined) return undefined;
  return { namespace: str(m, 'namespace') ?? '', name };
}

/**
 * Builds the report: pods grouped by their `camel.apache.org/integration` label, Integrations and
 * Pipes by name (a Pipe's Integration has the Pipe's name), and the findings NOT_INJECTED,
 * RESOLVED_INVALID, STALE_RESOLUTION, DIGEST_SKEW, PIN_MISMATCH and UNPINNED. Integrations that ask
 * for nothing, carry no pins and run nothing injected are left out. Objects that are not objects,
 * or lack a name, are skipped.
 */
export function buildReport(objects: AuditObjects, scope: AuditScope): AuditReport {
  const groups = new Map<string, Group>();
  const group = (namespace: string, name: string): Group => {
    const k = groupKey(namespace, name);
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = { namespace, name, pods: [] }));
    return g;
  };
  for (const o of objects.integrations) {
    const id = metaName(o);
    if (id !== undefined) group(id.namespace, id.name).integration = o;
  }
  for (const o of objects.pipes) {
    const id = metaName(o);
    if (id !== undefined) group(id.namespace, id.name).pipe = o;
  }
  for (const pod of objects.pods) {
    const id = metaName(pod);
    const label = str(sub(sub(pod, 'metadata'), 'labels'), LABEL_INTEGRATION);
    if (id !== undefined && label !== undefined && label !== '') group(id.namespace, label).pods.push(pod);
  }

  const findings: Finding[] = [];
  const entries: IntegrationEntry[] = [];
  const sorted = [...groups.values()].sort((a, b) =>
    a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1,
  );
  for (const g of sorted) {
    // The Pipe is what the user wrote and what the webhook pins; its Integration carries copies.
    const object = g.pipe ?? g.integration;
    const kind: ObjectKind = g.pipe !== undefined ? 'Pipe' : g.integration !== undefined ? 'Integration' : 'none';
    const podFindings: Finding[] = [];
    const pods = g.pods
      .map((p) => podEntry(p, g.namespace, g.name, podFindings))
      .sort((a, b) => ((a.since ?? '') === (b.since ?? '') ? (a.name < b.name ? -1 : 1) : (a.since ?? '') < (b.since ?? '') ? -1 : 1));
    let requested: string[];
    let pins: Pin[];
    const problems: { request?: string; pins?: string } = {};
    if (object !== undefined) {
      const spec = sub(object, 'spec');
      const leftover = [
        ...containerDependencies(spec === undefined ? undefined : own(spec, 'dependencies')),
        ...containerDependencies(own(sub(spec, 'integration') ?? {}, 'dependencies')),
      ];
      const request = requestOf(object, leftover);
      requested = request.refs;
      if (request.problem !== undefined) problems.request = request.problem;
      const p = pinsOf(object);
      pins = p.pins;
      if (p.problem !== undefined) problems.pins = p.problem;
    } else {
      requested = [];
      const seen = new Set<string>();
      for (const p of pods) {
        for (const r of p.requested) {
          if (!seen.has(referenceKey(r))) {
            seen.add(referenceKey(r));
            requested.push(r);
          }
        }
      }
      // Camel K copies the Integration's annotations onto its pods, pins included.
      pins = g.pods.map((p) => pinsOf(p).pins).find((list) => list.length > 0) ?? [];
    }
    const relevant =
      requested.length > 0 ||
      problems.request !== undefined ||
      pins.length > 0 ||
      pods.some((p) => p.injected || p.requested.length > 0) ||
      podFindings.length > 0;
    if (!relevant) continue;
    const entry: IntegrationEntry = { namespace: g.namespace, name: g.name, object: kind, requested, pins, pods };
    entries.push(entry);
    findings.push(...podFindings);
    crossPodFindings(entry, findings);
    unpinnedFinding(entry, problems, findings);
  }
  return {
    apiVersion: AUDIT_API_VERSION,
    namespace: scope.allNamespaces ? null : scope.namespace,
    allNamespaces: scope.allNamespaces,
    camelApi: objects.camelApi,
    integrations: entries,
    tags: [],
    findings: findings.map(ordered).sort(compareFindings),
  };
}

/**
 * The tagged references a tag check resolves: one per distinct reference (by normalized key) over
 * every integration's request, in first-seen order. References by digest cannot move and are left out.
 */
export function tagsToCheck(report: AuditReport): string[] {
  const out = new Map<string, string>();
  for (const e of report.integrations) {
    for (const r of e.requested) if (isTagReference(r) && !out.has(referenceKey(r))) out.set(referenceKey(r), r);
    for (const p of e.pods) for (const r of p.requested) if (isTagReference(r) && !out.has(referenceKey(r))) out.set(referenceKey(r), r);
  }
  return [...out.values()];
}

/** True when a manifest (and the index it came from) is what the tag names now. */
function sameTarget(digest: string, index: string | undefined, now: { digest: string; index?: string }): boolean {
  return digest === now.digest || (now.index !== undefined && (digest === now.index || index === now.index));
}

/**
 * Adds the tag checks to a report: TAG_MOVED where a pin (or, without pins, a pod's resolution)
 * names another digest than the tag does now; TAG_CHECK_FAILED where the tag could not be resolved.
 */
export function withTagChecks(report: AuditReport, checks: readonly TagCheck[]): AuditReport {
  const byKey = new Map(checks.map((c) => [referenceKey(c.reference), c]));
  const findings = [...report.findings];
  for (const e of report.integrations) {
    const base = { namespace: e.namespace, integration: e.name };
    const refs = new Map<string, string>();
    for (const r of [...e.requested, ...e.pods.flatMap((p) => p.requested)]) if (!refs.has(referenceKey(r))) refs.set(referenceKey(r), r);
    for (const [key, reference] of refs) {
      const check = byKey.get(key);
      if (check === undefined) continue;
      if ('error' in check) {
        findings.push({
          ...base,
          code: 'TAG_CHECK_FAILED',
          reference,
          message: `cannot resolve ${reference} now: ${check.error.code}: ${check.error.message}`,
        });
        continue;
      }
      const now = check.index ?? check.digest;
      const pin = e.pins.find((p) => pinKey(p) === key);
      if (pin !== undefined) {
        if (!sameTarget(pin.digest, undefined, check)) {
          findings.push({
            ...base,
            code: 'TAG_MOVED',
            reference,
            digests: [pin.digest, now],
            message: `${reference} now points at ${short(now)}, pinned ${short(pin.digest)}: the pods keep the pinned bytes until the pins are refreshed (camel.apache.org/oci-refresh)`,
          });
        }
        continue;
      }
      const moved = new Map<string, string[]>();
      for (const p of e.pods) {
        for (const r of p.runs) {
          if (referenceKey(r.reference) !== key || sameTarget(r.digest, r.index, check)) continue;
          moved.set(r.digest, [...(moved.get(r.digest) ?? []), p.name]);
        }
      }
      for (const [digest, pods] of moved) {
        findings.push({
          ...base,
          code: 'TAG_MOVED',
          reference,
          digests: [digest, now],
          message: `${reference} now points at ${short(now)}, ${pods.length} pod${pods.length === 1 ? '' : 's'} run${pods.length === 1 ? 's' : ''} ${short(digest)} resolved earlier (${pods.join(', ')})`,
        });
      }
    }
  }
  return { ...report, tags: [...checks], findings: findings.map(ordered).sort(compareFindings) };
}

/** Exit status when the audit found something (0: clean, 1: the audit failed, 2: bad flags). */
export const EXIT_FINDINGS = 3;

/** The exit status of a finished report: 1 when a tag check failed (the audit is incomplete), 3 with findings, else 0. */
export function exitCode(report: AuditReport): number {
  if (report.findings.some((f) => f.code === 'TAG_CHECK_FAILED')) return 1;
  return report.findings.length > 0 ? EXIT_FINDINGS : 0;
}
