/**
 * The plan runner behind `camel-oci fetch`: for each artifact, re-read the manifest by its pinned
 * digest and check the plan against it; meanwhile stream every layer once (download → size and
 * sha256 → gunzip/untar into staging), resume broken downloads with Range requests, and move each
 * layer to its final path only after it verified AND every artifact's manifest check passed.
 *
 * Why the re-read stays, and why it runs beside the downloads: each blob is verified against the
 * plan's own digest and size, so the manifest adds one promise: the layers are exactly those of
 * the pinned artifact digest the auditors see in the annotations, each unpacked and named as the
 * layout rules make it of that manifest. A plan edited on the pod cannot smuggle in another blob,
 * a layer the rules ignore, or a file name of its own (plan/layers.ts `planAgainstManifest`).
 * That check needs no byte of a layer, so it no longer delays the first one (one round-trip of a
 * small fetch); nothing is published before it passed, and its failure stops the downloads at once.
 *
 * The requests go out first: the volume is prepared (image mounts, stale staging, a new staging
 * area) while the registry answers, and a layer's request is sent before its staging directory is
 * made. A layer of at most BUFFERED_LAYER_BYTES is downloaded whole into memory, verified, and
 * only then unpacked (fetch/unpack.ts, `unpackVerified`); larger layers stream. A small fetch is
 * mostly the fetcher's own start-up and per-layer set-up, so both shorten it (bench/RESULTS.md).
 */
import { PassThrough } from 'node:stream';
import { CamelOciError, FetchError } from '../base/errors.js';
import { removeTree } from '../base/remove-tree.js';
import type { BlobResponse, RegistryClient, RepositoryLocation } from '../registry/client.js';
import type { Credential } from '../oci/docker-config.js';
import { parseManifest } from '../oci/manifest.js';
import { planAgainstManifest } from '../plan/layers.js';
import type { FetchPlan, PlanArtifact, PlanLayer } from '../plan/plan.js';
import { createBudget } from './limits.js';
import type { UnpackLimits } from './limits.js';
import { commitLayer, createStaging, removeStaleStaging } from './staging.js';
import type { Staging } from './staging.js';
import { unpackLayer, unpackVerified, type UnpackResult } from './unpack.js';
import { BlobVerifier } from './verify.js';
import { BufferReclaimer } from './memory.js';
import { BlobSources, readPinnedManifest, withCredential } from './sources.js';
import type { FetchSource } from './sources.js';
import type { SourceFailure } from '../registry/mirrors.js';
import { createImageMounts } from './mounts.js';

/** Resumed Range requests per layer download attempt before it counts as failed. */
export const MAX_RESUMES = 5;
/** Whole-layer attempts (each from byte 0, into a fresh staging directory). */
export const MAX_LAYER_ATTEMPTS = 3;
/**
 * Buffer between the download and the unpacker: enough to keep both busy, small enough to stay
 * flat (256 KiB cost ~25 MiB more peak RSS over four layers at once, for no speed).
 */
const PIPE_HIGH_WATER_MARK = 64 * 1024;
/**
 * Layers up to this size are downloaded into memory and unpacked once verified, not streamed: a
 * stream pipeline per layer costs a small layer more than its bytes do, and memory stays bounded
 * (four at once, each with at most MAX_INFLATE_IN_MEMORY_BYTES inflated).
 */
export const BUFFERED_LAYER_BYTES = 1024 * 1024;

/** One line of the per-layer log. */
export interface LayerReport {
  readonly event: 'layer';
  readonly reference: string;
  readonly digest: string;
  readonly kind: string;
  readonly target: string;
  readonly bytes: number;
  readonly files: number;
  readonly seconds: number;
  readonly mibPerSecond: number;
  readonly resumes: number;
  readonly attempts: number;
  readonly outcome: 'committed' | 'kept' | 'replaced';
}

/** The run's summary. */
export interface FetchSummary {
  readonly event: 'summary';
  readonly artifacts: number;
  readonly layers: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly mibPerSecond: number;
}

/** What the runner needs. */
export interface RunnerOptions {
  readonly root: string;
  readonly client: RegistryClient;
  readonly credentialFor: (registry: string, repository: string) => Credential | undefined;
  readonly limits: UnpackLimits;
  /** Layers downloaded at once. */
  readonly parallel: number;
  readonly signal: AbortSignal;
  /** Absolute deadline, ms since epoch. */
  readonly deadline: number;
  readonly onLayer?: (report: LayerReport) => void;
  readonly now?: () => number;
  /** Frees dead download buffers as bytes stream (shared by all layers of the run). */
  readonly reclaimer?: BufferReclaimer;
  /** The sources of an artifact, mirrors first (fetch/sources.ts); default: its registry alone. */
  readonly sources?: (artifact: PlanArtifact) => readonly FetchSource[];
  /** Called when a source failed and another is tried (a mirror down, or serving wrong bytes). */
  readonly onSourceFailure?: (failure: SourceFailure, subject: string) => void;
}

interface Job {
  readonly artifact: PlanArtifact;
  readonly layer: PlanLayer;
  readonly loc: RepositoryLocation;
  readonly sources: readonly FetchSource[];
  /** Settles when every artifact's manifest check passed (rejects when one failed). */
  readonly checked: Promise<void>;
}

function subjectOf(artifact: PlanArtifact): string {
  return `container:${artifact.reference} (${artifact.registry}/${artifact.repository}@${artifact.digest})`;
}

/** Prefixes an error's message with the layer and reference it concerns, keeping its code. */
function aboutLayer(err: unknown, job: Job): CamelOciError {
  const e = err instanceof CamelOciError ? err : new FetchError('IO_ERROR', String((err as Error)?.message ?? err), { cause: err });
  const prefix = `layer ${job.layer.digest} of ${subjectOf(job.artifact)}`;
  if (e.message.startsWith(prefix)) return e;
  // The unpacker names the layer already (`layer <digest>: …`): said once, with its reference.
  const own = `layer ${job.layer.digest}: `;
  const message = e.message.startsWith(own) ? e.message.slice(own.length) : e.message;
  return new FetchError(e.code, `${prefix}: ${message}`, { retryable: e.retryable, context: e.context, cause: e });
}

/**
 * Runs the plan; resolves with the summary or rejects with the first failure. No part of a layer
 * lands before the whole layer verified; layers that verified before the failure stay committed,
 * and a rerun on the same root keeps them.
 */
export async function runPlan(plan: FetchPlan, options: RunnerOptions): Promise<FetchSummary> {
  const now = options.now ?? Date.now;
  const started = now();
  const budget = createBudget(options.limits);
  // A failed manifest check or volume preparation aborts the layers in flight with its own error as the reason.
  const run = new AbortController();
  const runOptions: RunnerOptions = { ...options, signal: AbortSignal.any([options.signal, run.signal]) };
  // Made while the first requests are out; a layer waits for it before it makes its directory.
  const staging = prepareVolume(options.root, plan, options.signal);
  staging.catch((err: unknown) => run.abort(err));
  let manifestFailure: unknown;
  try {
    const artifacts = plan.artifacts.map((artifact) => {
      const loc: RepositoryLocation = { registry: artifact.registry, repository: artifact.repository, scheme: artifact.scheme };
      const sources = options.sources?.(artifact) ?? [
        withCredential({ ...loc, mirror: false }, artifact.repository, options.credentialFor),
      ];
      return { artifact, loc, sources };
    });
    const checks = artifacts.map(({ artifact, sources }) =>
      checkManifest(artifact, sources, runOptions).catch((err: unknown) => {
        manifestFailure ??= err;
        run.abort(err);
        throw err;
      }),
    );
    // Every layer waits for every artifact's check before it is published, as when the checks came first.
    const checked = Promise.all(checks).then(() => undefined);
    checked.catch(() => undefined); // awaited below and by the commits; never unhandled
    const jobs: Job[] = artifacts.flatMap(({ artifact, loc, sources }) =>
      artifact.layers.map((layer) => ({ artifact, layer, loc, sources, checked })),
    );
    let bytes = 0;
    let next = 0;
    const failures: unknown[] = [];
    const worker = async (): Promise<void> => {
      while (next < jobs.length && failures.length === 0 && !run.signal.aborted) {
        const job = jobs[next++]!;
        try {
          const report = await fetchLayer(job, staging, budget, runOptions, now);
          bytes += report.bytes;
          options.onLayer?.(report);
        } catch (err) {
          failures.push(aboutLayer(err, job));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.parallel, jobs.length)) }, worker));
    await checked.catch(() => undefined);
    await staging; // its failure is the run's: the layers only saw the abort it caused
    if (manifestFailure !== undefined) throw manifestFailure;
    if (failures.length > 0) throw failures[0];
    const seconds = (now() - started) / 1000;
    return {
      event: 'summary',
      artifacts: plan.artifacts.length,
      layers: jobs.length,
      bytes,
      seconds,
      mibPerSecond: seconds > 0 ? bytes / 1048576 / seconds : 0,
    };
  } finally {
    await staging.then(
      (s) => s.cleanup(),
      () => undefined,
    );
  }
}

/** Creates the image mounts' directories, removes a crashed run's staging areas, and makes this run's. */
async function prepareVolume(root: string, plan: FetchPlan, signal: AbortSignal): Promise<Staging> {
  await createImageMounts(root, plan.imageMounts, signal);
  await removeStaleStaging(root).catch(() => 0);
  return createStaging(root);
}

/** Re-reads the manifest by its pinned digest from its sources (the client checks its sha256) and checks every planned layer is in it. */
async function checkManifest(artifact: PlanArtifact, sources: readonly FetchSource[], options: RunnerOptions): Promise<void> {
  const subject = subjectOf(artifact);
  const onFailure = options.onSourceFailure;
  const fetched = await readPinnedManifest(
    options.client,
    sources,
    artifact.digest,
    {
      signal: options.signal,
      deadline: options.deadline,
      ...(onFailure ? { onFailure: (f: SourceFailure) => onFailure(f, subject) } : {}),
    },
    subject,
  );
  const parsed = parseManifest(fetched.bytes, fetched.contentType);
  if (parsed.kind !== 'manifest') {
    throw new FetchError('PLAN_INVALID', `${subject}: the pinned digest names an index, not an image manifest`);
  }
  const problem = planAgainstManifest(artifact.layers, parsed.manifest);
  if (problem !== undefined) throw new FetchError('PLAN_INVALID', `${subject}: ${problem}`);
}

function isResumable(err: unknown): boolean {
  if (err instanceof CamelOciError) return err.retryable && err.code !== 'SIZE_EXCEEDED';
  // Plain errors from a response body are connection-level: reset, premature close, socket errors.
  return err instanceof Error;
}

async function fetchLayer(
  job: Job,
  staging: Promise<Staging>,
  budget: ReturnType<typeof createBudget>,
  options: RunnerOptions,
  now: () => number,
): Promise<LayerReport> {
  const { layer, artifact } = job;
  const onFailure = options.onSourceFailure;
  // Mirrors first: a source that fails hands the layer to the next without using up an attempt.
  const blobs = new BlobSources(job.sources, `blob ${layer.digest}`, onFailure ? (f) => onFailure(f, subjectOf(artifact)) : undefined);
  const request = (offset: number): { source: FetchSource; response: Promise<BlobResponse> } => {
    const source = blobs.current;
    const ctx = { signal: options.signal, deadline: options.deadline, ...(source.credential ? { credential: source.credential } : {}) };
    return { source, response: options.client.blob(source.location, layer.digest, ctx, offset) };
  };
  // A layer above the per-layer limit streams, so that the unpacker refuses it before it downloads.
  const buffered = layer.size <= BUFFERED_LAYER_BYTES && layer.size <= options.limits.maxLayerBytes;
  const started = now();
  let resumes = 0;
  for (let attempt = 1; ; attempt++) {
    const verifier = new BlobVerifier({ digest: layer.digest, size: layer.size });
    // Sent before the staging directory is made; read (or dropped, on failure) below.
    let first: ReturnType<typeof request> | undefined = request(0);
    first.response.catch(() => undefined);
    let dir: string;
    try {
      dir = await (await staging).layerDir();
    } catch (err) {
      // A local failure, not the source's: no other source is tried for it.
      dropUnread(first.response);
      throw err;
    }
    // A streamed layer is unpacked as it downloads; a buffered one from `whole` once verified.
    let stream: { readonly pipe: PassThrough; readonly unpacked: Promise<UnpackResult> } | undefined;
    const whole = buffered ? Buffer.allocUnsafe(layer.size) : undefined;
    // MAX_RESUMES bounds each attempt; `resumes` counts them all for the report.
    let attemptResumes = 0;
    try {
      if (!buffered) {
        const pipe = new PassThrough({ highWaterMark: PIPE_HIGH_WATER_MARK });
        stream = { pipe, unpacked: unpackLayer(pipe, layer, dir, options.limits, budget, options.reclaimer) };
        // Keep a failure of the unpacker from being unhandled while the download is still running.
        stream.unpacked.catch(() => undefined);
      }
      for (;;) {
        if (options.signal.aborted) throw abortReason(options.signal);
        const { source, response } = first ?? request(verifier.bytes);
        first = undefined;
        const res = await response;
        if (res.offset !== verifier.bytes) {
          // The registry ignored the Range request: start the layer over rather than trust a skip.
          res.body.destroy();
          throw new FetchError('UNAVAILABLE', `the registry cannot resume ${layer.digest} at byte ${verifier.bytes}`, { retryable: true });
        }
        if (res.length !== undefined && res.offset + res.length < layer.size) {
          // A complete answer shorter than the blob: this source's copy is not the blob (truncated),
          // and resuming past its end would only be refused (416).
          res.body.destroy();
          throw new FetchError(
            'DIGEST_MISMATCH',
            `${source.registry} sends blob ${layer.digest} as ${res.offset + res.length} bytes where the manifest says ${layer.size}: its copy is not this blob`,
            { context: { host: source.registry, digest: layer.digest, bytes: res.offset + res.length } },
          );
        }
        try {
          const body = reclaiming(res.body as AsyncIterable<Uint8Array>, options.reclaimer, (err) =>
            brokenBody(err, job, source.registry, verifier.bytes, options.signal),
          );
          await (stream ? verifier.pump(body, stream.pipe) : verifier.collect(body, whole!));
        } catch (err) {
          if (stream?.pipe.destroyed)
            throw await stream.unpacked.then(
              () => err,
              (unpackErr: unknown) => unpackErr,
            );
          if (!isResumable(err) || attemptResumes >= MAX_RESUMES || options.signal.aborted) throw err;
          attemptResumes++;
          resumes++;
          continue;
        }
        if (verifier.bytes < layer.size) {
          // The body ended cleanly but short (no Content-Length to catch it): resume from here, and
          // past the resumes, start the layer over (a short body is the registry's fault, not the content's).
          if (attemptResumes >= MAX_RESUMES) throw shortBody(job, source.registry, verifier.bytes);
          attemptResumes++;
          resumes++;
          continue;
        }
        break;
      }
      verifier.finish();
      let result: UnpackResult;
      if (stream) {
        stream.pipe.end();
        result = await stream.unpacked;
      } else {
        // `finish()` passed: every byte of `whole` is the blob's.
        result = await unpackVerified(whole!, layer, dir, options.limits, budget, options.reclaimer);
      }
      await job.checked;
      const outcome = await commitLayer(dir, options.root, layer.target);
      const seconds = (now() - started) / 1000;
      return {
        event: 'layer',
        reference: artifact.reference,
        digest: layer.digest,
        kind: layer.kind,
        target: layer.target,
        bytes: layer.size,
        files: result.files,
        seconds,
        mibPerSecond: seconds > 0 ? layer.size / 1048576 / seconds : 0,
        resumes,
        attempts: attempt,
        outcome,
      };
    } catch (err) {
      if (first) dropUnread(first.response);
      if (stream) {
        stream.pipe.destroy();
        await stream.unpacked.catch(() => undefined);
      }
      await removeTree(dir);
      if (options.signal.aborted) throw abortReason(options.signal);
      const step = blobs.failed(
        err,
        (e) => e instanceof CamelOciError && e.retryable && e.code !== 'DIGEST_MISMATCH' && attempt < MAX_LAYER_ATTEMPTS,
      );
      if ('error' in step) throw step.error;
      if (step.next === 'source') attempt--;
    }
  }
}

/** Gives the connection of a response that will not be read back (its body is destroyed when it comes). */
function dropUnread(response: Promise<BlobResponse>): void {
  response.then(
    (res) => res.body.destroy(),
    () => undefined,
  );
}

/**
 * Passes chunks through, telling the reclaimer how many bytes went by; an error of the source (the
 * response body: a reset, a connection closed before Content-Length) comes out as `mapError` makes it.
 */
async function* reclaiming(
  source: AsyncIterable<Uint8Array>,
  reclaimer: BufferReclaimer | undefined,
  mapError: (err: unknown) => unknown,
): AsyncIterable<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await it.next();
      } catch (err) {
        ended = true;
        throw mapError(err);
      }
      if (next.done) {
        ended = true;
        return;
      }
      yield next.value;
      reclaimer?.add(next.value.length);
    }
  } finally {
    // The consumer stopped early (a size overrun, the unpacker gone): close the body, and with it
    // the connection, now rather than at its idle timeout.
    if (!ended) await it.return?.().catch(() => undefined);
  }
}

/**
 * A response body that broke (reset, closed before its Content-Length, a socket error): a retryable
 * UNAVAILABLE naming the registry, so it is resumed and then retried as a whole layer.
 */
function brokenBody(err: unknown, job: Job, host: string, bytes: number, signal: AbortSignal): unknown {
  if (err instanceof CamelOciError) return err;
  if (signal.aborted) return abortReason(signal);
  const e = err as { code?: string; message?: string };
  return new FetchError(
    'UNAVAILABLE',
    `${host} broke the connection while sending blob ${job.layer.digest} after ${bytes} of ${job.layer.size} bytes (${e.code ?? e.message ?? String(err)})`,
    {
      retryable: true,
      context: { host, digest: job.layer.digest, bytes },
      cause: err,
    },
  );
}

/** A body that ended cleanly before the blob's size, after every resume: retryable UNAVAILABLE naming the registry. */
function shortBody(job: Job, host: string, bytes: number): FetchError {
  return new FetchError(
    'UNAVAILABLE',
    `${host} ended blob ${job.layer.digest} after ${bytes} of its ${job.layer.size} bytes (short read)`,
    {
      retryable: true,
      context: { host, digest: job.layer.digest, bytes },
    },
  );
}

function abortReason(signal: AbortSignal): CamelOciError {
  return signal.reason instanceof CamelOciError
    ? signal.reason
    : new FetchError('TIMEOUT', 'the fetch did not finish before its deadline (--timeout)');
}
