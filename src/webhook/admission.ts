/**
 * AdmissionReview v1 in and out: parsing the apiserver's request, and the one `complete()` that
 * turns an admission result (admit/result.ts) into the wire response. Pure.
 *
 * Wire rules (k8s.io/api/admission/v1 types.go; apiserver `VerifyAdmissionResponse`):
 * the response has the request's apiVersion and kind, `response.uid` equal to `request.uid`,
 * `patchType` present if and only if `patch` is (and then exactly "JSONPatch"), `patch` is the
 * standard base64 of the JSON Patch bytes, and `status` is only read when `allowed` is false.
 */
import { truncate } from '../admit/messages.js';
import { isRecord } from '../base/json.js';
import type { AdmissionResult, JsonPatchOperation } from '../admit/result.js';

/** The only AdmissionReview version this webhook speaks (its `admissionReviewVersions: ["v1"]`). */
export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
/** Kind of the review object, request and response alike. */
export const ADMISSION_KIND = 'AdmissionReview';

/** Bound on a request uid: the apiserver sends a UUID (36 chars); anything much longer is not from it. */
export const MAX_UID_CHARS = 128;
/** Bound on warnings per response (a person reads them in kubectl output; a dozen is already a lot). */
export const MAX_WARNINGS = 12;
/**
 * Bound on one warning. Kubernetes recommends 120 characters, and camel-oci's own warnings keep to
 * that; the apiserver truncates at 256, so longer ones (the patch builder's) are cut here, visibly.
 */
export const MAX_WARNING_CHARS = 256;
/** Bound on all warnings together: past 4096 characters the apiserver drops warnings altogether. */
export const MAX_WARNINGS_TOTAL_CHARS = 3072;
/** Bound on a denial message: it ends up in the Integration's condition and in events, which people read. */
export const MAX_MESSAGE_CHARS = 2048;
/** Bound on one audit annotation value: a pinned `host/repo@sha256:...` is at most about 600 chars. */
export const MAX_AUDIT_VALUE_CHARS = 640;
/** Bound on audit annotations per response (one or two per reference; references are bounded too). */
export const MAX_AUDIT_ANNOTATIONS = 160;

/**
 * Audit annotation keys: the apiserver prefixes them with `<webhook name>/` and requires the result to
 * be a qualified name, so our part must be a qualified name's name part (at most 63 characters).
 */
const AUDIT_KEY = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** Group, version and kind of the object under admission (`request.kind`). */
export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

/** Group, version and resource of the object under admission (`request.resource`). */
export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

/** The fields of an AdmissionRequest this webhook reads; `uid` is checked, the rest is read defensively. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind?: Partial<GroupVersionKind>;
  readonly resource?: Partial<GroupVersionResource>;
  readonly subResource?: string;
  readonly name?: string;
  readonly namespace?: string;
  /** CREATE, UPDATE, DELETE or CONNECT. */
  readonly operation?: string;
  readonly object?: unknown;
  readonly oldObject?: unknown;
  readonly dryRun?: boolean;
  readonly [field: string]: unknown;
}

/** The metav1.Status carried by a denial. */
export interface AdmissionStatus {
  readonly status: 'Failure';
  readonly code: number;
  readonly message: string;
  readonly reason?: string;
}

/** The `response` of an AdmissionReview v1. */
export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: AdmissionStatus;
  /** Standard base64 of the JSON Patch array. */
  readonly patch?: string;
  readonly patchType?: 'JSONPatch';
  readonly warnings?: readonly string[];
  readonly auditAnnotations?: Readonly<Record<string, string>>;
}

/** The whole AdmissionReview v1 answer body. */
export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: typeof ADMISSION_KIND;
  readonly response: AdmissionResponse;
}

/** Why a body is not an AdmissionReview v1 request (the HTTP edge answers 400 with `reason`). */
export type ParseFailureCode = 'NOT_AN_OBJECT' | 'WRONG_API_VERSION' | 'WRONG_KIND' | 'NO_REQUEST' | 'NO_UID';

/** Result of `parseAdmissionReview`. */
export type ParsedAdmissionReview =
  | { readonly ok: true; readonly request: AdmissionRequest }
  | { readonly ok: false; readonly code: ParseFailureCode; readonly reason: string };

/** Extra response fields `complete()` merges in. */
export interface CompleteExtras {
  readonly warnings?: readonly string[];
  readonly auditAnnotations?: Readonly<Record<string, string>>;
}

/** Quotes an untrusted value for a reason text, bounded so an absurd input does not echo back whole. */
function quote(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'nothing' : typeof v;
  return s.length > 64 ? `${s.slice(0, 60)}..."` : s;
}

/** Checks that a parsed body is an AdmissionReview v1 with a request carrying a uid; returns the request. */
export function parseAdmissionReview(body: unknown): ParsedAdmissionReview {
  if (!isRecord(body)) return { ok: false, code: 'NOT_AN_OBJECT', reason: 'body is not a JSON object' };
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    return { ok: false, code: 'WRONG_API_VERSION', reason: `apiVersion must be "${ADMISSION_API_VERSION}", got ${quote(body.apiVersion)}` };
  }
  if (body.kind !== ADMISSION_KIND) {
    return { ok: false, code: 'WRONG_KIND', reason: `kind must be "${ADMISSION_KIND}", got ${quote(body.kind)}` };
  }
  const request = body.request;
  if (!isRecord(request)) return { ok: false, code: 'NO_REQUEST', reason: 'request must be an object' };
  const uid = request.uid;
  if (typeof uid !== 'string' || uid.length === 0 || uid.length > MAX_UID_CHARS) {
    return { ok: false, code: 'NO_UID', reason: `request.uid must be a non-empty string of at most ${MAX_UID_CHARS} characters` };
  }
  return { ok: true, request: request as AdmissionRequest };
}

/** metav1.StatusReason for the codes we answer with (the apiserver passes code and reason to the client). */
function statusReason(code: number): string | undefined {
  switch (code) {
    case 400:
      return 'BadRequest';
    case 403:
      return 'Forbidden';
    case 422:
      return 'Invalid';
    case 429:
      return 'TooManyRequests';
    case 500:
      return 'InternalError';
    case 503:
      return 'ServiceUnavailable';
    case 504:
      return 'Timeout';
    default:
      return undefined;
  }
}

// Control characters would be refused in the Warning header the apiserver builds from our warnings.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** Cleans and bounds warnings: no control characters, no "Warning:" prefix, no duplicates, short, few. */
export function boundWarnings(warnings: readonly string[]): string[] {
  const out: string[] = [];
  let total = 0;
  let dropped = 0;
  for (const raw of warnings) {
    let w = raw.replace(CONTROL, ' ').trim();
    if (/^warning:\s*/i.test(w)) w = w.replace(/^warning:\s*/i, '');
    if (w.length === 0) continue;
    w = truncate(w, MAX_WARNING_CHARS);
    if (out.includes(w)) continue;
    // The last slot is kept for saying how many were left out.
    if (dropped > 0 || out.length >= MAX_WARNINGS - 1 || total + w.length > MAX_WARNINGS_TOTAL_CHARS - 64) {
      dropped++;
      continue;
    }
    total += w.length;
    out.push(w);
  }
  if (dropped > 0) out.push(`camel-oci: ${dropped} more warnings not shown`);
  return out;
}

/** Keeps audit annotations the apiserver will accept: valid keys, bounded values, bounded count. */
function boundAuditAnnotations(annotations: Readonly<Record<string, string>>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  let n = 0;
  for (const key of Object.keys(annotations)) {
    const value = annotations[key];
    if (typeof value !== 'string' || !AUDIT_KEY.test(key)) continue;
    if (n++ >= MAX_AUDIT_ANNOTATIONS) break;
    (out ??= {})[key] = truncate(value.replace(CONTROL, ' '), MAX_AUDIT_VALUE_CHARS);
  }
  return out;
}

/** Encodes a JSON Patch for `response.patch` (standard base64 of the array's JSON bytes). */
export function encodePatch(ops: readonly JsonPatchOperation[]): string {
  return Buffer.from(JSON.stringify(ops), 'utf8').toString('base64');
}

/**
 * Builds the AdmissionReview v1 answer for request `uid`: echoes the uid; adds `patch` and
 * `patchType: "JSONPatch"` together and only when there are operations; adds `status` only on a
 * denial; merges and bounds warnings and audit annotations.
 */
export function complete(uid: string, result: AdmissionResult, extras: CompleteExtras = {}): AdmissionReviewResponse {
  const warnings = boundWarnings(
    extras.warnings === undefined || extras.warnings.length === 0 ? result.warnings : [...result.warnings, ...extras.warnings],
  );
  const audit = extras.auditAnnotations === undefined ? undefined : boundAuditAnnotations(extras.auditAnnotations);
  let response: AdmissionResponse;
  switch (result.type) {
    case 'allowed':
      response = { uid, allowed: true };
      break;
    case 'patched':
      response =
        result.ops.length === 0 ? { uid, allowed: true } : { uid, allowed: true, patchType: 'JSONPatch', patch: encodePatch(result.ops) };
      break;
    case 'denied':
    case 'errored': {
      const reason = statusReason(result.code);
      response = {
        uid,
        allowed: false,
        status: {
          status: 'Failure',
          code: result.code,
          message: truncate(result.message, MAX_MESSAGE_CHARS),
          ...(reason === undefined ? {} : { reason }),
        },
      };
      break;
    }
  }
  if (warnings.length > 0) response = { ...response, warnings };
  if (audit !== undefined) response = { ...response, auditAnnotations: audit };
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}
