import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/webhook/app.js';
import { BodyBudget } from '../../src/webhook/body-budget.js';
import { createMetrics } from '../../src/webhook/metrics.js';
import { DEPS, FakeResolver, artifactFor, camelKPod, memoryLogger, reviewOf } from './support.js';
import { eventually } from '../helpers/eventually.js';

const FETCHER = 'ghcr.io/acme/camel-oci@sha256:' + 'a'.repeat(64);
const budget = new BodyBudget(1024 * 1024);
const SLOW_REF = '127.0.0.1:5000/acme/slow:1.0';
let server: http.Server;
let port: number;

before(async () => {
  const app = createApp({
    handlerDeps: {
      resolver: new FakeResolver(new Map([[SLOW_REF, { artifact: artifactFor(SLOW_REF), delayMs: 400 }]])),
      inject: { fetcherImage: FETCHER },
      onError: 'deny',
    },
    metrics: createMetrics({}),
    logger: memoryLogger().logger,
    ready: () => true,
    budget,
  });
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);

/** Sends `body` (all at once, or the head now and a callback to send the rest). */
function post(path: string, body: Buffer, hold = false): { done: Promise<{ status: number; body: string }>; finish: () => void } {
  const req = http.request({
    host: '127.0.0.1',
    port,
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': body.length },
  });
  const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
  });
  const half = Math.floor(body.length / 2);
  req.write(body.subarray(0, hold ? half : body.length));
  if (!hold) req.end();
  return { done, finish: () => req.end(body.subarray(half)) };
}

const review = (extra = 0, reference = '127.0.0.1:5000/acme/deps:1.0'): Buffer => {
  const pod = camelKPod('hello', { [DEPS]: `container:${reference}`, 'example.com/pad': 'x'.repeat(extra) });
  return Buffer.from(JSON.stringify(reviewOf(pod)));
};

describe('the admission edge bounds what reading a body costs', () => {
  it('refuses a body nested too deep with 413 and a reason, before parsing it', async () => {
    const res = await post('/mutate', Buffer.from('{"a":'.repeat(5000) + '1' + '}'.repeat(5000))).done;
    assert.equal(res.status, 413);
    assert.match(JSON.parse(res.body).reason, /too costly to parse: JSON nested deeper than 128 levels/);
  });

  it('refuses a body of too many values with 413', async () => {
    const res = await post('/mutate', Buffer.from(`[${Array(200_000).fill('{}').join(',')},${Array(250_000).fill('0').join(',')}]`)).done;
    // Larger than this test's budget: refused either way, never parsed.
    assert.ok(res.status === 413 || res.status === 429, String(res.status));
  });

  it('answers 429 when what requests hold at once would pass the budget, and gives it back after', async () => {
    // A request holds its body, the string parsed from it and its values until answered: about
    // twice its size, so a second one of 400 KiB does not fit in 1 MiB while the first is resolving.
    const big = review(400 * 1024, SLOW_REF);
    const first = post('/mutate', big);
    await eventually(() => budget.inUse >= 2 * big.length, { stepMs: 5 });
    assert.ok(budget.inUse >= 2 * big.length, `the resolving request holds its share (${budget.inUse})`);
    const second = await post('/mutate', review(400 * 1024)).done;
    assert.equal(second.status, 429);
    assert.match(JSON.parse(second.body).reason, /too many request bytes in flight/);
    assert.equal((await first.done).status, 200);
    await eventually(() => budget.inUse === 0);
    assert.equal(budget.inUse, 0, 'every reserved byte is given back');
    assert.equal((await post('/mutate', review(400 * 1024)).done).status, 200, 'the budget is free again');
  });

  it('answers 429 for a body declared larger than what is left, without reading it', async () => {
    const res = await post('/mutate', review(1100 * 1024)).done;
    assert.equal(res.status, 429);
  });

  it('answers a near-miss path with 404, not 405', async () => {
    for (const path of ['/mutate/', '/MUTATE']) {
      const res = await post(path, review()).done;
      assert.equal(res.status, 404, path);
    }
  });
});
