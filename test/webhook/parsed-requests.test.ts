/** Requests kept parsed by their body but the uid: keyed exactly, kept only once their uid is proved. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { answer } from '../../src/admit/answer.js';
import { allowed } from '../../src/admit/result.js';
import type { AdmissionRequest } from '../../src/webhook/admission.js';
import { createAdmissionEdge } from '../../src/webhook/edge.js';
import { createMetrics } from '../../src/webhook/metrics.js';
import { MAX_PARSED_BODY_BYTES, ParsedRequests, bodyKeyOf } from '../../src/webhook/parsed-requests.js';
import { DEPS, camelKPod, memoryLogger, reviewOf } from './support.js';

const REF = '127.0.0.1:5000/acme/deps:1.0';
const pod = (extra: Record<string, string> = {}): Record<string, any> => camelKPod('hello', { [DEPS]: `container:${REF}`, ...extra });
const body = (uid: string, object: unknown = pod()): Buffer => Buffer.from(JSON.stringify(reviewOf(object, { uid })));
const parse = (b: Buffer): AdmissionRequest => (JSON.parse(b.toString()) as { request: AdmissionRequest }).request;

/** Bodies that are not keyed: the uid is not plain characters, empty, too long, or there is no span. */
const UNKEYED: ReadonlyArray<readonly [string, Buffer]> = [
  ['an escaped uid', body('u\\"1')],
  ['a uid with a space', body('u 1')],
  ['a non-ASCII uid', body('u-é')],
  ['an empty uid', body('')],
  ['a uid over 128 characters', body('u'.repeat(129))],
  [
    'a uid that is not the first field',
    Buffer.from(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', request: { kind: {}, uid: 'u-1' } })),
  ],
  ['a uid that is a number', Buffer.from('{"request":{"uid":1}}')],
  ['a body cut after the uid', Buffer.from('{"request":{"uid":"u-1')],
];

describe('bodyKeyOf', () => {
  it('is equal for bodies that differ in the uid only (any length), and differs with any other byte', () => {
    const a = bodyKeyOf(body('u-1'));
    assert.ok(a !== undefined);
    assert.equal(a.uid, 'u-1');
    const b = bodyKeyOf(body('3c6a1b0e-8d4f-4a57-9f3e-0b1c2d3e4f50'));
    assert.equal(b?.key, a.key);
    assert.equal(b?.uid, '3c6a1b0e-8d4f-4a57-9f3e-0b1c2d3e4f50');
    assert.notEqual(bodyKeyOf(body('u-1', pod({ 'example.com/x': 'y' })))?.key, a.key);
    assert.notEqual(bodyKeyOf(body('u-1').subarray(0, -1))?.key, a.key);
    const flipped = body('u-1');
    flipped[flipped.length - 10]! ^= 1;
    assert.notEqual(bodyKeyOf(flipped)?.key, a.key);
  });

  for (const [name, b] of UNKEYED) {
    it(`is undefined for ${name}`, () => assert.equal(bodyKeyOf(b), undefined));
  }
});

describe('ParsedRequests', () => {
  it('keeps a body on its second sighting, deep-frozen, and hands it out with each body’s own uid', () => {
    const kept = new ParsedRequests();
    const first = body('u-1');
    const k1 = bodyKeyOf(first)!;
    assert.equal(kept.offer(k1, first, parse(first)), false, 'seen once: not kept');
    assert.equal(kept.get(k1), undefined);
    const second = body('u-22');
    const r2 = parse(second);
    assert.equal(kept.offer(bodyKeyOf(second)!, second, r2), true);
    assert.ok(Object.isFrozen(r2) && Object.isFrozen(r2.object) && Object.isFrozen((r2.object as any).spec.containers[0]));
    const third = body('u-333');
    const r3 = kept.get(bodyKeyOf(third)!);
    assert.ok(r3 !== undefined);
    assert.equal(r3.uid, 'u-333');
    assert.ok(Object.isFrozen(r3));
    assert.deepEqual(r3, parse(third), 'what parsing the body gives');
    assert.equal(kept.get(bodyKeyOf(body('u-22'))!), r2, 'its own uid: the kept object itself');
    assert.equal(kept.get(bodyKeyOf(body('u-1', pod({ 'example.com/x': 'y' })))!), undefined, 'another pod: nothing');
  });

  it('does not keep a body whose first `"request":{"uid":` is a look-alike: the uid proof fails', () => {
    // A key that ends in `request` (its quote escaped) holding an object with a uid, before the real request.
    const decoy = (d: string, uid: string): Buffer =>
      Buffer.from(
        `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","x\\"request":{"uid":"${d}"},"request":${JSON.stringify(reviewOf(pod(), { uid }).request)}}`,
      );
    const kept = new ParsedRequests();
    for (let i = 0; i < 3; i++) {
      const b = decoy('d-1', 'd-1'); // the decoy and the uid agree, so the scanned uid is the parsed one
      const k = bodyKeyOf(b)!;
      assert.equal(k.uid, 'd-1');
      assert.equal(kept.offer(k, b, parse(b)), false);
    }
    assert.equal(kept.size, 0);
    assert.equal(kept.get(bodyKeyOf(decoy('d-2', 'd-1'))!), undefined);
  });

  it('does not keep a body whose uid a later duplicate key overrides', () => {
    const b = Buffer.from(body('u-1').toString().replace('"request":{"uid":"u-1",', '"request":{"uid":"u-1","uid":"u-1",'));
    const kept = new ParsedRequests();
    for (let i = 0; i < 3; i++) assert.equal(kept.offer(bodyKeyOf(b)!, b, parse(b)), false);
    assert.equal(kept.size, 0);
  });

  it('does not keep a request whose parsed uid is not the one scanned', () => {
    const b = body('u-1');
    const kept = new ParsedRequests();
    for (let i = 0; i < 3; i++) assert.equal(kept.offer(bodyKeyOf(b)!, b, { ...parse(b), uid: 'other' }), false);
    assert.equal(kept.size, 0);
  });

  it('is bounded in count, and does not key large bodies', () => {
    const kept = new ParsedRequests(3);
    for (let i = 0; i < 10; i++) {
      for (const uid of ['a', 'b']) {
        const b = body(uid, pod({ n: String(i) }));
        kept.offer(kept.keyOf(b)!, b, parse(b));
      }
    }
    assert.equal(kept.size, 3);
    assert.equal(kept.keyOf(body('u-1', pod({ pad: 'x'.repeat(MAX_PARSED_BODY_BYTES) }))), undefined);
  });
});

describe('the edge with kept requests', () => {
  it('hands the handler what parsing each body gives, with its own uid, and answers each uid', async () => {
    const seen: AdmissionRequest[] = [];
    const edge = createAdmissionEdge({
      routes: {
        '/mutate': async (request) => {
          seen.push(request);
          return answer(allowed(), 0);
        },
      },
      metrics: createMetrics({ defaultMetrics: false }),
      logger: memoryLogger().logger,
      onError: 'deny',
    });
    const server = http.createServer((req, res) => {
      const handler = edge.match(req);
      if (handler === undefined) {
        res.writeHead(404).end();
        return;
      }
      edge.serve(req, res, handler);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const post = async (b: Buffer): Promise<any> => {
      const res = await fetch(`http://127.0.0.1:${port}/mutate?timeout=10s`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: b.toString(),
      });
      return res.json();
    };
    try {
      const bodies = [body('u-1'), body('u-22'), body('u-333'), body('u-4444', pod({ 'example.com/x': 'y' })), body('u-55555')];
      for (const b of bodies) assert.equal((await post(b)).response.uid, parse(b).uid);
      assert.equal(seen.length, bodies.length);
      seen.forEach((r, i) => assert.deepEqual(r, parse(bodies[i]!)));
      assert.ok(Object.isFrozen(seen[2]), 'the third of one body was handed the kept request');
      assert.ok(Object.isFrozen(seen[4]));
      assert.equal(Object.isFrozen(seen[3]), false, 'another pod was parsed');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
