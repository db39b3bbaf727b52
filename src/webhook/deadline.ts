/**
 * The answer deadline of one admission. The apiserver appends `?timeout=<Go duration>` to the
 * webhook URL (the webhook's `timeoutSeconds`, default 10 s, 1..30 s allowed) and gives up on us
 * after it, applying the failure policy with a message nobody can act on. So we answer before it:
 * resolution gets an AbortSignal that fires at the budget, and a late resolution becomes a clear
 * denial instead of a hang.
 */
import { setMaxListeners } from 'node:events';
import { DeadlineExceededError } from '../base/abort.js';

/** The apiserver's default webhook timeout (admissionregistration v1 `timeoutSeconds`). */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Smallest and largest timeouts the apiserver accepts for a webhook. */
export const MIN_TIMEOUT_MS = 1_000;
export const MAX_TIMEOUT_MS = 30_000;
/** Least time kept back for serializing, sending and the apiserver's own bookkeeping. */
export const MIN_SAFETY_MARGIN_MS = 500;
/** Share of the timeout kept back, for longer timeouts (network jitter grows with load). */
export const SAFETY_MARGIN_RATIO = 0.1;

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 micro sign, as Go's time.ParseDuration accepts
  μs: 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const DURATION_PART = /([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)/y;

/** Parses a Go duration (`10s`, `1m0s`, `1.5s`, `500ms`) to milliseconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  if (text.length === 0 || text.length > 64) return undefined;
  let i = 0;
  let sign = 1;
  if (text[0] === '-' || text[0] === '+') {
    sign = text[0] === '-' ? -1 : 1;
    i = 1;
  }
  if (text.slice(i) === '0') return 0;
  let total = 0;
  let parts = 0;
  while (i < text.length) {
    DURATION_PART.lastIndex = i;
    const m = DURATION_PART.exec(text);
    if (m === null) return undefined;
    const number = m[1] ?? '';
    if (number === '' || number === '.') return undefined;
    total += Number(number) * (UNIT_MS[m[2] ?? ''] ?? NaN);
    i = DURATION_PART.lastIndex;
    parts++;
  }
  if (parts === 0 || !Number.isFinite(total)) return undefined;
  return sign * total;
}

/**
 * The apiserver's timeout from the `timeout` query value, in ms: default 10 s when absent or not a
 * duration, clamped to [1 s, 30 s] (the apiserver never sends anything else; a client that does
 * must not buy unbounded time).
 */
export function parseTimeoutParam(value: unknown): number {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string') return DEFAULT_TIMEOUT_MS;
  const ms = parseGoDuration(text.trim());
  if (ms === undefined || Number.isNaN(ms)) return DEFAULT_TIMEOUT_MS;
  return Math.min(MAX_TIMEOUT_MS, Math.max(MIN_TIMEOUT_MS, ms));
}

/** How long we may work on an answer for a given apiserver timeout: the timeout minus max(500 ms, 10 %). */
export function answerBudgetMs(timeoutMs: number): number {
  return timeoutMs - Math.max(MIN_SAFETY_MARGIN_MS, timeoutMs * SAFETY_MARGIN_RATIO);
}

/** One admission's deadline: a signal that aborts at the budget, and a last moment for the edge. */
export interface Deadline {
  /** The apiserver's timeout (ms). */
  readonly timeoutMs: number;
  /** Time allowed for the answer (ms), counted from `startedAt`. */
  readonly budgetMs: number;
  /** Aborts with a DeadlineExceededError when the budget is spent. */
  readonly signal: AbortSignal;
  /**
   * Resolves halfway between the budget and the apiserver's timeout: the edge's last chance to answer
   * if a handler ignored the signal. Never resolves once disposed.
   */
  lastChance(): Promise<void>;
  /** Calls `callback` at the last chance (as `lastChance()` resolves), unless disposed first; no promise is made. */
  onLastChance(callback: () => void): void;
  /** Stops the timers; call when the answer is sent. */
  dispose(): void;
}

/** Starts the deadline of an admission received at `startedAt` (a `performance.now()` value). */
export function startDeadline(timeoutMs: number, startedAt: number = performance.now()): Deadline {
  const budgetMs = answerBudgetMs(timeoutMs);
  const graceMs = (timeoutMs - budgetMs) / 2;
  const controller = new AbortController();
  let resolveLast: (() => void) | undefined;
  let last: Promise<void> | undefined;
  let onLast: (() => void) | undefined;
  let lastTimer: NodeJS.Timeout | undefined;
  // One timer per request; the second one is armed only when the budget is already spent.
  let budgetTimer: NodeJS.Timeout | undefined = setTimeout(
    () => {
      budgetTimer = undefined;
      controller.abort(new DeadlineExceededError(budgetMs));
      lastTimer = setTimeout(() => {
        lastTimer = undefined;
        resolveLast?.();
        onLast?.();
      }, graceMs);
    },
    Math.max(0, budgetMs - (performance.now() - startedAt)),
  );
  return {
    timeoutMs,
    budgetMs,
    signal: controller.signal,
    lastChance() {
      last ??= new Promise<void>((resolve) => {
        resolveLast = resolve;
      });
      return last;
    },
    onLastChance(callback) {
      onLast = callback;
    },
    dispose() {
      onLast = undefined;
      if (budgetTimer !== undefined) clearTimeout(budgetTimer);
      if (lastTimer !== undefined) clearTimeout(lastTimer);
      budgetTimer = undefined;
      lastTimer = undefined;
    },
  };
}

/** Longest time between the first and the last request that share one deadline (ms). */
export const DEADLINE_QUANTUM_MS = 5;
/** Abort listeners allowed on a shared deadline signal before Node warns (each request adds one or two). */
const SHARED_SIGNAL_MAX_LISTENERS = 10_000;

/** One deadline shared by requests that arrived within {@link DEADLINE_QUANTUM_MS} with the same timeout. */
interface SharedDeadline {
  readonly timeoutMs: number;
  readonly budgetMs: number;
  readonly openedAt: number;
  readonly controller: AbortController;
  /** Requests holding it. */
  users: number;
  readonly onLast: Set<() => void>;
  budgetTimer: NodeJS.Timeout | undefined;
  lastTimer: NodeJS.Timeout | undefined;
}

/**
 * Deadlines for a busy edge: requests that arrive within a few milliseconds of each other with the
 * same timeout share one AbortController and one pair of timers, counted from the first of them
 * (so each request's deadline is at most {@link DEADLINE_QUANTUM_MS} early, never late). Making an
 * AbortSignal and a timer for every request was a measurable part of a warm admission.
 *
 * A warm admission is answered within the macrotask that read it, so the holders of a window rarely
 * overlap: the window stays open for reuse after its last holder left (until the quantum passes),
 * and its timers are stopped when the next window opens. A window that reaches its budget with no
 * holder neither aborts nor arms the last chance: an answered request is never touched by a timer.
 */
export class DeadlineBatcher {
  private open: SharedDeadline | undefined;

  /** The deadline of a request received at `startedAt` with the apiserver's `timeoutMs`; dispose it when answered. */
  start(timeoutMs: number, startedAt: number = performance.now()): Deadline {
    let shared = this.open;
    if (
      shared === undefined ||
      shared.timeoutMs !== timeoutMs ||
      startedAt - shared.openedAt > DEADLINE_QUANTUM_MS ||
      shared.controller.signal.aborted
    ) {
      // The window left behind stops its timers when no one holds it (else its holders keep it).
      if (shared !== undefined && shared.users === 0) stopTimers(shared);
      shared = openWindow(timeoutMs, startedAt, () => {
        if (this.open === shared) this.open = undefined;
      });
      this.open = shared;
    }
    const own = shared;
    own.users++;
    let callback: (() => void) | undefined;
    let last: Promise<void> | undefined;
    let resolveLast: (() => void) | undefined;
    let disposed = false;
    return {
      timeoutMs,
      budgetMs: own.budgetMs,
      signal: own.controller.signal,
      lastChance: () =>
        (last ??= new Promise<void>((resolve) => {
          if (disposed) return;
          resolveLast = resolve;
          own.onLast.add(resolve);
        })),
      onLastChance(cb) {
        if (callback !== undefined) own.onLast.delete(callback);
        callback = cb;
        own.onLast.add(cb);
      },
      dispose: () => {
        if (disposed) return;
        disposed = true;
        if (callback !== undefined) own.onLast.delete(callback);
        if (resolveLast !== undefined) own.onLast.delete(resolveLast);
        // The last request out of a window that is no longer open stops its timers; the open one
        // keeps them for the next request of its quantum (stopped when the next window opens).
        if (--own.users === 0 && this.open !== own) stopTimers(own);
      },
    };
  }
}

/** Opens a shared deadline window; `closed` is called when its budget passes with no holder. */
function openWindow(timeoutMs: number, startedAt: number, closed: () => void): SharedDeadline {
  const budgetMs = answerBudgetMs(timeoutMs);
  // Halfway between our budget and the apiserver's timeout: time to serialize and send.
  const graceMs = (timeoutMs - budgetMs) / 2;
  const controller = new AbortController();
  setMaxListeners(SHARED_SIGNAL_MAX_LISTENERS, controller.signal);
  const w: SharedDeadline = {
    timeoutMs,
    budgetMs,
    openedAt: startedAt,
    controller,
    users: 0,
    onLast: new Set(),
    budgetTimer: undefined,
    lastTimer: undefined,
  };
  w.budgetTimer = setTimeout(
    () => {
      w.budgetTimer = undefined;
      if (w.users === 0) {
        // Answered already, all of them: nothing to abort, and the window is no use any more.
        closed();
        return;
      }
      controller.abort(new DeadlineExceededError(budgetMs));
      w.lastTimer = setTimeout(() => {
        w.lastTimer = undefined;
        for (const callback of [...w.onLast]) callback();
      }, graceMs);
      w.lastTimer.unref();
    },
    Math.max(0, budgetMs - (performance.now() - startedAt)),
  );
  // An idle window's timer must not hold a stopping process; a held one has its request's socket.
  w.budgetTimer.unref();
  return w;
}

/** Stops a window's timers. */
function stopTimers(w: SharedDeadline): void {
  if (w.budgetTimer !== undefined) clearTimeout(w.budgetTimer);
  if (w.lastTimer !== undefined) clearTimeout(w.lastTimer);
  w.budgetTimer = undefined;
  w.lastTimer = undefined;
}
