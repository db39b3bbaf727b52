import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { DeadlineExceededError, formatSeconds, isDeadlineExceeded, raceSignal } from '../../src/base/abort.js';
import {
  DEADLINE_QUANTUM_MS,
  DEFAULT_TIMEOUT_MS,
  DeadlineBatcher,
  answerBudgetMs,
  parseGoDuration,
  parseTimeoutParam,
  startDeadline,
} from '../../src/webhook/deadline.js';

describe('parseGoDuration', () => {
  const goDurations: Array<[string, number]> = [
    ['10s', 10_000],
    ['1m0s', 60_000], // what Go's Duration.String() prints
    ['1m', 60_000],
    ['500ms', 500],
    ['1.5s', 1_500],
    ['.5s', 500],
    ['1h2m3s', 3_723_000],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['2000000ns', 2],
    ['0', 0],
    ['-1s', -1_000],
  ];
  for (const [text, ms] of goDurations) it(`reads ${text}`, () => assert.equal(parseGoDuration(text), ms));
  const notDurations = ['', '10', 's', '.s', '10x', '10 s', '1s2', 'ten seconds', '1'.repeat(100) + 's'];
  for (const text of notDurations) it(`refuses ${JSON.stringify(text)}`, () => assert.equal(parseGoDuration(text), undefined));
});

describe('parseTimeoutParam', () => {
  const timeouts: Array<[unknown, number]> = [
    [undefined, DEFAULT_TIMEOUT_MS],
    ['10s', 10_000],
    ['2s', 2_000],
    ['30s', 30_000],
    ['1m0s', 30_000], // clamped: the apiserver allows at most 30 s
    ['100ms', 1_000], // clamped: at least 1 s
    ['-5s', 1_000],
    ['garbage', DEFAULT_TIMEOUT_MS],
    [['3s', '20s'], 3_000], // repeated parameter: the first one
    [{ nested: '1s' }, DEFAULT_TIMEOUT_MS],
  ];
  for (const [value, ms] of timeouts) it(`${JSON.stringify(value)} -> ${ms} ms`, () => assert.equal(parseTimeoutParam(value), ms));
});

describe('answerBudgetMs', () => {
  const budgets: Array<[number, number]> = [
    [10_000, 9_000], // 10 % margin
    [30_000, 27_000],
    [2_000, 1_500], // the 500 ms floor wins
    [1_000, 500],
  ];
  for (const [timeout, budget] of budgets) {
    it(`keeps a margin: ${timeout} ms -> ${budget} ms`, () => assert.equal(answerBudgetMs(timeout), budget));
  }
  it('formats seconds for messages', () => {
    assert.equal(formatSeconds(9_000), '9s');
    assert.equal(formatSeconds(1_500), '1.5s');
    assert.equal(formatSeconds(500), '500ms');
    assert.equal(formatSeconds(1), '1ms', 'a short deadline is never written as 0s');
  });
});

describe('startDeadline', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('aborts its signal with a DeadlineExceededError exactly at the budget', () => {
    const d = startDeadline(2_000);
    mock.timers.tick(1_499);
    assert.equal(d.signal.aborted, false);
    mock.timers.tick(1);
    assert.equal(d.signal.aborted, true);
    assert.ok(isDeadlineExceeded(d.signal.reason));
    assert.equal((d.signal.reason as DeadlineExceededError).code, 'TIMEOUT');
    assert.equal((d.signal.reason as DeadlineExceededError).budgetMs, 1_500);
    d.dispose();
  });

  it('gives the edge a last chance halfway between the budget and the apiserver timeout', async () => {
    const d = startDeadline(2_000);
    let last = false;
    void d.lastChance().then(() => {
      last = true;
    });
    mock.timers.tick(1_500);
    await Promise.resolve();
    assert.equal(last, false);
    mock.timers.tick(249);
    await Promise.resolve();
    assert.equal(last, false);
    mock.timers.tick(1);
    await new Promise((r) => setImmediate(r));
    assert.equal(last, true);
    d.dispose();
  });

  it('never fires once disposed (an answered request holds no timer)', () => {
    const d = startDeadline(2_000);
    d.dispose();
    mock.timers.tick(60_000);
    assert.equal(d.signal.aborted, false);
  });

  it('counts time already spent before it started', () => {
    const d = startDeadline(2_000, performance.now() - 1_000);
    mock.timers.tick(499);
    assert.equal(d.signal.aborted, false);
    mock.timers.tick(1);
    assert.equal(d.signal.aborted, true);
    d.dispose();
  });
});

/**
 * Now, in whole milliseconds: `t0 + DEADLINE_QUANTUM_MS` must be exactly the quantum after `t0`. With
 * performance.now()'s fractions, `(t0 + 5) - t0` is above 5 for about one t0 in 300 (rounding), which
 * made these tests fail now and then.
 */
function wholeMs(): number {
  return Math.floor(performance.now());
}

describe('DeadlineBatcher', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('requests close together with one timeout share one signal, counted from the first: never late', () => {
    const b = new DeadlineBatcher();
    const t0 = wholeMs();
    const first = b.start(2_000, t0);
    const second = b.start(2_000, t0 + DEADLINE_QUANTUM_MS);
    const otherTimeout = b.start(3_000, t0 + 1);
    const later = b.start(2_000, t0 + DEADLINE_QUANTUM_MS + 1);
    assert.equal(second.signal, first.signal);
    assert.notEqual(otherTimeout.signal, first.signal);
    assert.notEqual(later.signal, first.signal);
    mock.timers.tick(1_500);
    assert.equal(first.signal.aborted, true);
    assert.equal(second.signal.aborted, true);
    assert.ok(isDeadlineExceeded(second.signal.reason));
    assert.equal(otherTimeout.signal.aborted, false);
    for (const d of [first, second, otherTimeout, later]) d.dispose();
  });

  it('calls every holder at the last chance, except those answered; stops once the last holder is done', () => {
    const b = new DeadlineBatcher();
    const t0 = wholeMs();
    const calls: string[] = [];
    const a = b.start(2_000, t0);
    const c = b.start(2_000, t0);
    const d = b.start(2_000, t0);
    a.onLastChance(() => calls.push('a'));
    c.onLastChance(() => calls.push('c'));
    d.onLastChance(() => calls.push('d'));
    c.dispose();
    c.dispose(); // twice is once
    mock.timers.tick(1_500); // the budget: the last chance is armed now
    assert.equal(calls.length, 0);
    mock.timers.tick(250);
    assert.deepEqual(calls, ['a', 'd']);
    a.dispose();
    d.dispose();

    const e = b.start(2_000, performance.now());
    e.onLastChance(() => calls.push('e'));
    e.dispose();
    mock.timers.tick(60_000);
    assert.equal(e.signal.aborted, false, 'an answered request alone holds no timer');
    assert.deepEqual(calls, ['a', 'd']);
  });

  it('requests answered one after the other within the quantum reuse one signal (a warm admission holds it within one macrotask)', () => {
    const b = new DeadlineBatcher();
    const t0 = wholeMs();
    const signals = new Set<AbortSignal>();
    for (let i = 0; i <= DEADLINE_QUANTUM_MS; i++) {
      const d = b.start(2_000, t0 + i);
      signals.add(d.signal);
      d.dispose();
    }
    assert.equal(signals.size, 1);
    const next = b.start(2_000, t0 + DEADLINE_QUANTUM_MS + 1);
    assert.equal(signals.has(next.signal), false, 'past the quantum: a new window');
    next.dispose();
  });

  it('an idle window neither aborts nor calls anyone at its budget; the window left behind stops its timers', () => {
    const b = new DeadlineBatcher();
    const t0 = wholeMs();
    const calls: string[] = [];
    const a = b.start(2_000, t0);
    a.onLastChance(() => calls.push('a'));
    a.dispose();
    const next = b.start(2_000, t0 + DEADLINE_QUANTUM_MS + 1);
    next.onLastChance(() => calls.push('next'));
    mock.timers.tick(1_500 + DEADLINE_QUANTUM_MS + 1); // next's budget, counted from its own start
    assert.equal(a.signal.aborted, false, 'the idle window left behind holds no timer');
    assert.equal(next.signal.aborted, true, 'the held window fires');
    next.dispose();
    mock.timers.tick(60_000);
    assert.deepEqual(calls, [], 'answered requests are never called');
    const alone = b.start(2_000, performance.now());
    alone.dispose();
    mock.timers.tick(60_000);
    assert.equal(alone.signal.aborted, false, 'an idle open window reaching its budget does not abort');
    const after = b.start(2_000, performance.now());
    assert.notEqual(after.signal, alone.signal, 'and is closed');
    after.dispose();
  });

  it('lastChance() resolves for a holder at the last chance, and never once disposed', async () => {
    const b = new DeadlineBatcher();
    const t0 = wholeMs();
    const held = b.start(2_000, t0);
    const gone = b.start(2_000, t0);
    let heldDone = false;
    let goneDone = false;
    void held.lastChance().then(() => (heldDone = true));
    void gone.lastChance().then(() => (goneDone = true));
    gone.dispose();
    mock.timers.tick(1_500); // the budget: the last chance is armed now
    mock.timers.tick(250);
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(heldDone, true);
    assert.equal(goneDone, false);
    held.dispose();
  });

  it('an idle window kept for reuse does not hold a process that is stopping', () => {
    mock.timers.reset(); // a real process, real timers
    const module = new URL('../../src/webhook/deadline.js', import.meta.url).href;
    const script = `const { DeadlineBatcher } = await import(${JSON.stringify(module)}); const b = new DeadlineBatcher(); b.start(30_000).dispose();`;
    const started = performance.now();
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
    assert.equal(child.status, 0, String(child.stderr));
    assert.ok(performance.now() - started < 10_000, 'exits without waiting for the window budget');
  });

  it('a request after the shared signal fired gets a deadline of its own', () => {
    const b = new DeadlineBatcher();
    const first = b.start(2_000, performance.now() - 1_500);
    mock.timers.tick(0);
    assert.equal(first.signal.aborted, true);
    const next = b.start(2_000, performance.now() - 1_500 + 1);
    assert.notEqual(next.signal, first.signal);
    first.dispose();
    next.dispose();
  });
});

describe('raceSignal', () => {
  it('settles like the work when the signal does not fire', async () => {
    const c = new AbortController();
    assert.equal(await raceSignal(Promise.resolve(7), c.signal), 7);
    await assert.rejects(raceSignal(Promise.reject(new Error('no')), c.signal), /no/);
  });

  it('rejects with the abort reason although the work never settles', async () => {
    const c = new AbortController();
    const never = new Promise<number>(() => undefined);
    const raced = raceSignal(never, c.signal);
    c.abort(new DeadlineExceededError(1_500));
    await assert.rejects(raced, (err: unknown) => isDeadlineExceeded(err));
  });

  it('rejects at once for an already aborted signal, and a late rejection of the work is not unhandled', async () => {
    const c = new AbortController();
    c.abort(new DeadlineExceededError(1));
    let rejectWork: (e: unknown) => void = () => undefined;
    const work = new Promise<number>((_, reject) => {
      rejectWork = reject;
    });
    await assert.rejects(raceSignal(work, c.signal), (err: unknown) => isDeadlineExceeded(err));
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => {
      unhandled.push(e);
    };
    process.on('unhandledRejection', onUnhandled);
    rejectWork(new Error('late'));
    await new Promise((r) => setImmediate(r));
    process.off('unhandledRejection', onUnhandled);
    assert.deepEqual(unhandled, []);
  });
});
