/**
 * The trust bundle (`ca.crt`, and so the webhook's `caBundle`) across a CA rotation. Pure: PEM text
 * in, PEM text out, no file system.
 *
 * Why it holds two CAs after a rotation: `kubectl apply` updates the caBundle at once, but the new
 * TLS Secret reaches the webhook pods only after kubelet's sync (a minute or two). A caBundle with
 * only the new CA would make the apiserver reject the certificate the pods still serve, and with
 * failurePolicy Fail every pod admission is denied meanwhile. With the new CA first and the previous
 * one after it, the apiserver accepts the old serving certificate until the Secret arrives and the
 * new one from then on.
 */
import { X509Certificate } from 'node:crypto';
import { splitPemCertificates } from '../base/pem.js';

/** Splits PEM text into its certificate blocks (base/pem.ts), for the certs modules that read trust bundles. */
export { splitPemCertificates };

/**
 * `pems` with each certificate once (the first of equal ones, by SHA-256 fingerprint). Every PEM
 * must parse: callers pass certificates they already read.
 */
export function distinctCertificates(pems: readonly string[]): string[] {
  const seen = new Set<string>();
  return pems.filter((pem) => {
    const fingerprint = new X509Certificate(pem).fingerprint256;
    if (seen.has(fingerprint)) return false;
    seen.add(fingerprint);
    return true;
  });
}

/**
 * Most CAs a rotation leaves in the trust bundle: the new one and the one before it. One older CA
 * is all the Secret's propagation needs; more would keep trusting certificates no pod serves.
 */
export const MAX_TRUSTED_CAS = 2;

/** Who a CA is, for the person running the command. */
export interface CaSummary {
  readonly subject: string;
  readonly fingerprint256: string;
  readonly notAfter: Date;
}

/** A CA of the previous trust bundle left out of the new one, and why. */
export interface DroppedCa {
  /** Absent when the block does not parse as a certificate. */
  readonly ca?: CaSummary;
  readonly reason: string;
}

/** The trust bundle after a rotation: the PEM to write, the CA carried over (if any) and those dropped. */
export interface RotatedTrust {
  /** The new CA first, then the carried one: what ca.crt and caBundle hold. */
  readonly caCertPem: string;
  readonly carried?: CaSummary;
  readonly dropped: readonly DroppedCa[];
}

/**
 * Builds the trust bundle that follows `previousTrustPem` (the ca.crt being replaced) when `newCaPem`
 * takes over. The previous bundle's FIRST certificate is the CA that signed the certificate the pods
 * serve now, so it is carried when it is a CA that has not expired at `now`; every later certificate
 * there is a leftover of an earlier rotation and is dropped, as is anything that does not parse.
 */
export function rotateTrustBundle(newCaPem: string, previousTrustPem: string | undefined, now: Date): RotatedTrust {
  const [fresh] = splitPemCertificates(newCaPem);
  if (fresh === undefined) throw new TypeError('rotateTrustBundle: the new CA is not a PEM certificate');
  const freshFingerprint = new X509Certificate(fresh).fingerprint256;
  const dropped: DroppedCa[] = [];
  let carried: { pem: string; ca: CaSummary } | undefined;
  for (const [index, pem] of splitPemCertificates(previousTrustPem ?? '').entries()) {
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(pem);
    } catch {
      dropped.push({ reason: 'not a readable certificate' });
      continue;
    }
    const ca: CaSummary = { subject: x509.subject, fingerprint256: x509.fingerprint256, notAfter: new Date(x509.validTo) };
    if (ca.fingerprint256 === freshFingerprint) continue; // already first
    // Only the first block signed what the pods serve now; the rest were carried by an earlier rotation.
    if (index >= MAX_TRUSTED_CAS - 1) dropped.push({ ca, reason: 'left from an earlier rotation' });
    else if (!x509.ca) dropped.push({ ca, reason: 'not a CA certificate' });
    else if (ca.notAfter.getTime() <= now.getTime()) dropped.push({ ca, reason: `expired on ${ca.notAfter.toISOString()}` });
    else carried = { pem, ca };
  }
  const pems = [fresh, ...(carried === undefined ? [] : [carried.pem])];
  return { caCertPem: pems.join(''), ...(carried === undefined ? {} : { carried: carried.ca }), dropped };
}
