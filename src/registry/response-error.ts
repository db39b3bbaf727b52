/** Maps registry HTTP error responses to coded errors: the one place that reads an error body. */
import { OciError } from '../base/errors.js';
import type { ErrorCode } from '../base/errors.js';
import { header } from './transport.js';
import type { TransportResponse } from './transport.js';

/** At most this much of an error body is read: enough for distribution's JSON errors, no more. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** What the request was for, so a bare 404 gets the right code. */
export type RequestKind = 'manifest' | 'blob' | 'token' | 'ping';

const SPEC_CODES: Readonly<Record<string, ErrorCode>> = {
  NAME_UNKNOWN: 'NAME_UNKNOWN',
  NAME_INVALID: 'NAME_INVALID',
  MANIFEST_UNKNOWN: 'MANIFEST_UNKNOWN',
  MANIFEST_INVALID: 'MANIFEST_INVALID',
  BLOB_UNKNOWN: 'BLOB_UNKNOWN',
  UNAUTHORIZED: 'UNAUTHORIZED',
  DENIED: 'DENIED',
  TOOMANYREQUESTS: 'TOOMANYREQUESTS',
  UNSUPPORTED: 'UNSUPPORTED',
};

/** Reads at most `limit` bytes of a body as text and discards the rest. */
export async function readBounded(body: TransportResponse['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      const room = limit - size;
      if (room <= 0) break;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      chunks.push(part);
      size += part.length;
      if (size >= limit) break;
    }
  } catch {
    // A broken error body still leaves us the status code.
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

interface SpecError {
  code?: unknown;
  message?: unknown;
}

function firstSpecError(text: string): { code?: string; message?: string } {
  try {
    const parsed = JSON.parse(text) as { errors?: SpecError[] };
    const first = Array.isArray(parsed.errors) ? parsed.errors[0] : undefined;
    if (!first) return {};
    return {
      ...(typeof first.code === 'string' ? { code: first.code } : {}),
      ...(typeof first.message === 'string' ? { message: first.message.slice(0, 300) } : {}),
    };
  } catch {
    return {};
  }
}

function codeFor(status: number, specCode: string | undefined, kind: RequestKind): ErrorCode {
  if (specCode !== undefined && SPEC_CODES[specCode] !== undefined) return SPEC_CODES[specCode]!;
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  if (status === 404) return kind === 'blob' ? 'BLOB_UNKNOWN' : kind === 'manifest' ? 'MANIFEST_UNKNOWN' : 'NAME_UNKNOWN';
  if (status === 429) return 'TOOMANYREQUESTS';
  if (status >= 500) return 'UNAVAILABLE';
  return 'REGISTRY_ERROR';
}

const ADVICE: Partial<Record<ErrorCode, string>> = {
  NAME_UNKNOWN: 'check the repository name, or that the credentials can see it',
  MANIFEST_UNKNOWN: 'check that the tag or digest exists in the repository',
  BLOB_UNKNOWN: 'the registry no longer has this layer; re-push the artifact',
  UNAUTHORIZED: "give credentials for this registry (--registry-config, or the pod's imagePullSecrets)",
  DENIED: 'the credentials are valid but may not pull this repository',
  TOOMANYREQUESTS: 'the registry is rate limiting; retry later or use credentials with a higher limit',
  UNAVAILABLE: 'the registry is failing; retry later',
};

/** Whether a status is worth retrying (RFC 9110 transient statuses the registry spec names). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504;
}

/**
 * Turns a non-success response into an OciError naming `subject` (the reference or blob), reading
 * at most MAX_ERROR_BODY_BYTES of its body.
 */
export async function responseError(res: TransportResponse, kind: RequestKind, subject: string): Promise<OciError> {
  const text = await readBounded(res.body, MAX_ERROR_BODY_BYTES);
  const spec = firstSpecError(text);
  const code = codeFor(res.status, spec.code, kind);
  const detail = spec.message ? `: ${spec.message}` : '';
  const advice = ADVICE[code] ? ` (${ADVICE[code]})` : '';
  const retryAfter = header(res, 'retry-after');
  return new OciError(code, `${subject}: registry ${res.url.host} answered HTTP ${res.status} ${code}${detail}${advice}`, {
    retryable: isRetryableStatus(res.status),
    context: { host: res.url.host, status: res.status, ...(retryAfter ? { retryAfter } : {}) },
  });
}
