/**
 * The built `camel-oci serve` under the memory limit the manifests give its Deployment, attacked
 * with every costly body shape at once: nesting up to the body limit, millions of tiny values,
 * near-limit ordinary bodies sixteen at a time, bodies just under the value limit, and slow
 * partial bodies that hold the body budget. It must answer every request (200, 400, 413 or 429),
 * stay alive and healthy, never reach the kernel's OOM killer, and admit ordinary pods afterwards.
 *
 * The cap is a cgroup v1 memory cgroup when this machine lets us make one (the kernel enforces it,
 * as the kubelet would); otherwise V8's old space is capped and the process's peak RSS (VmHWM) is
 * checked against the limit.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { CLI } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { LOOPBACK, freePort } from '../helpers/ports.js';

const MiB = 1024 * 1024;
/** The webhook's body limit (src/webhook/edge.ts MAX_BODY_BYTES), restated: the test attacks right up to it. */
const BODY_LIMIT = 7 * MiB;
/** The whole test's bound; each request has its own, shorter one. */
const TEST_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 40_000;
/** How long slow bodies hold their part of the budget before finishing. */
const SLOW_HOLD_MS = 3_000;
/** Slow near-limit bodies at once: about 280 MiB if all were buffered, over the 256 MiB limit. */
const SLOW_BODIES = 40;

/** The memory limit of the webhook container in manifests/base/deployment.yaml, in bytes. */
async function deploymentMemoryLimit(): Promise<number> {
  const doc = parseYaml(await readFile(path.join(REPO_ROOT, 'manifests', 'base', 'deployment.yaml'), 'utf8')) as {
    spec: { template: { spec: { containers: { resources?: { limits?: { memory?: string } } }[] } } };
  };
  const text = doc.spec.template.spec.containers[0]?.resources?.limits?.memory;
  const m = /^(\d+)(Mi|Gi)$/.exec(text ?? '');
  assert.ok(m, `the Deployment's memory limit is not in Mi or Gi: ${String(text)}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 * MiB : MiB);
}

/** A cgroup v1 memory cgroup of our own with `limit` bytes, or undefined when cgroups are not writable here. */
async function makeMemoryCgroup(limit: number): Promise<string | undefined> {
  const dir = `/sys/fs/cgroup/memory/camel-oci-memcap-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(dir);
    await writeFile(path.join(dir, 'memory.limit_in_bytes'), String(limit));
  } catch {
    await rmdir(dir).catch(() => undefined);
    return undefined;
  }
  // Swap would let the process exceed the limit without an OOM: cap memory+swap too where the kernel accounts it.
  await writeFile(path.join(dir, 'memory.memsw.limit_in_bytes'), String(limit)).catch(() => undefined);
  return dir;
}

/** Removes a cgroup once its processes are gone (the kernel refuses while one remains). */
async function removeCgroup(dir: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      await rmdir(dir);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** `VmHWM` and `VmRSS` of a process in bytes, or undefined once it is gone. */
async function processMemory(pid: number): Promise<{ hwm: number; rss: number } | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  if (status === undefined) return undefined;
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
}

/** One attacking request: the body is sent in `parts`, each after the pause before it. */
interface Attack {
  readonly name: string;
  readonly parts: readonly { readonly bytes: Buffer; readonly pauseMs?: number }[];
}

/** What came back: the HTTP status, or `none` when the connection ended (or timed out) without one. */
type Outcome = { readonly name: string; readonly status: number | 'none'; readonly detail: string };

/**
 * Sends one request over its own kept-alive TLS connection, as the apiserver does, writing the body
 * as the attack says; resolves with the status line's code.
 */
function send(port: number, ca: string, attack: Attack, onSent?: () => void, url = '/mutate?timeout=10s'): Promise<Outcome> {
  const length = attack.parts.reduce((n, p) => n + p.bytes.length, 0);
  let sentOnce = false;
  /** The whole body written, or the request over before it was. */
  const sent = (): void => {
    if (sentOnce) return;
    sentOnce = true;
    onSent?.();
  };
  return new Promise((resolve) => {
    let settled = false;
    let head = '';
    const finish = (status: number | 'none', detail: string): void => {
      if (settled) return;
      settled = true;
      sent();
      clearTimeout(timer);
      socket.destroy();
      resolve({ name: attack.name, status, detail });
    };
    const socket = tls.connect({ host: LOOPBACK, port, ca, servername: 'localhost' }, () => {
      socket.write(`POST ${url} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`);
      void (async () => {
        for (const part of attack.parts) {
          if (part.pauseMs) await new Promise((r) => setTimeout(r, part.pauseMs));
          if (settled || socket.destroyed) return;
          // Respect back-pressure: a flooding client must not measure its own buffering.
          if (!socket.write(part.bytes)) await new Promise((r) => socket.once('drain', r));
        }
        sent();
      })().catch(() => undefined);
    });
    const timer = setTimeout(() => finish('none', 'timed out'), REQUEST_TIMEOUT_MS);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      head += d;
      const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n/.exec(head);
      const end = head.indexOf('\r\n\r\n');
      if (m && end >= 0) finish(Number(m[1]), head.slice(end + 4, end + 200));
    });
    // A failed write may come before the answer that explains it is read: wait for the close.
    let error = '';
    socket.on('error', (err) => (error = err.message));
    socket.on('close', () => finish('none', error || 'closed without an answer'));
  });
}

/** A pod AdmissionReview (no dependencies asked for) with `extra` merged into its annotations. */
function review(uid: string, annotations: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'demo',
      operation: 'CREATE',
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { generateName: 'hello-', namespace: 'demo', labels: { 'camel.apache.org/integration': 'hello' }, annotations },
        spec: { containers: [{ name: 'integration', image: 'example.com/kit:1' }] },
      },
    },
  };
}

/** A review whose body is padded with one long annotation to `size` bytes: ordinary JSON, near the limit. */
function paddedReview(uid: string, size: number): Buffer {
  const base = JSON.stringify(review(uid, { pad: '' })).length;
  return Buffer.from(JSON.stringify(review(uid, { pad: 'x'.repeat(size - base) })));
}

/** A review holding an array of `n` small values: the costliest body under the value limit. */
function manyValuesReview(uid: string, n: number): Buffer {
  const json = JSON.stringify(review(uid, { list: '' }));
  return Buffer.from(json.replace('"list":""', `"list":[${'0,'.repeat(n - 1)}0]`));
}

/** A body split in two with a pause between: a slow client holding what it sent of the budget. */
function slow(name: string, body: Buffer, firstBytes: number): Attack {
  return { name, parts: [{ bytes: body.subarray(0, firstBytes) }, { bytes: body.subarray(firstBytes), pauseMs: SLOW_HOLD_MS }] };
}

function attacks(): Attack[] {
  const whole = (name: string, bytes: Buffer): Attack => ({ name, parts: [{ bytes }] });
  const list: Attack[] = [];
  // Nesting: arrays and objects, right up to the body limit, inside and outside a review.
  list.push(whole('deep arrays', Buffer.from('['.repeat(BODY_LIMIT - 1) + ']')));
  list.push(whole('deep objects', Buffer.from('{"a":'.repeat(Math.floor((BODY_LIMIT - 8) / 5)) + '0')));
  list.push(
    whole(
      'deep inside a review',
      Buffer.from(JSON.stringify(review('deep', { x: '' })).replace('"x":""', `"x":${'['.repeat(3 * MiB)}${']'.repeat(3 * MiB)}`)),
    ),
  );
  // Millions of tiny values.
  list.push(whole('millions of zeros', Buffer.from(`[${'0,'.repeat(BODY_LIMIT / 2 - 2)}0]`)));
  list.push(whole('millions of empty objects', Buffer.from(`[${'{},'.repeat(Math.floor(BODY_LIMIT / 3) - 2)}{}]`)));
  list.push(whole('millions of keys', Buffer.from(`{${Array.from({ length: 700_000 }, (_, i) => `"${i.toString(36)}":0`).join(',')}}`)));
  // Just under the value limit: accepted shapes that cost the most to parse, several at once.
  for (let i = 0; i < 6; i++) list.push(whole(`near the value limit #${i}`, manyValuesReview(`values-${i}`, 199_000)));
  // Ordinary JSON near the byte limit, sixteen at once (one buffer shared: the client's memory is not under test).
  const big = paddedReview('big', BODY_LIMIT - 1024);
  for (let i = 0; i < 16; i++) list.push(whole(`near the byte limit #${i}`, big));
  // Slow bodies: all but their last bytes sent, then held. Together they are more than the memory
  // limit, so only the body budget keeps the webhook alive.
  const held = paddedReview('slow', BODY_LIMIT - 4096);
  for (let i = 0; i < SLOW_BODIES; i++) list.push(slow(`slow body #${i}`, held, held.length - 1024));
  return list;
}

describe('camel-oci serve under the Deployment memory limit', () => {
  let tmp: string;
  let port: number;
  let ca: string;
  let cap: number;
  let cgroup: string | undefined;
  let child: ChildProcess;
  let output = '';
  let peak = 0;
  let sampler: NodeJS.Timeout | undefined;

  before(async () => {
    cap = await deploymentMemoryLimit();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-memcap-'));
    port = await freePort();
    cgroup = await makeMemoryCgroup(cap);
    const serveArgs = [
      CLI,
      'serve',
      '--port',
      String(port),
      '--address',
      LOOPBACK,
      '--certs-dir',
      path.join(tmp, 'certs'),
      '--shutdown-delay',
      '0s',
      '--log-level',
      'error',
      '--metrics-port',
      'off',
    ];
    const env = { PATH: process.env.PATH ?? '', HOME: tmp };
    child = cgroup
      ? // The shell joins the cgroup, then becomes node with the same PID: every byte serve allocates is charged to it.
        spawn('sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$0" "$@"`, process.execPath, ...serveArgs], {
          cwd: tmp,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : // No cgroup: cap V8's heap below the limit (leaving room for buffers and code) and watch the RSS.
        spawn(process.execPath, [`--max-old-space-size=${Math.floor((cap * 0.75) / MiB)}`, ...serveArgs], {
          cwd: tmp,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    sampler = setInterval(() => {
      void processMemory(child.pid!).then((m) => {
        if (m) peak = Math.max(peak, m.hwm, m.rss);
      });
    }, 50);
    const until = Date.now() + 15_000;
    while (!output.includes('Stop with Ctrl-C.')) {
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > until) throw new Error(`serve did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    ca = await readFile(path.join(tmp, 'certs', 'ca.crt'), 'utf8');
  });

  after(async () => {
    if (sampler) clearInterval(sampler);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(kill);
    }
    if (cgroup) await removeCgroup(cgroup);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('answers every costly body at once, stays up within the limit, and admits afterwards', { timeout: TEST_TIMEOUT_MS }, async () => {
    const started = Date.now();
    // The slow bodies start once every other body is on the wire: they then hold their share of
    // the budget while those are parsed and answered, and cannot take all of it before any of
    // them arrived (on a loaded CI runner they sometimes did, and nothing could be admitted).
    const all = attacks();
    const quick = all.filter((a) => !a.parts.some((p) => p.pauseMs !== undefined));
    let unsent = quick.length;
    let allSent = (): void => undefined;
    const quickSent = new Promise<void>((resolve) => (allSent = resolve));
    const quickOutcomes = quick.map((a) => send(port, ca, a, () => --unsent === 0 && allSent()));
    await quickSent;
    const slowOutcomes = all.filter((a) => !quick.includes(a)).map((a) => send(port, ca, a));
    const outcomes = await Promise.all([...quickOutcomes, ...slowOutcomes]);

    const unanswered = outcomes.filter((o) => o.status === 'none' || ![200, 400, 413, 429].includes(o.status));
    assert.deepEqual(unanswered, [], `requests without an acceptable answer (serve output:\n${output.slice(-2000)})`);
    const by = (prefix: string): (number | 'none')[] => outcomes.filter((o) => o.name.startsWith(prefix)).map((o) => o.status);
    // Shapes that cannot be parsed affordably are refused as too large, never parsed.
    for (const name of ['deep', 'millions'])
      assert.ok(
        by(name).every((s) => s === 413 || s === 429),
        `${name}: ${by(name).join(',')}`,
      );
    // Affordable shapes are admitted or asked to retry, and at least one got through.
    for (const name of ['near the value limit', 'near the byte limit', 'slow body'])
      assert.ok(
        by(name).every((s) => s === 200 || s === 429),
        `${name}: ${by(name).join(',')}`,
      );
    assert.ok(
      outcomes.some((o) => o.status === 200),
      'nothing was admitted during the attack',
    );

    assert.equal(child.exitCode, null, `serve exited (${String(child.exitCode)}):\n${output.slice(-2000)}`);
    assert.equal(child.signalCode, null, `serve was killed by ${String(child.signalCode)} (the OOM killer sends SIGKILL)`);
    if (cgroup) {
      const oom = await readFile(path.join(cgroup, 'memory.oom_control'), 'utf8');
      assert.match(oom, /under_oom 0/);
      const kills = /oom_kill (\d+)/.exec(oom);
      if (kills) assert.equal(Number(kills[1]), 0, 'the kernel OOM-killed a process in the cgroup');
      const max = Number(await readFile(path.join(cgroup, 'memory.max_usage_in_bytes'), 'utf8'));
      assert.ok(max <= cap, `cgroup peak ${max} above the cap ${cap}`);
    } else {
      const m = await processMemory(child.pid!);
      assert.ok(m, 'serve is gone');
      peak = Math.max(peak, m.hwm);
      assert.ok(peak < cap, `peak RSS ${(peak / MiB).toFixed(0)} MiB not under the ${cap / MiB} MiB limit`);
    }

    // Still healthy, and ordinary admissions still go through (the budget was given back).
    const health = await new Promise<number | 'none'>((resolve) => {
      const s = tls.connect({ host: LOOPBACK, port, ca, servername: 'localhost' }, () =>
        s.write('GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n'),
      );
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => (text += d));
      s.on('error', () => resolve('none'));
      s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? Number.NaN) || 'none'));
    });
    assert.equal(health, 200);
    for (let i = 0; i < 4; i++) {
      const ok = await send(port, ca, { name: 'ordinary', parts: [{ bytes: Buffer.from(JSON.stringify(review(`after-${i}`))) }] });
      assert.equal(ok.status, 200, ok.detail);
      assert.match(ok.detail, /"allowed":true/);
    }
    assert.ok(Date.now() - started < TEST_TIMEOUT_MS);
  });
});
