/**
 * Decides whether an existing certificate bundle can still be used: parses with node:crypto (which,
 * unlike node-forge, reads any key type a user may have brought) and never touches the file system.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { splitPemCertificates } from '../base/pem.js';
import type { CertBundle } from './x509.js';

/**
 * How long a reused certificate must still be valid. A week leaves time to notice and rotate
 * before the apiserver starts refusing the webhook, and matches `ensureDevCerts`' contract.
 */
export const DEFAULT_MIN_REMAINING_MS = 7 * 24 * 60 * 60 * 1000;

/** What a bundle must satisfy to be reused. */
export interface BundleRequirements {
  /** Every one of these DNS names must be in the serving certificate's SAN. */
  readonly dnsNames?: readonly string[];
  /** Every one of these IP addresses must be in the serving certificate's SAN. */
  readonly ipAddresses?: readonly string[];
  /** The certificate and its CA must stay valid at least this long from `now`. */
  readonly minRemainingMs?: number;
  readonly now?: Date;
}

/** The verdict on a bundle: usable until `notAfter`, or not, and why (a sentence a person can act on). */
export type BundleCheck = { readonly ok: true; readonly notAfter: Date } | { readonly ok: false; readonly reason: string };

/**
 * Checks that a bundle parses, chains to its CA, has the matching key, covers the names and is not
 * about to expire. The CA is the first certificate of `caCertPem`; certificates after it (a CA kept
 * trusted across a rotation) must be CA certificates but may expire: only the first one signs.
 */
export function checkCertBundle(bundle: CertBundle, want: BundleRequirements = {}): BundleCheck {
  // ca.crt may hold, after the signing CA, the CA carried over from the previous rotation (trust.ts).
  const [caPem, ...carriedPems] = splitPemCertificates(bundle.caCertPem);
  let ca: X509Certificate;
  let cert: X509Certificate;
  try {
    ca = new X509Certificate(caPem ?? '');
  } catch {
    return { ok: false, reason: 'the CA certificate is not a readable PEM certificate' };
  }
  for (const [i, pem] of carriedPems.entries()) {
    let carried: X509Certificate | undefined;
    try {
      carried = new X509Certificate(pem);
    } catch {
      // falls through to the reason below
    }
    // The apiserver would trust whatever is there: anything but a CA certificate is a mistake.
    if (carried?.ca !== true) return { ok: false, reason: `certificate ${i + 2} of the CA bundle is not a readable CA certificate` };
  }
  try {
    cert = new X509Certificate(bundle.certPem);
  } catch {
    return { ok: false, reason: 'the serving certificate is not a readable PEM certificate' };
  }
  if (!ca.ca) return { ok: false, reason: 'the CA certificate is not a CA' };
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    return { ok: false, reason: 'the serving certificate was not signed by the CA certificate' };
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(bundle.keyPem))) {
      return { ok: false, reason: 'the private key does not belong to the serving certificate' };
    }
  } catch {
    return { ok: false, reason: 'the private key is not a readable PEM private key' };
  }
  const now = (want.now ?? new Date()).getTime();
  const until = now + (want.minRemainingMs ?? DEFAULT_MIN_REMAINING_MS);
  for (const [what, x509] of [
    ['serving certificate', cert],
    ['CA certificate', ca],
  ] as const) {
    const from = new Date(x509.validFrom).getTime();
    const to = new Date(x509.validTo).getTime();
    if (from > now) return { ok: false, reason: `the ${what} is not valid before ${x509.validFrom}` };
    const at = new Date(to).toISOString();
    if (to <= now) return { ok: false, reason: `the ${what} expired on ${at}` };
    if (to <= until) return { ok: false, reason: `the ${what} expires soon, on ${at}` };
  }
  for (const name of want.dnsNames ?? []) {
    // subject 'never': only the SAN counts, as for every TLS client the apiserver uses (Go ignores the CN).
    if (cert.checkHost(name, { subject: 'never' }) === undefined) {
      return { ok: false, reason: `the serving certificate is not valid for ${name}` };
    }
  }
  for (const ip of want.ipAddresses ?? []) {
    if (cert.checkIP(ip) === undefined) return { ok: false, reason: `the serving certificate is not valid for ${ip}` };
  }
  return { ok: true, notAfter: new Date(cert.validTo) };
}

/** The DNS names and IP addresses in a certificate's subjectAltName (IPv6 as node:crypto prints it, fully expanded). */
export function subjectAltNames(certPem: string): { dnsNames: string[]; ipAddresses: string[] } {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  // Node prints "DNS:a, IP Address:1.2.3.4" and JSON-quotes a value holding ',' or '"'.
  for (const m of san.matchAll(/([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g)) {
    const raw = m[2] ?? '';
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (m[1] === 'DNS') dnsNames.push(value);
    else if (m[1] === 'IP Address') ipAddresses.push(value);
  }
  return { dnsNames, ipAddresses };
}
