/**
 * Renders a kustomization the way `kubectl kustomize` does, for the subset of kustomize that
 * manifests/ uses, so the manifests are checked on machines without kubectl. Anything outside that
 * subset throws (naming the field) instead of being ignored, so the two renderings cannot drift
 * apart silently; where kubectl exists, the tests also compare the two.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { parseAllDocuments } from 'yaml';

/** A Kubernetes object as parsed from YAML. */
export type KubeObject = Record<string, any>;

/** Names kustomize accepts for a kustomization file, in its order of preference. */
const KUSTOMIZATION_FILE_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;

/** The fields this renderer implements, per kind of kustomization file. */
const SUPPORTED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Kustomization: ['apiVersion', 'kind', 'resources', 'components', 'configurations', 'patches', 'images'],
  Component: ['apiVersion', 'kind', 'resources', 'patches'],
};

/** Where an image transformer looks: a slash-separated path, lists traversed, limited to a kind. */
interface ImageFieldSpec {
  readonly path: readonly string[];
  readonly kind?: string;
}

/** Every `containers[].image` and `initContainers[].image`, at any depth, of any kind (kustomize's default). */
const DEFAULT_IMAGE_CONTAINER_FIELDS = ['containers', 'initContainers'] as const;

interface Accumulated {
  readonly objects: KubeObject[];
  readonly imageFieldSpecs: ImageFieldSpec[];
}

/** Renders the kustomization in `dir` (a Kustomization, not a Component). */
export function renderKustomization(dir: string): KubeObject[] {
  return build(path.resolve(dir)).objects;
}

function build(dir: string): Accumulated {
  const k = loadKustomization(dir, 'Kustomization');
  const acc: Accumulated = { objects: [], imageFieldSpecs: [] };
  for (const entry of stringList(k, 'resources', dir)) {
    const target = path.resolve(dir, entry);
    if (statSync(target).isDirectory()) {
      // A directory resource is built on its own; its transformer configuration carries over.
      const sub = build(target);
      acc.objects.push(...sub.objects);
      acc.imageFieldSpecs.push(...sub.imageFieldSpecs);
    } else {
      acc.objects.push(...loadObjects(target));
    }
  }
  for (const entry of stringList(k, 'components', dir)) applyComponent(path.resolve(dir, entry), acc);
  for (const entry of stringList(k, 'configurations', dir)) acc.imageFieldSpecs.push(...loadImageFieldSpecs(path.resolve(dir, entry)));
  applyPatches(k, dir, acc.objects);
  applyImages(k, dir, acc);
  return acc;
}

/** A Component adds its resources to the including kustomization, then patches all it has so far. */
function applyComponent(dir: string, acc: Accumulated): void {
  const k = loadKustomization(dir, 'Component');
  for (const entry of stringList(k, 'resources', dir)) {
    const target = path.resolve(dir, entry);
    if (statSync(target).isDirectory()) throw new Error(`${dir}: directory resources in a Component are not supported by this renderer`);
    acc.objects.push(...loadObjects(target));
  }
  applyPatches(k, dir, acc.objects);
}

function loadKustomization(dir: string, kind: 'Kustomization' | 'Component'): KubeObject {
  const file = KUSTOMIZATION_FILE_NAMES.map((n) => path.join(dir, n)).find((f) => existsSync(f));
  if (file === undefined) throw new Error(`${dir}: no kustomization file (${KUSTOMIZATION_FILE_NAMES.join(', ')})`);
  const k = loadObjects(file)[0];
  if (k === undefined) throw new Error(`${file}: empty`);
  const actual = (k.kind as string | undefined) ?? 'Kustomization';
  if (actual !== kind) throw new Error(`${file}: kind ${actual}, expected ${kind}`);
  const unsupported = Object.keys(k).filter((f) => !SUPPORTED_FIELDS[kind]!.includes(f));
  if (unsupported.length > 0)
    throw new Error(`${file}: fields ${unsupported.join(', ')} are not implemented by test/manifests/kustomize.ts`);
  return k;
}

function stringList(k: KubeObject, field: string, dir: string): string[] {
  const v: unknown = k[field];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${dir}: ${field} must be a list of strings`);
  return v;
}

/** Parses every YAML document in a file (skipping empty ones), failing on YAML errors. */
export function loadObjects(file: string): KubeObject[] {
  return parseYamlStream(readFileSync(file, 'utf8'), file);
}

/** Parses a YAML stream into its non-empty documents, failing on YAML errors. */
export function parseYamlStream(text: string, origin: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${origin}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    out.push(value as KubeObject);
  }
  return out;
}

function loadImageFieldSpecs(file: string): ImageFieldSpec[] {
  const cfg = loadObjects(file)[0] ?? {};
  const unsupported = Object.keys(cfg).filter((f) => f !== 'images');
  if (unsupported.length > 0) throw new Error(`${file}: transformer configurations ${unsupported.join(', ')} are not implemented`);
  return ((cfg.images ?? []) as KubeObject[]).map((s) => {
    const extra = Object.keys(s).filter((f) => f !== 'path' && f !== 'kind');
    if (extra.length > 0) throw new Error(`${file}: image field spec fields ${extra.join(', ')} are not implemented`);
    return { path: String(s.path).split('/'), ...(s.kind !== undefined ? { kind: String(s.kind) } : {}) };
  });
}

/** `patches:` entries: JSON 6902 patches (a YAML list of operations) with a target. */
function applyPatches(k: KubeObject, dir: string, objects: KubeObject[]): void {
  for (const p of (k.patches ?? []) as KubeObject[]) {
    const extra = Object.keys(p).filter((f) => f !== 'path' && f !== 'patch' && f !== 'target');
    if (extra.length > 0) throw new Error(`${dir}: patch fields ${extra.join(', ')} are not implemented`);
    const text = p.path !== undefined ? readFileSync(path.resolve(dir, String(p.path)), 'utf8') : String(p.patch);
    const [ops] = parseYamlStream(text, `${dir}: patch`) as unknown[];
    if (!Array.isArray(ops)) throw new Error(`${dir}: only JSON 6902 patches (a list of operations) are implemented`);
    const target = (p.target ?? {}) as KubeObject;
    const targetExtra = Object.keys(target).filter((f) => !['group', 'version', 'kind', 'name', 'namespace'].includes(f));
    if (targetExtra.length > 0) throw new Error(`${dir}: patch target fields ${targetExtra.join(', ')} are not implemented`);
    const matches = objects.filter((o) => targetMatches(target, o));
    // Stricter than kustomize on purpose: a patch that reaches nothing (a renamed object) is a bug here.
    if (matches.length === 0) throw new Error(`${dir}: patch target ${JSON.stringify(target)} matches no object`);
    for (const o of matches) {
      const patched = fastJsonPatch.applyPatch(o, ops as Operation[], true, false).newDocument as KubeObject;
      objects[objects.indexOf(o)] = patched;
    }
  }
}

function targetMatches(target: KubeObject, o: KubeObject): boolean {
  const [group, version] = splitApiVersion(String(o.apiVersion));
  return (
    (target.group === undefined || target.group === group) &&
    (target.version === undefined || target.version === version) &&
    (target.kind === undefined || target.kind === o.kind) &&
    (target.name === undefined || target.name === o.metadata?.name) &&
    (target.namespace === undefined || target.namespace === o.metadata?.namespace)
  );
}

/** `group/version` or `version` (the core group). */
export function splitApiVersion(apiVersion: string): [group: string, version: string] {
  const i = apiVersion.indexOf('/');
  return i < 0 ? ['', apiVersion] : [apiVersion.slice(0, i), apiVersion.slice(i + 1)];
}

/** `images:` entries: rewrite every image whose name matches, in containers and in configured fields. */
function applyImages(k: KubeObject, dir: string, acc: Accumulated): void {
  for (const entry of (k.images ?? []) as KubeObject[]) {
    const extra = Object.keys(entry).filter((f) => !['name', 'newName', 'newTag', 'digest'].includes(f));
    if (extra.length > 0) throw new Error(`${dir}: image fields ${extra.join(', ')} are not implemented`);
    const rewrite = (value: unknown): unknown => (typeof value === 'string' ? rewriteImage(value, entry) : value);
    for (const o of acc.objects) {
      walkContainers(o, rewrite);
      for (const spec of acc.imageFieldSpecs) if (spec.kind === undefined || spec.kind === o.kind) rewriteAtPath(o, spec.path, rewrite);
    }
  }
}

function walkContainers(node: unknown, rewrite: (v: unknown) => unknown): void {
  if (Array.isArray(node)) {
    for (const x of node) walkContainers(x, rewrite);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const obj = node as KubeObject;
  for (const [key, value] of Object.entries(obj)) {
    if ((DEFAULT_IMAGE_CONTAINER_FIELDS as readonly string[]).includes(key) && Array.isArray(value)) {
      for (const c of value as KubeObject[]) if (c !== null && typeof c === 'object' && 'image' in c) c.image = rewrite(c.image);
    } else {
      walkContainers(value, rewrite);
    }
  }
}

function rewriteAtPath(node: unknown, segments: readonly string[], rewrite: (v: unknown) => unknown): void {
  if (Array.isArray(node)) {
    for (const x of node) rewriteAtPath(x, segments, rewrite);
    return;
  }
  if (node === null || typeof node !== 'object' || segments.length === 0) return;
  const [head, ...rest] = segments as [string, ...string[]];
  const obj = node as KubeObject;
  if (!(head in obj)) return;
  if (rest.length === 0) obj[head] = rewrite(obj[head]);
  else rewriteAtPath(obj[head], rest, rewrite);
}

/** Splits an image reference into name, tag and digest the way kustomize does (a port is not a tag). */
export function parseImage(image: string): { name: string; tag?: string; digest?: string } {
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { name: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

function rewriteImage(image: string, entry: KubeObject): string {
  const parsed = parseImage(image);
  if (parsed.name !== entry.name) return image;
  const name = (entry.newName as string | undefined) ?? parsed.name;
  if (entry.digest !== undefined) return `${name}@${String(entry.digest)}`;
  if (entry.newTag !== undefined) return `${name}:${String(entry.newTag)}`;
  return `${name}${parsed.tag !== undefined ? `:${parsed.tag}` : ''}${parsed.digest !== undefined ? `@${parsed.digest}` : ''}`;
}

/** Why `kubectl kustomize` cannot run here, or undefined when it can. */
export function kubectlUnavailable(): string | undefined {
  const r = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined) return `kubectl not runnable (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`;
  if (r.status !== 0) return `kubectl version --client exited ${String(r.status)}: ${r.stderr.trim()}`;
  return undefined;
}

/** Renders with `kubectl kustomize DIR`; throws with kubectl's message when it fails. */
export function kubectlKustomize(dir: string): KubeObject[] {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  if (r.error !== undefined) throw r.error;
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} exited ${String(r.status)}: ${r.stderr.trim()}`);
  return parseYamlStream(r.stdout, `kubectl kustomize ${dir}`);
}

/** A stable identity of an object: `group/kind/namespace/name`. */
export function objectKey(o: KubeObject): string {
  const [group] = splitApiVersion(String(o.apiVersion));
  return `${group}/${String(o.kind)}/${String(o.metadata?.namespace ?? '')}/${String(o.metadata?.name)}`;
}

/** The objects sorted by {@link objectKey}, for order-independent comparison. */
export function sortedByKey(objects: readonly KubeObject[]): KubeObject[] {
  return [...objects].sort((a, b) => objectKey(a).localeCompare(objectKey(b)));
}
