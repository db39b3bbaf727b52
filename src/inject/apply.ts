/**
 * A small, strict RFC 6902 applier for the operations the builder emits (add, replace, remove,
 * test), used by the offline `camel-oci inject`. The webhook never applies patches: the apiserver
 * does. Pure: the input document is not modified.
 */
import { InjectError } from '../base/errors.js';
import type { JsonPatchOp } from './patch.js';

/** Bound on operations per patch: the builder emits about ten; thousands mean a bug or an attack. */
export const MAX_PATCH_OPS = 10_000;

type Container = Record<string, unknown> | unknown[];

class PatchFailure extends Error {}

const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;

/** Decodes a JSON Pointer (RFC 6901) into reference tokens; '' is the whole document. */
function parsePointer(path: unknown): string[] {
  if (typeof path !== 'string') throw new PatchFailure('"path" must be a string');
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchFailure(`path ${JSON.stringify(path)} must be empty or start with "/"`);
  return path
    .slice(1)
    .split('/')
    .map((token) => {
      // RFC 6901 §4: "~" must be followed by "0" or "1"; decode "~1" before "~0".
      if (/~(?![01])/.test(token)) throw new PatchFailure(`invalid escape in path ${JSON.stringify(path)}`);
      return token.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Follows own members only, so a path can never reach Object.prototype (`/__proto__/…`). */
function child(parent: unknown, token: string): unknown {
  if (Array.isArray(parent)) {
    if (!ARRAY_INDEX.test(token)) throw new PatchFailure(`${JSON.stringify(token)} is not an array index`);
    const i = Number(token);
    if (i >= parent.length) throw new PatchFailure(`index ${i} is out of bounds`);
    return parent[i];
  }
  if (isObject(parent)) {
    if (!Object.hasOwn(parent, token)) throw new PatchFailure(`member ${JSON.stringify(token)} does not exist`);
    return parent[token];
  }
  throw new PatchFailure(`cannot descend into a ${parent === null ? 'null' : typeof parent} with ${JSON.stringify(token)}`);
}

function resolveParent(doc: unknown, tokens: readonly string[]): { parent: Container; key: string } {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) cur = child(cur, t);
  if (!Array.isArray(cur) && !isObject(cur)) throw new PatchFailure('the parent of the target is not an object or array');
  return { parent: cur, key: tokens[tokens.length - 1] as string };
}

/** Sets an own, enumerable member even for the key "__proto__" (assignment would set the prototype). */
function setMember(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function arrayIndex(a: readonly unknown[], key: string, allowEnd: boolean): number {
  if (allowEnd && key === '-') return a.length;
  if (!ARRAY_INDEX.test(key)) throw new PatchFailure(`${JSON.stringify(key)} is not an array index`);
  const i = Number(key);
  if (i > a.length || (!allowEnd && i === a.length)) throw new PatchFailure(`index ${i} is out of bounds`);
  return i;
}

/** Structural JSON equality (RFC 6902 §4.6): arrays by position, objects by member set. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

function requireValue(op: Record<string, unknown>): unknown {
  if (!Object.hasOwn(op, 'value') || op.value === undefined) throw new PatchFailure(`"${String(op.op)}" needs a "value"`);
  return structuredClone(op.value);
}

function applyOne(doc: unknown, op: unknown): unknown {
  if (!isObject(op)) throw new PatchFailure('an operation must be an object');
  const tokens = parsePointer(op.path);
  switch (op.op) {
    case 'add': {
      const value = requireValue(op);
      if (tokens.length === 0) return value;
      const { parent, key } = resolveParent(doc, tokens);
      if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value);
      else setMember(parent, key, value);
      return doc;
    }
    case 'replace': {
      const value = requireValue(op);
      if (tokens.length === 0) return value;
      const { parent, key } = resolveParent(doc, tokens);
      if (Array.isArray(parent)) parent[arrayIndex(parent, key, false)] = value;
      else {
        if (!Object.hasOwn(parent, key)) throw new PatchFailure(`member ${JSON.stringify(key)} does not exist`);
        setMember(parent, key, value);
      }
      return doc;
    }
    case 'remove': {
      if (tokens.length === 0) throw new PatchFailure('cannot remove the whole document');
      const { parent, key } = resolveParent(doc, tokens);
      if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, false), 1);
      else {
        if (!Object.hasOwn(parent, key)) throw new PatchFailure(`member ${JSON.stringify(key)} does not exist`);
        delete parent[key];
      }
      return doc;
    }
    case 'test': {
      if (!Object.hasOwn(op, 'value')) throw new PatchFailure('"test" needs a "value"');
      let target = doc;
      for (const t of tokens) target = child(target, t);
      if (!jsonEqual(target, op.value)) throw new PatchFailure('test failed: values differ');
      return doc;
    }
    default:
      throw new PatchFailure(`unsupported operation ${JSON.stringify(op.op)} (only add, replace, remove and test are applied)`);
  }
}

/**
 * Applies a JSON Patch and returns the new document; `doc` is left untouched. All or nothing:
 * throws InjectError INTERNAL naming the failing operation (the builder's patches never fail on
 * the document they were built for).
 */
export function applyPatch<T = unknown>(doc: T, ops: readonly JsonPatchOp[]): T {
  if (!Array.isArray(ops)) throw new InjectError('INTERNAL', 'cannot apply JSON Patch: not an array of operations');
  if (ops.length > MAX_PATCH_OPS) throw new InjectError('INTERNAL', `cannot apply JSON Patch: more than ${MAX_PATCH_OPS} operations`);
  let out: unknown = structuredClone(doc);
  ops.forEach((op, i) => {
    try {
      out = applyOne(out, op);
    } catch (err) {
      if (!(err instanceof PatchFailure)) throw err;
      const what = isObject(op) ? `${String(op.op)} ${JSON.stringify(op.path)}` : '';
      throw new InjectError('INTERNAL', `cannot apply JSON Patch operation ${i} (${what}): ${err.message}`, { context: { operation: i } });
    }
  });
  return out as T;
}
