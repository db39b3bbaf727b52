/** Transport layer: retries transient failures, honouring Retry-After, never past the deadline. */
import { setTimeout as sleep } from 'node:timers/promises';
import { CamelOciError } from '../base/errors.js';
import { abortError, header } from './transport.js';
import type { Transport, TransportRequest } from './transport.js';
import { isRetryableStatus } from './response-error.js';

/** Retry settings. */
export interface RetryOptions {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  /** First backoff; doubles each time, with jitter. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Injectable clock for tests. */
  readonly now?: () => number;
}

/** Defaults: four attempts over about two seconds of backoff unless Retry-After says otherwise. */
export const DEFAULT_RETRY: RetryOptions = { attempts: 4, baseDelayMs: 200, maxDelayMs: 2_000 };

/** Parses Retry-After (delta-seconds or an HTTP date) into milliseconds from now. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function backoff(attempt: number, options: RetryOptions): number {
  const exp = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt);
  return exp / 2 + Math.random() * (exp / 2);
}

async function wait(ms: number, req: TransportRequest): Promise<void> {
  try {
    await sleep(ms, undefined, { signal: req.signal });
  } catch {
    throw abortError(req);
  }
}

/**
 * Retries GET/HEAD on 429, 502, 503, 504 and on retryable network errors (connection resets,
 * refused or timed-out connects). When the wait would pass the deadline it stops and hands back the
 * last answer, so the caller reports the registry's own error rather than a generic timeout.
 */
export function withRetry(next: Transport, options: RetryOptions = DEFAULT_RETRY): Transport {
  const now = options.now ?? Date.now;
  return async (req) => {
    const idempotent = req.method === 'GET' || req.method === 'HEAD';
    for (let attempt = 0; ; attempt++) {
      const last = !idempotent || attempt + 1 >= options.attempts;
      let delay: number;
      try {
        const res = await next(req);
        if (last || !isRetryableStatus(res.status)) return res;
        delay = parseRetryAfter(header(res, 'retry-after'), now()) ?? backoff(attempt, options);
        if (now() + delay >= req.deadline) return res;
        await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      } catch (err) {
        if (last || !(err instanceof CamelOciError) || !err.retryable || req.signal.aborted) throw err;
        delay = backoff(attempt, options);
        if (now() + delay >= req.deadline) throw err;
      }
      await wait(delay, req);
    }
  };
}
