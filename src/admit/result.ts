/**
 * What an admission decided, as a value: the workflows in admit/ return one, and the webhook turns it
 * into an AdmissionReview response with `complete()` (webhook/admission.ts). Pure.
 */
import { asCamelOciError } from '../base/errors.js';
import type { JsonPatchOp } from '../inject/patch.js';

/** One RFC 6902 operation as it goes on the wire (built by inject/). */
export type JsonPatchOperation = JsonPatchOp;

/** What a handler decided. Built by the constructors below, turned into wire form by `complete()`. */
export type AdmissionResult =
  | { readonly type: 'allowed'; readonly skipped: boolean; readonly reason?: string; readonly warnings: readonly string[] }
  | { readonly type: 'patched'; readonly ops: readonly JsonPatchOperation[]; readonly warnings: readonly string[] }
  | { readonly type: 'denied'; readonly code: number; readonly message: string; readonly warnings: readonly string[] }
  | { readonly type: 'errored'; readonly code: number; readonly message: string; readonly warnings: readonly string[] };

/** The label an answer is counted and logged under. */
export type AdmissionOutcome = 'allowed' | 'patched' | 'denied' | 'errored' | 'skipped';

const NO_WARNINGS: readonly string[] = Object.freeze([]);

/** Allows the object unchanged. */
export function allowed(warnings: readonly string[] = NO_WARNINGS): AdmissionResult {
  return { type: 'allowed', skipped: false, warnings };
}

/** Allows the object unchanged because it is none of this webhook's business (`reason` is for logs). */
export function skipped(reason: string): AdmissionResult {
  return { type: 'allowed', skipped: true, reason, warnings: NO_WARNINGS };
}

/** Refuses the object with a message for the person who created it (HTTP-like `code`, 403 by default). */
export function denied(message: string, code = 403, warnings: readonly string[] = NO_WARNINGS): AdmissionResult {
  return { type: 'denied', code, message, warnings };
}

/** Allows the object with a JSON Patch (no ops means allowed unchanged). */
export function patched(ops: readonly JsonPatchOperation[], warnings: readonly string[] = NO_WARNINGS): AdmissionResult {
  return { type: 'patched', ops, warnings };
}

/** Refuses the object because the webhook failed (an exception, not a decision); `code` is HTTP-like (500). */
export function errored(code: number, err: unknown): AdmissionResult {
  const e = asCamelOciError(err);
  return { type: 'errored', code, message: `camel-oci: internal error (${e.code}): ${e.message}`, warnings: NO_WARNINGS };
}

/** The metrics/log label of a result. */
export function outcomeOf(result: AdmissionResult): AdmissionOutcome {
  if (result.type === 'allowed') return result.skipped ? 'skipped' : 'allowed';
  if (result.type === 'patched') return result.ops.length > 0 ? 'patched' : 'allowed';
  return result.type;
}
