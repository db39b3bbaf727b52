import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { ServeError } from '../../src/base/errors.js';
import { applyLifecycleAction } from '../../src/certs/lifecycle-issue.js';
import {
  bundleMatches,
  bundleVerifies,
  caFingerprints,
  decide,
  settleMs,
  trustSet,
  type LifecyclePolicy,
  type ManagedSecretData,
} from '../../src/certs/lifecycle.js';
import { splitPemCertificates } from '../../src/certs/trust.js';
import { generateCa, issueServingCert, serviceDnsNames } from '../../src/certs/x509.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
/** Lifetimes in days so one simulated year runs through several rotations; only the clock is mocked. */
const POLICY: LifecyclePolicy = {
  caLifetimeMs: 120 * DAY,
  servingLifetimeMs: 30 * DAY,
  recheckMs: HOUR,
  dnsNames: serviceDnsNames('camel-oci', 'camel-oci'),
};
const ISSUE = {
  service: 'camel-oci',
  namespace: 'camel-oci',
  caLifetimeMs: POLICY.caLifetimeMs,
  servingLifetimeMs: POLICY.servingLifetimeMs,
};
const T0 = Date.UTC(2026, 0, 1);

test('decide: no Secret is a create; a Secret from `camel-oci certs` (no CA key) or with an expired CA is replaced', async () => {
  assert.equal(decide(undefined, new Set(), T0, POLICY).action, 'create');
  const ca = await generateCa({ commonName: 'x', validityDays: 365, now: new Date(T0) });
  const cert = await issueServingCert(ca, { service: 'camel-oci', namespace: 'camel-oci', validityDays: 90, now: new Date(T0) });
  const noKey: ManagedSecretData = { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem };
  assert.equal(decide(noKey, caFingerprints(ca.certPem), T0 + HOUR, POLICY).action, 'replace');
  assert.equal(decide({ ...noKey, caKeyPem: ca.keyPem }, caFingerprints(ca.certPem), T0 + 400 * DAY, POLICY).action, 'replace');
  assert.equal(decide({ ...noKey, caKeyPem: 'garbage' }, caFingerprints(ca.certPem), T0 + HOUR, POLICY).action, 'replace');
});

test('decide: the serving certificate is reissued at two thirds of its life, when expired, or when it misses a Service name', async () => {
  const s = await applyLifecycleAction(undefined, 'create', new Date(T0), ISSUE);
  const fp = caFingerprints(s.caCertPem!);
  assert.equal(decide(s, fp, T0 + HOUR, POLICY).action, 'none');
  assert.equal(decide(s, fp, T0 + 19 * DAY, POLICY).action, 'none');
  assert.equal(decide(s, fp, T0 + 21 * DAY, POLICY).action, 'rotate-serving');
  assert.equal(decide(s, fp, T0 + 31 * DAY, POLICY).action, 'rotate-serving');
  assert.equal(decide(s, fp, T0 + HOUR, { ...POLICY, dnsNames: [...POLICY.dnsNames, 'other.example'] }).action, 'rotate-serving');
  const none = decide(s, fp, T0 + HOUR, POLICY);
  assert.ok(none.wakeAt !== undefined && Math.abs(none.wakeAt - (T0 + 20 * DAY)) < 2 * HOUR, 'wakes at the next transition');
});

/**
 * A year of simulated time with three replicas: each step a random replica reconciles (bundle :=
 * trust set, decide, apply), every replica re-reads at least once per re-check period, and after
 * each step the invariant is checked: the apiserver's bundle verifies what every replica serves.
 */
test('simulation: over a year of rotations, every certificate any replica serves is verified by the bundle at every step', async () => {
  let secret: ManagedSecretData | undefined;
  let bundle = '';
  const servedBy = [undefined, undefined, undefined] as Array<string | undefined>;
  const actions: string[] = [];
  // Replica i re-reads at its own phase within each re-check period.
  for (let now = T0; now < T0 + 365 * DAY; now += POLICY.recheckMs / 3) {
    const i = Math.floor((now - T0) / (POLICY.recheckMs / 3)) % 3;
    if (secret !== undefined) {
      const trust = trustSet(secret);
      if (!bundleMatches(bundle, trust)) bundle = trust.join('');
    }
    const d = decide(secret, caFingerprints(bundle), now, POLICY);
    if (d.action !== 'none') {
      secret = await applyLifecycleAction(secret, d.action, new Date(now), ISSUE);
      actions.push(d.action);
      bundle = trustSet(secret).join(''); // the writer patches the bundle before serving
    }
    // The replica serves the Secret's certificate only when the bundle verifies it (as the loop does).
    if (secret?.certPem !== undefined && bundleVerifies(bundle, secret.certPem, now)) servedBy[i] = secret.certPem;
    for (const [r, pem] of servedBy.entries()) {
      if (pem !== undefined)
        assert.ok(
          bundleVerifies(bundle, pem, now),
          `replica ${r} serves a certificate the bundle cannot verify at ${new Date(now).toISOString()} after ${actions.join(',')}`,
        );
    }
    // Skip quiet stretches quickly: jump to just before the next transition. Every replica re-reads
    // during the skipped periods and finds the same Secret, so each one serves its certificate.
    if (d.action === 'none' && d.wakeAt !== undefined && d.wakeAt - now > POLICY.recheckMs * 4) {
      now = d.wakeAt - POLICY.recheckMs * 4;
      servedBy.fill(secret?.certPem);
    }
  }
  assert.ok(
    actions.includes('promote-ca') && actions.includes('retire-ca') && actions.filter((a) => a === 'rotate-serving').length >= 10,
    actions.join(','),
  );
  assert.ok(!actions.includes('replace'), 'a healthy lifecycle never needs a replace');
  // The trust set never grows past the signing CA, its successor and its predecessor.
  assert.ok(splitPemCertificates(bundle).length <= 3);
});

test('rule 2: a next CA is not promoted before the bundle holds it, nor before the settle period', async () => {
  let s = await applyLifecycleAction(undefined, 'create', new Date(T0), ISSUE);
  const mid = T0 + 61 * DAY;
  s = await applyLifecycleAction(s, 'rotate-serving', new Date(mid - DAY), ISSUE);
  assert.equal(decide(s, caFingerprints(s.caCertPem!), mid, POLICY).action, 'introduce-ca');
  s = await applyLifecycleAction(s, 'introduce-ca', new Date(mid), ISSUE);
  const next = new X509Certificate(s.nextCaCertPem!).fingerprint256;
  const withNext = caFingerprints(s.caCertPem!);
  assert.ok(withNext.has(next), 'the next CA is in the trust set from the start');
  const onlyOld = new Set([...withNext].filter((f) => f !== next));
  const late = mid + settleMs(POLICY) + 2 * HOUR;
  assert.equal(decide(s, withNext, mid + 1000, POLICY).action, 'none', 'not before the settle period');
  assert.equal(decide(s, onlyOld, late, POLICY).action, 'none', 'not while the bundle lacks it');
  assert.equal(decide(s, withNext, late, POLICY).action, 'promote-ca');
  const promoted = await applyLifecycleAction(s, 'promote-ca', new Date(late), ISSUE);
  assert.equal(new X509Certificate(promoted.certPem!).checkIssued(new X509Certificate(s.nextCaCertPem!)), true);
  assert.equal(trustSet(promoted).length, 2, 'the old CA stays trusted');
  assert.equal(
    decide(promoted, caFingerprints(promoted.caCertPem!), late + HOUR, POLICY).action,
    'none',
    'rule 3: not retired before the settle period',
  );
  assert.equal(decide(promoted, caFingerprints(promoted.caCertPem!), late + settleMs(POLICY) + 2 * HOUR, POLICY).action, 'retire-ca');
});

test('applyLifecycleAction refuses what needs a CA it does not have, with a stable code', async () => {
  await assert.rejects(
    applyLifecycleAction(undefined, 'rotate-serving', new Date(T0), ISSUE),
    (e: unknown) => e instanceof ServeError && e.code === 'INTERNAL',
  );
  await assert.rejects(
    applyLifecycleAction(undefined, 'none', new Date(T0), ISSUE),
    (e: unknown) => e instanceof ServeError && e.code === 'INTERNAL',
  );
});

test('a lifetime outside 1 s to ten years is CONFIG_INVALID', async () => {
  for (const lifetimeMs of [0, 999, 1.5, 3651 * DAY]) {
    await assert.rejects(
      generateCa({ commonName: 'x', validityDays: 1, lifetimeMs }),
      (e: unknown) => e instanceof ServeError && e.code === 'CONFIG_INVALID',
    );
  }
});
