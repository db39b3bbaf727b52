/** Narrowing of parsed, untrusted JSON: one test for "a JSON object" shared by every parser. */

/** A JSON object. */
export type JsonObject = Record<string, unknown>;

/** True for a plain JSON object (not null, not an array). */
export function isRecord(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `v` as a JSON object, or undefined when it is not one. */
export function asRecord(v: unknown): JsonObject | undefined {
  return isRecord(v) ? v : undefined;
}
