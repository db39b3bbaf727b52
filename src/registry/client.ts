/**
 * The registry client: image-level verbs (`manifest`, `blob`) over the composed transport.
 * Knows nothing of Kubernetes, policy or caches: those are the resolver's.
 */
import { createHash } from 'node:crypto';
import { isErrorCode, OciError } from '../base/errors.js';
import { Authenticator } from './auth.js';
import type { AuthRequest, RealmCheck } from './auth.js';
import type { Credential } from '../oci/docker-config.js';
import { isSha256Digest } from '../oci/digest.js';
import { MANIFEST_ACCEPT } from '../oci/media-types.js';
import { withRedirects } from './redirect.js';
import type { UrlCheck } from './redirect.js';
import { responseError } from './response-error.js';
import { DEFAULT_RETRY, withRetry } from './retry.js';
import type { RetryOptions } from './retry.js';
import { abortError, header } from './transport.js';
import type { Transport, TransportResponse } from './transport.js';

/** Manifests larger than this are refused (the distribution spec's recommended limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Where a repository lives. */
export interface RepositoryLocation {
  /** Host[:port] to contact. */
  readonly registry: string;
  readonly repository: string;
  readonly scheme: 'https' | 'http';
}

/** Per-call context: deadline and credential. */
export interface CallContext {
  readonly signal: AbortSignal;
  /** Absolute deadline, ms since epoch. */
  readonly deadline: number;
  readonly credential?: Credential;
}

/** A manifest as received, with the digest of its exact bytes. */
export interface FetchedManifest {
  /** sha256 of the bytes received: what we pin. */
  readonly digest: string;
  /** Media type from the response (the manifest's own field is checked by the parser). */
  readonly contentType: string | undefined;
  readonly bytes: Buffer;
}

/** What a manifest HEAD tells: the registry's word for the digest, not a hash of bytes. */
export interface ManifestHead {
  readonly digest: string;
  readonly contentType: string | undefined;
  readonly size: number | undefined;
}

/** A blob response whose body the caller streams, verifies and discards. */
export interface BlobResponse {
  readonly body: TransportResponse['body'];
  /** Offset of the first byte in the body (non-zero when a Range request was honoured). */
  readonly offset: number;
  /** Content-Length of this response, when sent. */
  readonly length: number | undefined;
  /** Whether the server said it accepts byte ranges. */
  readonly acceptsRanges: boolean;
  readonly url: URL;
}

/** Options of the client. */
export interface RegistryClientOptions {
  /**
   * The innermost round-trip, with the policy-checking connection underneath: undici's
   * (`baseTransport(agent)` of undici-transport.ts) or node:http's (node-transport.ts, the fetcher's).
   */
  readonly transport: Transport;
  /** Scheme policy for redirect targets and upload Locations. */
  readonly checkUrl: UrlCheck;
  /** Policy for token realms: a realm on its registry's host stands as that registry (policy.ts). */
  readonly checkRealm: RealmCheck;
  readonly retry?: RetryOptions;
  readonly now?: () => number;
  /** Called once per HTTP answer received from a registry (metrics, benchmarks). */
  readonly onResponse?: (registry: string, status: number) => void;
  /**
   * Called once per request that got no HTTP answer (refused, reset, TLS failure, timeout, address
   * policy), with its stable error code: without it a registry that is down is only silence.
   */
  readonly onNoResponse?: (registry: string, code: string) => void;
}

/**
 * The URL of `rest` under a repository's `/v2/` base. A registry no URL can carry (a port over
 * 65535, a stray character from a plan) is REFERENCE_INVALID naming it, not a TypeError.
 */
export function repositoryUrl(loc: RepositoryLocation, rest = ''): URL {
  try {
    return new URL(`${loc.scheme}://${loc.registry}/v2/${loc.repository}${rest}`);
  } catch {
    throw new OciError(
      'REFERENCE_INVALID',
      `registry ${JSON.stringify(loc.registry)} with repository ${JSON.stringify(loc.repository)} does not make a valid URL: expected host[:port] with a port from 1 to 65535`,
      {
        context: { registry: loc.registry },
      },
    );
  }
}

/** Image-level registry verbs. */
export class RegistryClient {
  private readonly send: (req: AuthRequest) => Promise<TransportResponse>;
  /**
   * The scheme policy for a URL a registry hands back to be used next (an upload session's
   * Location): plain HTTP only for `--insecure-registry` hosts, as for redirects. Throws POLICY_DENIED.
   */
  readonly checkUrl: UrlCheck;

  /** Composes the transport: auth over redirects over retries over one base round-trip. */
  constructor(options: RegistryClientOptions) {
    this.checkUrl = options.checkUrl;
    const observed: Transport = async (req) => {
      let res: TransportResponse;
      try {
        res = await options.transport(req);
      } catch (err) {
        const code = (err as { code?: unknown } | null)?.code;
        options.onNoResponse?.(req.url.host, isErrorCode(code) ? code : 'INTERNAL');
        throw err;
      }
      options.onResponse?.(req.url.host, res.status);
      return res;
    };
    const inner = withRedirects(withRetry(observed, options.retry ?? DEFAULT_RETRY), options.checkUrl);
    const auth = new Authenticator(inner, { checkRealm: options.checkRealm, ...(options.now ? { now: options.now } : {}) });
    this.send = auth.transport(inner);
  }

  private url(loc: RepositoryLocation, kind: 'manifests' | 'blobs', ref: string): URL {
    return repositoryUrl(loc, `/${kind}/${ref}`);
  }

  /**
   * One request through the composed transport (auth, redirects for GET/HEAD, retries for
   * GET/HEAD), with the scope the caller names: the push verbs of upload.ts use it.
   */
  exchange(req: AuthRequest): Promise<TransportResponse> {
    return this.send(req);
  }

  /** One pull-scoped request for a manifest or blob of `loc`, with the call's deadline and credential. */
  private pull(
    method: 'GET' | 'HEAD',
    loc: RepositoryLocation,
    kind: 'manifests' | 'blobs',
    ref: string,
    ctx: CallContext,
    headers: Readonly<Record<string, string>>,
  ): Promise<TransportResponse> {
    return this.send({
      method,
      url: this.url(loc, kind, ref),
      headers,
      signal: ctx.signal,
      deadline: ctx.deadline,
      scope: `repository:${loc.repository}:pull`,
      ...(ctx.credential ? { credential: ctx.credential } : {}),
    });
  }

  /**
   * GETs a manifest by tag or digest in one request and pins the sha256 of the bytes received.
   * A requested digest, or a `Docker-Content-Digest` header, that differs from the bytes is an error.
   */
  async manifest(loc: RepositoryLocation, reference: string, ctx: CallContext, subject: string): Promise<FetchedManifest> {
    const res = await this.pull('GET', loc, 'manifests', reference, ctx, { accept: MANIFEST_ACCEPT });
    if (res.status !== 200) throw await responseError(res, 'manifest', subject);
    const declared = Number(header(res, 'content-length'));
    if (Number.isFinite(declared) && declared > MAX_MANIFEST_BYTES) {
      res.body.destroy();
      throw tooLarge(subject, declared);
    }
    const bytes = await readAll(res, MAX_MANIFEST_BYTES, subject, ctx);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (reference.includes(':') && reference !== digest) {
      throw new OciError(
        'DIGEST_MISMATCH',
        `${subject}: the registry served a manifest whose sha256 is ${digest}, not the requested ${reference}; refusing it`,
        {
          context: { host: loc.registry, expected: reference, actual: digest },
        },
      );
    }
    const claimed = header(res, 'docker-content-digest');
    if (claimed !== undefined && isSha256Digest(claimed) && claimed !== digest) {
      throw new OciError(
        'DIGEST_MISMATCH',
        `${subject}: the registry says the manifest is ${claimed} but its bytes hash to ${digest}; refusing it`,
        {
          context: { host: loc.registry, expected: claimed, actual: digest },
        },
      );
    }
    return { digest, contentType: header(res, 'content-type')?.split(';')[0]?.trim(), bytes };
  }

  /**
   * HEADs a manifest by tag or digest: the registry's `Docker-Content-Digest`, media type and size,
   * without the body. Cheaper than `manifest` when only "did this tag move?" matters (a tag is then
   * still pinned by `manifest`, which hashes the bytes: a header alone is never what we pin).
   */
  async head(loc: RepositoryLocation, reference: string, ctx: CallContext, subject: string): Promise<ManifestHead> {
    const res = await this.pull('HEAD', loc, 'manifests', reference, ctx, { accept: MANIFEST_ACCEPT });
    await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    if (res.status !== 200) throw await responseError(res, 'manifest', subject);
    const digest = header(res, 'docker-content-digest');
    if (digest === undefined || !isSha256Digest(digest)) {
      throw new OciError('REGISTRY_ERROR', `${subject}: the registry answered HEAD without a sha256 Docker-Content-Digest; use a GET`, {
        context: { host: loc.registry },
      });
    }
    if (reference.includes(':') && reference !== digest) {
      throw new OciError('DIGEST_MISMATCH', `${subject}: the registry says ${digest} for the requested ${reference}`, {
        context: { host: loc.registry },
      });
    }
    const size = Number(header(res, 'content-length'));
    return { digest, contentType: header(res, 'content-type')?.split(';')[0]?.trim(), size: Number.isFinite(size) ? size : undefined };
  }

  /** GETs a blob, from `offset` with a Range request when non-zero. The caller verifies the bytes. */
  async blob(loc: RepositoryLocation, digest: string, ctx: CallContext, offset = 0): Promise<BlobResponse> {
    const res = await this.pull('GET', loc, 'blobs', digest, ctx, offset > 0 ? { range: `bytes=${offset}-` } : {});
    const subject = `blob ${digest} of ${loc.registry}/${loc.repository}`;
    if (res.status !== 200 && res.status !== 206) throw await responseError(res, 'blob', subject);
    let start = 0;
    if (res.status === 206) {
      const range = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(header(res, 'content-range') ?? '');
      if (!range || Number(range[1]) !== offset) {
        res.body.destroy();
        throw new OciError('REGISTRY_ERROR', `${subject}: the registry answered a range that does not start at byte ${offset}`);
      }
      start = offset;
    }
    const length = Number(header(res, 'content-length'));
    return {
      body: res.body,
      offset: start,
      length: Number.isFinite(length) ? length : undefined,
      acceptsRanges: (header(res, 'accept-ranges') ?? '').toLowerCase() === 'bytes' || res.status === 206,
      url: res.url,
    };
  }
}

function tooLarge(subject: string, size: number): OciError {
  return new OciError('SIZE_EXCEEDED', `${subject}: manifest is ${size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit; refusing it`, {
    context: { size, limit: MAX_MANIFEST_BYTES },
  });
}

async function readAll(res: TransportResponse, limit: number, subject: string, ctx: CallContext): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        res.body.destroy();
        throw tooLarge(subject, size);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof OciError) throw err;
    if (ctx.signal.aborted) throw abortError({ url: res.url, signal: ctx.signal });
    throw new OciError('UNAVAILABLE', `${subject}: the connection broke while reading the manifest`, { retryable: true, cause: err });
  }
  return Buffer.concat(chunks, size);
}
