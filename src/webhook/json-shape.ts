/**
 * What parsing a request body would cost, checked before `JSON.parse` runs: the body limit bounds
 * bytes, not the objects parsing them makes, and V8 does not give memory back quickly. A body under
 * the limit but nested thousands deep, or made of millions of tiny values, would cost hundreds of
 * MiB. One linear pass over the bytes counts nesting depth and values outside strings. Pure.
 */

/**
 * Deepest nesting accepted. Kubernetes objects nest about 20 deep (managedFields' fieldsV1 a little
 * more); 128 leaves room for CRDs and none for an attack.
 */
export const MAX_JSON_DEPTH = 128;
/**
 * Most values (and keys) accepted. A Camel K pod has about a thousand; an object at etcd's 1.5 MiB
 * limit made of short strings about 150 thousand.
 */
export const MAX_JSON_VALUES = 200_000;
/**
 * What one value costs once parsed, at most, as measured on V8 (an empty object 67 bytes, a key
 * of a large object 83, a number 10): the edge holds this much of its budget per value.
 */
export const PARSED_BYTES_PER_VALUE = 96;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** What one pass over a body found: its value count, and why it is refused, if it is. */
export interface JsonShape {
  readonly values: number;
  readonly problem?: string;
}

/** Counts a body's values and checks its nesting; malformed JSON is left to `JSON.parse`. */
export function scanJson(body: Uint8Array, maxDepth = MAX_JSON_DEPTH, maxValues = MAX_JSON_VALUES): JsonShape {
  let depth = 0;
  // Every value after the first is preceded by a comma or a colon (keys count too: they are strings V8 keeps).
  let values = 1;
  const n = body.length;
  for (let i = 0; i < n; i++) {
    const c = body[i]!;
    if (c === QUOTE) {
      // A string, skipped in a tight loop of its own (most of a body's bytes are in strings).
      for (i++; i < n; i++) {
        const d = body[i]!;
        if (d === QUOTE) break;
        if (d === BACKSLASH) i++;
      }
      continue;
    }
    switch (c) {
      case OPEN_BRACE:
      case OPEN_BRACKET:
        if (++depth > maxDepth) return { values, problem: `JSON nested deeper than ${maxDepth} levels` };
        break;
      case CLOSE_BRACE:
      case CLOSE_BRACKET:
        depth--;
        break;
      case COMMA:
      case COLON:
        if (++values > maxValues) return { values, problem: `JSON with more than ${maxValues} values` };
        break;
      default:
    }
  }
  return { values };
}

/** Why a body's shape is refused, or undefined when parsing it is affordable. */
export function jsonShapeProblem(body: Uint8Array, maxDepth = MAX_JSON_DEPTH, maxValues = MAX_JSON_VALUES): string | undefined {
  return scanJson(body, maxDepth, maxValues).problem;
}
