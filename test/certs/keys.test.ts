import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import test from 'node:test';
import { generateRsaKeyPair, signSha256Rsa, RSA_MODULUS_BITS } from '../../src/certs/keys.js';
import { generateCa, issueServingCert } from '../../src/certs/x509.js';
import { isCamelOciError } from '../../src/base/errors.js';

/** Period of the probe timer. */
const TICK_MS = 5;
/** A gap between ticks longer than this counts as time the event loop was stalled. */
const STALL_MS = 50;
/**
 * Largest share of the run the loop may spend stalled. A generator on the event loop (forge's
 * JavaScript RSA, or generateKeyPairSync) stalls it for nearly the whole run; thread-pool work
 * leaves it free except for scheduling hiccups, even on a busy two-CPU machine where absolute gaps
 * of a few hundred ms happen (so no absolute bound: it would be flaky and not sharper).
 */
const MAX_STALLED_SHARE = 0.5;

/** Runs `work` while a timer probes the event loop; returns how long it ran and how much of it the loop was stalled. */
async function probeEventLoop(work: () => Promise<unknown>): Promise<{ elapsed: number; stalled: number; ticks: number; maxGap: number }> {
  let ticks = 0;
  let stalled = 0;
  let maxGap = 0;
  let last = performance.now();
  const observe = (): void => {
    const t = performance.now();
    const gap = t - last;
    last = t;
    maxGap = Math.max(maxGap, gap);
    if (gap > STALL_MS) stalled += gap;
  };
  const timer = setInterval(() => {
    observe();
    ticks++;
  }, TICK_MS);
  const started = performance.now();
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  observe(); // the time since the last tick counts too
  return { elapsed: performance.now() - started, stalled, ticks, maxGap };
}

test('generating a CA and a serving certificate does not block the event loop', async () => {
  // Two keys at once plus the full CA + serving path: long enough that a blocked loop shows.
  const r = await probeEventLoop(() =>
    Promise.all([
      generateRsaKeyPair(),
      generateRsaKeyPair(),
      generateCa({ commonName: 'loop test CA', validityDays: 1 }).then((ca) =>
        issueServingCert(ca, { service: 'svc', namespace: 'ns', validityDays: 1 }),
      ),
    ]),
  );
  const detail = `stalled ${r.stalled.toFixed(0)} of ${r.elapsed.toFixed(0)} ms, ${r.ticks} ticks, longest gap ${r.maxGap.toFixed(0)} ms`;
  assert.ok(r.stalled / r.elapsed < MAX_STALLED_SHARE, `the event loop was blocked: ${detail}`);
  // A free loop ticks every few ms; demand at least one tick per 50 ms of work.
  assert.ok(r.ticks >= Math.max(2, Math.floor(r.elapsed / 50)), `the probe timer barely ran: ${detail}`);
});

test('the event loop probe detects a generator that blocks the loop', async () => {
  // Guards the guard: the same probe around a synchronous generator must report a stall.
  const r = await probeEventLoop(async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    generateKeyPairSync('rsa', { modulusLength: 4096 });
  });
  assert.ok(r.stalled / r.elapsed >= MAX_STALLED_SHARE, `stalled only ${r.stalled.toFixed(0)} of ${r.elapsed.toFixed(0)} ms`);
});

test('generates RSA keys of the stated size in PEM', async () => {
  const pair = await generateRsaKeyPair();
  assert.match(pair.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  const pub = createPublicKey(pair.publicKeyPem);
  assert.equal(pub.asymmetricKeyType, 'rsa');
  assert.equal(pub.asymmetricKeyDetails?.modulusLength, RSA_MODULUS_BITS);
});

test('signs with sha256WithRSA so the public key verifies it', async () => {
  const pair = await generateRsaKeyPair();
  const data = Buffer.from('tbsCertificate bytes');
  const sig = await signSha256Rsa(data, pair.privateKeyPem);
  assert.ok(verify('sha256', data, pair.publicKeyPem, sig));
  assert.ok(!verify('sha256', Buffer.from('other bytes'), pair.publicKeyPem, sig));
});

test('refuses to sign with a non-RSA or unreadable key', async () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  for (const key of [ec, 'not a key']) {
    await assert.rejects(signSha256Rsa(Buffer.from('x'), key), (err) => isCamelOciError(err, 'CONFIG_INVALID'));
  }
});
