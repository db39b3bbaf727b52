/** Waiting on shared work under a caller's own AbortSignal, and the deadline's abort reason. */
import { ServeError } from './errors.js';

/**
 * Settles with `work`, or rejects as soon as `signal` aborts, whichever comes first: a callee that
 * ignores the signal (or a shared flight other callers still wait on) can no longer hold this
 * caller back. The rejection is `reasonOf(signal)` (the signal's reason by default).
 */
export function raceSignal<T>(
  work: Promise<T>,
  signal: AbortSignal,
  reasonOf: (signal: AbortSignal) => unknown = (s) => s.reason,
): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined); // the loser's rejection must not become an unhandled rejection
    return Promise.reject(reasonOf(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(reasonOf(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Formats a duration in ms for messages: `9s`, `1.5s`, and below a second `250ms` (never `0s` for a short one). */
export function formatSeconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
}

/** The abort reason of a deadline signal; `isDeadlineExceeded` recognises it. */
export class DeadlineExceededError extends ServeError {
  constructor(readonly budgetMs: number) {
    super('TIMEOUT', `admission did not finish within ${formatSeconds(budgetMs)}`, { retryable: true });
  }
}

/** True when `err` is (or an abort caused by) a deadline expiring. */
export function isDeadlineExceeded(err: unknown): err is DeadlineExceededError {
  return err instanceof DeadlineExceededError;
}

/**
 * A signal that aborts with a {@link DeadlineExceededError} after `ms`, so messages can say how
 * long was allowed. `dispose` stops the timer; the timer never keeps the process alive.
 */
export function deadlineSignal(ms: number): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DeadlineExceededError(ms)), ms);
  timer.unref();
  return { signal: controller.signal, dispose: () => clearTimeout(timer) };
}
