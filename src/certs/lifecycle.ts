/**
 * The self-managed certificate lifecycle, as pure decisions: given what the TLS Secret holds, what
 * the webhook configuration's caBundle trusts and the time, what to do next. No I/O here; the loop
 * that reads and writes the apiserver is src/kube/self-managed-certs.ts, and key generation is in
 * lifecycle-issue.ts.
 *
 * The Secret (type kubernetes.io/tls) holds `tls.crt`/`tls.key` (what every replica serves),
 * `ca.crt` (the trust set: the signing CA first, then any other CA still trusted; exactly what the
 * caBundle of every webhook entry must hold), `ca.key` (the signing CA's key) and, during a CA
 * rollover, `next-ca.crt`/`next-ca.key`.
 *
 * The rules, so no replica ever serves a certificate the apiserver cannot verify:
 * 1. The serving certificate is reissued by the same CA at two thirds of its life; the CA does not
 *    change, so the bundle does not either.
 * 2. At half its life the CA gets a successor, which enters `ca.crt` (and so the bundle) while the
 *    old CA keeps signing. Only when the successor has been in the Secret for the settle period
 *    (three re-check periods) AND the bundle is seen to hold it, a serving certificate signed by it
 *    replaces the old one ("promotion"): the new CA is trusted before any replica serves its
 *    certificate.
 * 3. A CA other than the signing one (and its successor) leaves `ca.crt` only once the serving
 *    certificate in the Secret was issued by the signing CA at least the settle period ago. Every
 *    replica re-reads the Secret at least once per re-check period, so by then each one serves the
 *    new certificate (and a replica never loads a certificate the bundle it reads cannot verify).
 * 4. A Secret whose CA cannot sign (missing or foreign key, expired, not a CA: e.g. one written by
 *    `camel-oci certs`) is replaced by a new CA and certificate; its old CA, if still valid, stays
 *    trusted under rule 3, so replicas still serving the old certificate keep working. So do the
 *    CAs the bundle holds when the Secret is gone (an operator deleted it to force a new CA).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { distinctCertificates, splitPemCertificates } from './trust.js';
import { CLOCK_SKEW_MS } from './x509.js';

/** Keys of the TLS Secret's `data`. */
export const SECRET_KEYS = {
  cert: 'tls.crt',
  key: 'tls.key',
  caCert: 'ca.crt',
  caKey: 'ca.key',
  nextCaCert: 'next-ca.crt',
  nextCaKey: 'next-ca.key',
} as const;

/** The serving certificate is reissued at this fraction of its life. */
export const SERVING_ROTATE_FRACTION = 2 / 3;
/** The CA's successor is made at this fraction of the CA's life: long before its end, so promotion and retirement have time. */
export const CA_ROTATE_FRACTION = 1 / 2;
/**
 * Settle period, in re-check periods: a change is assumed seen by every replica after this many.
 * One period is when every replica re-reads; the rest covers a replica whose reconcile itself took
 * long (key generation under CPU pressure, a slow apiserver answer).
 */
export const SETTLE_RECHECKS = 3;
/** Most CAs trusted at once: the signing CA, its successor and the CA before it. */
export const MAX_TRUST_SET = 3;

/** What the TLS Secret holds, as PEM text (absent keys undefined). */
export interface ManagedSecretData {
  readonly certPem?: string;
  readonly keyPem?: string;
  /** The trust set: the signing CA first. */
  readonly caCertPem?: string;
  readonly caKeyPem?: string;
  readonly nextCaCertPem?: string;
  readonly nextCaKeyPem?: string;
}

/** Lifetimes and periods of the lifecycle. */
export interface LifecyclePolicy {
  readonly caLifetimeMs: number;
  readonly servingLifetimeMs: number;
  /** Every replica re-reads the Secret and the bundle at least this often. */
  readonly recheckMs: number;
  /** Names the serving certificate must cover (the Service's DNS names). */
  readonly dnsNames: readonly string[];
}

/** What to do with the Secret. */
export type LifecycleAction = 'create' | 'replace' | 'rotate-serving' | 'introduce-ca' | 'promote-ca' | 'retire-ca' | 'none';

/** A decision: the action, why (for logs), and when to look again at the latest. */
export interface LifecycleDecision {
  readonly action: LifecycleAction;
  readonly reason: string;
  /** Epoch ms of the next scheduled transition (only for `none`). */
  readonly wakeAt?: number;
}

/** A parsed certificate with the times the rules use. */
interface Parsed {
  readonly pem: string;
  readonly x509: X509Certificate;
  /** When it was made: notBefore is back-dated by the clock-skew allowance. */
  readonly issuedAt: number;
  readonly notAfter: number;
}

function parse(pem: string | undefined): Parsed | undefined {
  if (pem === undefined) return undefined;
  try {
    const x509 = new X509Certificate(pem);
    const notBefore = new Date(x509.validFrom).getTime();
    // The certificate's times are whole seconds: the real issue time is up to 1 s after notBefore
    // plus the back-dating; taking the latest keeps the settle periods at least as long as promised.
    return { pem, x509, issuedAt: notBefore + CLOCK_SKEW_MS + 1000, notAfter: new Date(x509.validTo).getTime() };
  } catch {
    return undefined;
  }
}

function keyMatches(cert: X509Certificate, keyPem: string | undefined): boolean {
  if (keyPem === undefined) return false;
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** True when `cert` was issued and signed by `ca`. */
export function signedBy(cert: X509Certificate, ca: X509Certificate): boolean {
  return ca.ca && cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/** A CA that can sign at `now`: a CA certificate, valid now, with its key. */
function usableCa(ca: Parsed | undefined, keyPem: string | undefined, now: number): string | undefined {
  if (ca === undefined) return 'its CA certificate is missing or unreadable';
  if (!ca.x509.ca) return 'its CA certificate is not a CA';
  if (ca.notAfter <= now) return `its CA expired on ${new Date(ca.notAfter).toISOString()}`;
  if (ca.issuedAt - CLOCK_SKEW_MS - 1000 > now) return 'its CA is not valid yet';
  if (!keyMatches(ca.x509, keyPem)) return 'it holds no private key of its CA';
  return undefined;
}

/** The settle period: how long a change takes to reach every replica. */
export function settleMs(policy: LifecyclePolicy): number {
  return SETTLE_RECHECKS * policy.recheckMs;
}

/**
 * Decides what to do with the Secret. `bundleFingerprints`: SHA-256 fingerprints of the CAs that
 * every webhook entry's caBundle holds now (after the caller made it match the Secret).
 */
export function decide(
  secret: ManagedSecretData | undefined,
  bundleFingerprints: ReadonlySet<string>,
  now: number,
  policy: LifecyclePolicy,
): LifecycleDecision {
  if (secret === undefined) return { action: 'create', reason: 'the Secret does not exist' };
  const [signingPem] = splitPemCertificates(secret.caCertPem ?? '');
  const ca = parse(signingPem);
  const caProblem = usableCa(ca, secret.caKeyPem, now);
  if (caProblem !== undefined || ca === undefined)
    return { action: 'replace', reason: `the Secret cannot be used: ${caProblem ?? 'no CA'}` };
  // An expiring CA whose successor never made it (rules stalled) is replaced outright before it lapses.
  if (ca.notAfter - now <= settleMs(policy))
    return { action: 'replace', reason: `its CA expires on ${new Date(ca.notAfter).toISOString()}` };

  const next = parse(secret.nextCaCertPem);
  const nextUsable = next !== undefined && usableCa(next, secret.nextCaKeyPem, now) === undefined;
  const settle = settleMs(policy);
  const caLife = ca.notAfter - ca.issuedAt;
  const caRotateAt = ca.issuedAt + caLife * CA_ROTATE_FRACTION;

  // Rule 2, promotion, first: it also reissues the serving certificate.
  const nextReady = nextUsable && next !== undefined;
  if (nextReady && now >= next.issuedAt + settle && bundleFingerprints.has(next.x509.fingerprint256)) {
    return { action: 'promote-ca', reason: 'the next CA has been trusted long enough; it signs from now on' };
  }
  // Rule 1 before a CA successor: an expiring serving certificate is the more urgent.
  const servingProblem = servingCertProblem(secret, ca, now, policy);
  if (servingProblem !== undefined) return { action: 'rotate-serving', reason: servingProblem };
  if (!nextReady && (now >= caRotateAt || secret.nextCaCertPem !== undefined)) {
    return {
      action: 'introduce-ca',
      reason: next === undefined ? `the CA is past ${CA_ROTATE_FRACTION} of its life` : 'the next CA is unusable',
    };
  }

  // Rule 3.
  const cert = parse(secret.certPem)!;
  const retireAt = cert.issuedAt + settle;
  const keep = new Set([ca.x509.fingerprint256, ...(nextUsable && next !== undefined ? [next.x509.fingerprint256] : [])]);
  const others = splitPemCertificates(secret.caCertPem ?? '')
    .map(parse)
    .filter((c) => c === undefined || !keep.has(c.x509.fingerprint256));
  if (others.length > 0 && now >= retireAt) return { action: 'retire-ca', reason: 'every replica serves a certificate of the signing CA' };
  if (others.some((c) => c === undefined || !c.x509.ca || c.notAfter <= now))
    return { action: 'retire-ca', reason: 'the trust set holds an expired or unreadable certificate' };

  const servingRotateAt = cert.issuedAt + (cert.notAfter - cert.issuedAt) * SERVING_ROTATE_FRACTION;
  const candidates = [
    servingRotateAt,
    nextUsable && next !== undefined ? next.issuedAt + settle : caRotateAt,
    ...(others.length > 0 ? [retireAt] : []),
  ];
  return { action: 'none', reason: 'up to date', wakeAt: Math.min(...candidates.filter((t) => t > now)) };
}

/** Why the serving certificate must be reissued, or undefined when it may stay. */
function servingCertProblem(secret: ManagedSecretData, ca: Parsed, now: number, policy: LifecyclePolicy): string | undefined {
  const cert = parse(secret.certPem);
  if (cert === undefined) return 'the serving certificate is missing or unreadable';
  if (!keyMatches(cert.x509, secret.keyPem)) return 'the serving key does not belong to the serving certificate';
  if (!signedBy(cert.x509, ca.x509)) return 'the serving certificate was not signed by the signing CA';
  if (cert.notAfter <= now) return `the serving certificate expired on ${new Date(cert.notAfter).toISOString()}`;
  if (cert.issuedAt - CLOCK_SKEW_MS - 1000 > now) return 'the serving certificate is not valid yet';
  for (const name of policy.dnsNames) {
    if (cert.x509.checkHost(name, { subject: 'never' }) === undefined) return `the serving certificate does not cover ${name}`;
  }
  const rotateAt = cert.issuedAt + (cert.notAfter - cert.issuedAt) * SERVING_ROTATE_FRACTION;
  if (now >= rotateAt) return `the serving certificate is past ${Math.round(SERVING_ROTATE_FRACTION * 100)}% of its life`;
  return undefined;
}

/**
 * The CA certificates of the trust set `ca.crt`, each PEM, readable ones only, each once, capped.
 * Once: a bundle patched with a CA twice would never match its fingerprints, and the reconcile
 * would patch it again every round.
 */
export function trustSet(secret: ManagedSecretData): string[] {
  const cas = splitPemCertificates(secret.caCertPem ?? '').filter((pem) => parse(pem)?.x509.ca === true);
  return distinctCertificates(cas).slice(0, MAX_TRUST_SET);
}

/** SHA-256 fingerprints of the readable CA certificates in PEM text (a decoded caBundle). */
export function caFingerprints(pem: string): Set<string> {
  const out = new Set<string>();
  for (const block of splitPemCertificates(pem)) {
    const c = parse(block);
    if (c?.x509.ca === true) out.add(c.x509.fingerprint256);
  }
  return out;
}

/** True when the caBundle (decoded PEM) holds exactly the CAs of `trust` (order aside). */
export function bundleMatches(bundlePem: string, trust: readonly string[]): boolean {
  const have = caFingerprints(bundlePem);
  const want = caFingerprints(trust.join(''));
  return have.size === want.size && [...want].every((f) => have.has(f)) && splitPemCertificates(bundlePem).length === want.size;
}

/** True when some CA of the bundle (decoded PEM) verifies `certPem` now: what the apiserver will check. */
export function bundleVerifies(bundlePem: string, certPem: string, now: number): boolean {
  const cert = parse(certPem);
  if (cert === undefined || cert.notAfter <= now) return false;
  return splitPemCertificates(bundlePem).some((pem) => {
    const ca = parse(pem);
    return ca !== undefined && ca.notAfter > now && signedBy(cert.x509, ca.x509);
  });
}

/** Expiry (epoch ms) of a certificate, or undefined when unreadable. */
export function notAfterOf(certPem: string): number | undefined {
  return parse(certPem)?.notAfter;
}
