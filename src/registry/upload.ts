/**
 * The push verbs (OCI distribution spec, "Pushing blobs" and "Pushing manifests") over the same
 * composed transport as the pull verbs: auth, policy-checked connections, credentials.
 *
 * Per blob:
 * 1. HEAD /v2/<name>/blobs/<digest>: 200 means the registry has it; nothing is sent.
 * 2. With a repository to mount from: POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>.
 *    201 means mounted; a 202 is an upload session the registry opened instead (carry on at 4).
 * 3. POST /v2/<name>/blobs/uploads/ opens a session (202 + Location).
 * 4. Monolithic: PUT <location>?digest=<digest> with the whole blob. A 413 (some registries and
 *    proxies limit request bodies) falls back to 5 in a new session.
 * 5. Chunked: PATCH <location> with Content-Range per chunk (each answer gives the next
 *    Location), then PUT <location>?digest=<digest> with no body.
 * Then PUT /v2/<name>/manifests/<tag>. A try that fails with a retryable error starts over (HEAD
 * first), a bounded number of times. Every 201 with a Docker-Content-Digest must name the
 * digest we computed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CamelOciError, OciError } from '../base/errors.js';
import { repositoryUrl } from './client.js';
import type { CallContext, RegistryClient, RepositoryLocation } from './client.js';
import { responseError } from './response-error.js';
import { header } from './transport.js';
import type { TransportResponse } from './transport.js';

/** Default chunk of a chunked upload: small enough for request-size limits in front of registries. */
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;
/** Chunks of one blob, at most (a registry asking for tiny chunks cannot make us loop for long). */
export const MAX_CHUNKS = 10_000;

/**
 * Attempts of one blob or manifest push when a try fails with a retryable error (503, a reset
 * connection). The transport retries GET and HEAD only; a blob push is safe to start over because
 * it begins with a HEAD and a fresh upload session, and a manifest PUT by tag is idempotent.
 */
export const UPLOAD_ATTEMPTS = 3;
/** Pause between those attempts. */
const UPLOAD_RETRY_DELAY_MS = 500;

async function retrying<T>(attempt: () => Promise<T>, ctx: Pick<CallContext, 'signal' | 'deadline'>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      const again =
        err instanceof CamelOciError &&
        err.retryable &&
        n < UPLOAD_ATTEMPTS &&
        !ctx.signal.aborted &&
        Date.now() + UPLOAD_RETRY_DELAY_MS < ctx.deadline;
      if (!again) throw err;
      await sleep(UPLOAD_RETRY_DELAY_MS, undefined, { signal: ctx.signal }).catch(() => undefined);
    }
  }
}

/** A blob to push: its bytes in memory and their digest. */
export interface UploadBlob {
  readonly digest: string;
  readonly bytes: Uint8Array;
}

/** How one blob got to the registry. */
export type BlobOutcome = 'exists' | 'mounted' | 'uploaded' | 'uploaded-chunked';

/** Options of the uploader. */
export interface UploadOptions {
  /** Always upload in chunks of this many bytes (tests; registries that refuse large bodies). */
  readonly chunkBytes?: number;
  /** Chunk size used after a monolithic PUT was refused with 413. */
  readonly fallbackChunkBytes?: number;
}

function subjectOf(loc: RepositoryLocation, what: string): string {
  return `${what} of ${loc.registry}/${loc.repository}`;
}

async function discard(res: TransportResponse): Promise<void> {
  await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
}

/** Pushes blobs and manifests to one registry through a RegistryClient. */
export class Uploader {
  constructor(
    private readonly client: RegistryClient,
    private readonly options: UploadOptions = {},
  ) {}

  private pushScope(loc: RepositoryLocation, from?: string): string {
    const own = `repository:${loc.repository}:pull,push`;
    return from === undefined ? own : `${own} repository:${from}:pull`;
  }

  private send(
    loc: RepositoryLocation,
    ctx: CallContext,
    method: 'HEAD' | 'POST' | 'PUT' | 'PATCH',
    url: URL,
    headers: Record<string, string>,
    body?: Uint8Array,
    from?: string,
  ): Promise<TransportResponse> {
    // An upload Location may name another origin (a storage front end): the credential is for
    // the registry and is not sent there.
    const sameOrigin = url.origin === repositoryUrl(loc).origin;
    return this.client.exchange({
      method,
      url,
      headers,
      ...(body !== undefined ? { body } : {}),
      signal: ctx.signal,
      deadline: ctx.deadline,
      ...(sameOrigin ? { scope: this.pushScope(loc, from) } : {}),
      ...(sameOrigin && ctx.credential ? { credential: ctx.credential } : {}),
    });
  }

  /** True when the registry already has the blob in this repository (HEAD, no body sent). */
  async exists(loc: RepositoryLocation, blob: Pick<UploadBlob, 'digest'> & { size: number }, ctx: CallContext): Promise<boolean> {
    const res = await this.send(loc, ctx, 'HEAD', repositoryUrl(loc, `/blobs/${blob.digest}`), {});
    await discard(res);
    if (res.status === 404) return false;
    if (res.status !== 200) throw await responseError(res, 'blob', subjectOf(loc, `blob ${blob.digest}`));
    const length = Number(header(res, 'content-length'));
    // A blob of another size under our digest is not ours: upload ours rather than trust it.
    return !Number.isFinite(length) || length === blob.size;
  }

  /** Pushes one blob unless the registry has it; mounts it from `from` (same registry) when given. */
  async pushBlob(loc: RepositoryLocation, blob: UploadBlob, ctx: CallContext, from?: string): Promise<BlobOutcome> {
    if (await this.exists(loc, { digest: blob.digest, size: blob.bytes.length }, ctx)) return 'exists';
    let location: URL | undefined;
    if (from !== undefined && from !== loc.repository) {
      const url = repositoryUrl(loc, `/blobs/uploads/`);
      url.searchParams.set('mount', blob.digest);
      url.searchParams.set('from', from);
      const res = await this.send(loc, ctx, 'POST', url, { 'content-length': '0' }, undefined, from);
      if (res.status === 201) {
        await discard(res);
        this.checkDigest(res, loc, blob.digest);
        return 'mounted';
      }
      // 202: the registry could not mount (blob not there, or no access) and opened a session.
      location = await this.sessionLocation(res, loc, blob.digest);
    }
    location ??= await this.openSession(loc, blob.digest, ctx);
    const chunk = this.options.chunkBytes;
    if (chunk !== undefined && blob.bytes.length > chunk) {
      await this.chunked(loc, blob, ctx, location, chunk);
      return 'uploaded-chunked';
    }
    const put = this.withDigest(location, blob.digest);
    const res = await this.send(loc, ctx, 'PUT', put, { 'content-type': 'application/octet-stream' }, blob.bytes);
    if (res.status === 201) {
      await discard(res);
      this.checkDigest(res, loc, blob.digest);
      return 'uploaded';
    }
    if (res.status === 413) {
      await discard(res);
      const again = await this.openSession(loc, blob.digest, ctx);
      await this.chunked(loc, blob, ctx, again, this.options.fallbackChunkBytes ?? DEFAULT_CHUNK_BYTES);
      return 'uploaded-chunked';
    }
    throw await responseError(res, 'blob', subjectOf(loc, `upload of blob ${blob.digest}`));
  }

  /**
   * Pushes every blob (at most `parallel` at once) and then the manifest by tag: the manifest
   * goes last, so a registry never holds a tag whose blobs are missing. Returns each blob's outcome.
   */
  async pushImage(
    loc: RepositoryLocation,
    tag: string,
    blobs: readonly UploadBlob[],
    manifest: { mediaType: string; digest: string; bytes: Uint8Array },
    ctx: CallContext,
    options: { from?: string; parallel?: number } = {},
  ): Promise<Map<string, BlobOutcome>> {
    const outcomes = new Map<string, BlobOutcome>();
    const unique = [...new Map(blobs.map((b) => [b.digest, b])).values()];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < unique.length) {
        const blob = unique[next++]!;
        outcomes.set(blob.digest, await retrying(() => this.pushBlob(loc, blob, ctx, options.from), ctx));
      }
    };
    const workers = Math.max(1, Math.min(options.parallel ?? 3, unique.length));
    await Promise.all(Array.from({ length: workers }, worker));
    await retrying(() => this.putManifest(loc, tag, manifest, ctx), ctx);
    return outcomes;
  }

  /** PUTs a manifest by tag; returns the digest the registry confirmed (ours, or a mismatch error). */
  async putManifest(
    loc: RepositoryLocation,
    tag: string,
    manifest: { mediaType: string; digest: string; bytes: Uint8Array },
    ctx: CallContext,
  ): Promise<string> {
    const url = repositoryUrl(loc, `/manifests/${tag}`);
    const res = await this.send(loc, ctx, 'PUT', url, { 'content-type': manifest.mediaType }, manifest.bytes);
    if (res.status !== 201) throw await responseError(res, 'manifest', subjectOf(loc, `manifest ${tag}`));
    await discard(res);
    this.checkDigest(res, loc, manifest.digest);
    return manifest.digest;
  }

  private async openSession(loc: RepositoryLocation, digest: string, ctx: CallContext): Promise<URL> {
    const res = await this.send(loc, ctx, 'POST', repositoryUrl(loc, `/blobs/uploads/`), { 'content-length': '0' });
    return this.sessionLocation(res, loc, digest);
  }

  private async sessionLocation(res: TransportResponse, loc: RepositoryLocation, digest: string): Promise<URL> {
    if (res.status !== 202) throw await responseError(res, 'blob', subjectOf(loc, `upload of blob ${digest}`));
    await discard(res);
    return this.location(res, loc, digest);
  }

  private location(res: TransportResponse, loc: RepositoryLocation, digest: string): URL {
    const value = header(res, 'location');
    let url: URL | undefined;
    try {
      url = value === undefined ? undefined : new URL(value, res.url);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new OciError('REGISTRY_ERROR', `${subjectOf(loc, `upload of blob ${digest}`)}: the registry gave no usable upload Location`);
    }
    // The blob goes where the registry says: over plain HTTP only to an --insecure-registry host.
    this.client.checkUrl(url);
    return url;
  }

  private withDigest(location: URL, digest: string): URL {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    return url;
  }

  private async chunked(loc: RepositoryLocation, blob: UploadBlob, ctx: CallContext, start: URL, chunkBytes: number): Promise<void> {
    const subject = subjectOf(loc, `chunked upload of blob ${blob.digest}`);
    let location = start;
    let offset = 0;
    for (let n = 0; offset < blob.bytes.length; n++) {
      if (n >= MAX_CHUNKS) throw new OciError('REGISTRY_ERROR', `${subject}: more than ${MAX_CHUNKS} chunks`);
      const end = Math.min(blob.bytes.length, offset + chunkBytes);
      const res = await this.send(
        loc,
        ctx,
        'PATCH',
        location,
        { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${end - 1}` },
        blob.bytes.subarray(offset, end),
      );
      if (res.status !== 202) throw await responseError(res, 'blob', subject);
      await discard(res);
      // Range: 0-<last byte received>. The registry must have taken the whole chunk.
      const range = /^(?:bytes=)?0-(\d+)$/.exec(header(res, 'range') ?? '');
      if (range !== null && Number(range[1]) !== end - 1) {
        throw new OciError('REGISTRY_ERROR', `${subject}: the registry holds bytes 0-${range[1]}, not 0-${end - 1}`);
      }
      location = this.location(res, loc, blob.digest);
      offset = end;
    }
    const res = await this.send(loc, ctx, 'PUT', this.withDigest(location, blob.digest), { 'content-length': '0' });
    if (res.status !== 201) throw await responseError(res, 'blob', subject);
    await discard(res);
    this.checkDigest(res, loc, blob.digest);
  }

  private checkDigest(res: TransportResponse, loc: RepositoryLocation, digest: string): void {
    const claimed = header(res, 'docker-content-digest');
    if (claimed !== undefined && claimed !== digest) {
      throw new OciError(
        'DIGEST_MISMATCH',
        `${loc.registry}/${loc.repository}: the registry stored ${claimed} for what we sent as ${digest}`,
        {
          context: { host: loc.registry, expected: digest, actual: claimed },
        },
      );
    }
  }
}
