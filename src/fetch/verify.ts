/**
 * Streaming verification of content-addressed blobs: count and sha256 every byte as it passes,
 * fail the moment more bytes arrive than declared, and compare the digest at the end.
 *
 * The state lives in a `BlobVerifier` object, not in a stream, so that one download can be spread
 * over several source streams: after a connection reset the caller asks for `Range: bytes=N-`
 * with `N = verifier.bytes` and feeds the new body to the same verifier; the hash simply continues.
 * (A sha256 state cannot be rebuilt from a byte count, so the object itself is what resumes.)
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Writable } from 'node:stream';
import { FetchError } from '../base/errors.js';
import { isSha256Digest } from '../oci/digest.js';

/** The digest and size a blob must have (its OCI descriptor). */
export interface ExpectedBlob {
  /** `sha256:<64 hex>`; the only algorithm plans carry. */
  readonly digest: string;
  /** Exact size in bytes. */
  readonly size: number;
}

/** Counts and hashes the bytes of one blob, possibly across several source streams. */
export class BlobVerifier {
  readonly expected: ExpectedBlob;
  readonly #hash: Hash;
  #bytes = 0;
  #result: { digest: string; error?: FetchError } | undefined;

  /** Starts verifying a blob; refuses a digest that is not sha256 or a size that is not a byte count. */
  constructor(expected: ExpectedBlob) {
    if (!isSha256Digest(expected.digest)) {
      throw new FetchError(
        'UNSUPPORTED',
        `cannot verify digest ${JSON.stringify(expected.digest)}: only sha256:<64 lowercase hex> is supported`,
      );
    }
    if (!Number.isSafeInteger(expected.size) || expected.size < 0) {
      throw new FetchError('PLAN_INVALID', `blob ${expected.digest} has an invalid size ${String(expected.size)}`);
    }
    this.expected = { digest: expected.digest, size: expected.size };
    this.#hash = createHash('sha256');
  }

  /** Bytes accepted so far: the offset a resumed download starts from (`Range: bytes=<bytes>-`). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Bytes still expected. */
  get remaining(): number {
    return this.expected.size - this.#bytes;
  }

  /** True once `finish()` was called. */
  get finished(): boolean {
    return this.#result !== undefined;
  }

  /**
   * Accepts the next bytes of the blob. Throws SIZE_EXCEEDED, without hashing the chunk, when it
   * would take the blob past its declared size (trailing data is as wrong as a bad digest).
   */
  update(chunk: Uint8Array): void {
    if (this.#result !== undefined) {
      throw new FetchError('INTERNAL', `blob ${this.expected.digest}: bytes arrived after verification finished`);
    }
    if (this.#bytes + chunk.length > this.expected.size) {
      throw new FetchError(
        'SIZE_EXCEEDED',
        `blob ${this.expected.digest} is larger than its declared ${this.expected.size} bytes (got at least ${this.#bytes + chunk.length}); the registry or a proxy served different content`,
        { context: { digest: this.expected.digest, expectedSize: this.expected.size, bytes: this.#bytes + chunk.length } },
      );
    }
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
  }

  /**
   * Ends verification: returns the digest when size and sha256 match, else throws DIGEST_MISMATCH
   * (a short read is retryable, a wrong digest is not). Calling it again repeats the outcome.
   */
  finish(): string {
    if (this.#result === undefined) {
      const { digest, size } = this.expected;
      if (this.#bytes < size) {
        this.#result = {
          digest: '',
          error: new FetchError('DIGEST_MISMATCH', `blob ${digest} ended after ${this.#bytes} of its ${size} bytes (short read)`, {
            retryable: true,
            context: { digest, expectedSize: size, bytes: this.#bytes },
          }),
        };
      } else {
        const got = `sha256:${this.#hash.digest('hex')}`;
        this.#result =
          got === digest
            ? { digest: got }
            : {
                digest: got,
                error: new FetchError(
                  'DIGEST_MISMATCH',
                  `blob content does not match its digest: expected ${digest}, got ${got} (${size} bytes)`,
                  {
                    context: { digest, got, expectedSize: size, bytes: this.#bytes },
                  },
                ),
              };
      }
    }
    if (this.#result.error !== undefined) throw this.#result.error;
    return this.#result.digest;
  }

  /**
   * A Transform that passes bytes on after `update()`. With `finish: true` (the default) it calls
   * `finish()` when its input ends, so a mismatch fails the stream before it ends; use
   * `finish: false` for one segment of a download that may be resumed.
   */
  transform(options: { readonly finish?: boolean } = {}): Transform {
    const finishAtEnd = options.finish ?? true;
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        try {
          this.update(chunk);
        } catch (err) {
          callback(err as Error);
          return;
        }
        callback(null, chunk);
      },
      flush: (callback) => {
        try {
          if (finishAtEnd) this.finish();
        } catch (err) {
          callback(err as Error);
          return;
        }
        callback();
      },
    });
  }

  /**
   * Copies one source's bytes through the verifier into `out` and leaves `out` open, so the next
   * source (a resumed Range request) can continue where this one stopped. Resolves with the bytes
   * taken from this source. Rejects with the source's own error (the caller decides whether to
   * resume from `bytes`), with SIZE_EXCEEDED, or with `out`'s error when the consumer failed or
   * went away; it never waits on a destroyed `out`. The caller ends `out` after `finish()`
   * succeeds, and destroys it when giving up.
   */
  async pump(source: AsyncIterable<Uint8Array>, out: Writable): Promise<number> {
    let taken = 0;
    for await (const chunk of source) {
      if (out.destroyed || out.writableEnded) throw consumerGone(out, this.expected.digest);
      this.update(chunk);
      taken += chunk.length;
      if (!out.write(chunk)) await drained(out, this.expected.digest);
    }
    return taken;
  }

  /**
   * Like `pump`, but copies the bytes into `into` at their offset in the blob instead of writing
   * them on: for a small blob that is used whole once `finish()` passed. `into` is the blob's size,
   * allocated once, so memory is that size however the bytes arrive (one chunk kept per byte
   * dripped in would cost hundreds of bytes each); `update()` refuses a chunk beyond the size
   * before it is copied.
   */
  async collect(source: AsyncIterable<Uint8Array>, into: Buffer): Promise<number> {
    let taken = 0;
    for await (const chunk of source) {
      const at = this.#bytes;
      this.update(chunk);
      into.set(chunk, at);
      taken += chunk.length;
    }
    return taken;
  }
}

function consumerGone(out: Writable, digest: string): Error {
  return out.errored ?? new FetchError('IO_ERROR', `blob ${digest}: the consumer stopped reading before the blob ended`);
}

/** Waits for 'drain', or rejects when `out` errors or closes first. */
function drained(out: Writable, digest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', onError);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(consumerGone(out, digest));
    const onError = (err: Error): void => done(err);
    out.on('drain', onDrain);
    out.on('close', onClose);
    out.on('error', onError);
    if (out.destroyed) done(consumerGone(out, digest));
  });
}

/** A verifying Transform that also exposes the verifier holding its state. */
export type VerifyingTransform = Transform & { readonly verifier: BlobVerifier };

/**
 * Creates a Transform that counts and sha256-hashes the bytes it passes on, fails with
 * SIZE_EXCEEDED on overrun and with DIGEST_MISMATCH at the end on a short read or wrong digest.
 * Pass `resume` (the verifier of an earlier, interrupted segment of the same blob) to continue its
 * count and hash instead of starting over.
 */
export function createVerifier(expected: ExpectedBlob, resume?: BlobVerifier): VerifyingTransform {
  let verifier: BlobVerifier;
  if (resume !== undefined) {
    if (resume.expected.digest !== expected.digest || resume.expected.size !== expected.size) {
      throw new FetchError('INTERNAL', `cannot resume verification of ${expected.digest} with the state of ${resume.expected.digest}`);
    }
    verifier = resume;
  } else {
    verifier = new BlobVerifier(expected);
  }
  return Object.assign(verifier.transform(), { verifier });
}
