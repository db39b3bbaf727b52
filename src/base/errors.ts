/**
 * Error model shared by every layer: a stable code callers switch on, a message a person can act
 * on, redacted context, and whether a retry may help. Each layer has its own subclass so a stack
 * trace says where the failure was decided.
 */

/** Stable error codes. Callers and tests switch on these, never on message text. */
export const ERROR_CODES = [
  // references and input
  'REFERENCE_INVALID',
  'CONFIG_INVALID',
  /** A file given to `camel-oci push` that cannot be packed (not a jar, a bad Kamelet, a link out of its folder). */
  'INPUT_INVALID',
  'PLAN_INVALID',
  'ANNOTATION_INVALID',
  // registry answers (names follow the OCI distribution spec error codes where one exists)
  'NAME_UNKNOWN',
  'NAME_INVALID',
  'MANIFEST_UNKNOWN',
  'MANIFEST_INVALID',
  'BLOB_UNKNOWN',
  'UNAUTHORIZED',
  'DENIED',
  'TOOMANYREQUESTS',
  'UNSUPPORTED',
  'REGISTRY_ERROR',
  // what we check ourselves
  'DIGEST_MISMATCH',
  'SIZE_EXCEEDED',
  'PLATFORM_NOT_FOUND',
  'NO_USABLE_LAYERS',
  'POLICY_DENIED',
  'UNSAFE_ARCHIVE',
  'NAME_COLLISION',
  // transport
  'TIMEOUT',
  'UNAVAILABLE',
  'TLS_ERROR',
  // local
  'IO_ERROR',
  'INTERNAL',
] as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

const CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** True when `code` is one of the stable error codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && CODES.has(code);
}

/** Options every camel-oci error accepts. */
export interface ErrorOptions {
  /** True when trying the same operation again may succeed (429, 503, reset connection...). */
  readonly retryable?: boolean;
  /** Redacted, log-safe key/value context (never credentials or tokens). */
  readonly context?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly cause?: unknown;
}

/** Base class of every error camel-oci raises on purpose. */
export class CamelOciError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly context: Readonly<Record<string, string | number | boolean | undefined>>;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.context = Object.freeze({ ...(options.context ?? {}) });
  }

  /** A compact JSON-safe view for structured logs and `--json` output. */
  toJSON(): { code: ErrorCode; message: string; retryable: boolean; context: Record<string, unknown> } {
    return { code: this.code, message: this.message, retryable: this.retryable, context: { ...this.context } };
  }
}

/** Errors decided in `src/oci/` (references, registry protocol, manifests, layers). */
export class OciError extends CamelOciError {}
/** Errors decided in `src/resolve/` (policy, caches, resolution). */
export class ResolveError extends CamelOciError {}
/** Errors decided in `src/inject/` (pods that cannot be injected). */
export class InjectError extends CamelOciError {}
/** Errors decided in `src/fetch/` (plan, download, verification, unpack). */
export class FetchError extends CamelOciError {}
/** Errors decided in `src/webhook/`, `src/certs/` and `src/kube/`. */
export class ServeError extends CamelOciError {}

/** True when `err` is a camel-oci error, optionally with the given code. */
export function isCamelOciError(err: unknown, code?: ErrorCode): err is CamelOciError {
  return err instanceof CamelOciError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a CamelOciError, keeping camel-oci errors as they are. */
export function asCamelOciError(err: unknown): CamelOciError {
  if (err instanceof CamelOciError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CamelOciError('INTERNAL', `unexpected error: ${message}`, { cause: err });
}

/**
 * The exit status of a command that failed with `err` (docs/architecture.md, "Exit codes and error
 * codes"): 2 for a flag or CAMEL_OCI_* value that cannot be used (bad usage), 1 for any other failure.
 */
export function exitStatusOf(err: CamelOciError): 1 | 2 {
  return err.code === 'CONFIG_INVALID' ? 2 : 1;
}
