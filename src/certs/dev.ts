/**
 * The development default of `camel-oci serve` without certificate flags: a local CA and a
 * certificate for the loopback names, kept in a directory and reused while still good.
 */
import { X509Certificate } from 'node:crypto';
import { ServeError } from '../base/errors.js';
import { bundlePaths, readCertBundle, writeCertBundle } from './bundle.js';
import { DEFAULT_MIN_REMAINING_MS, checkCertBundle } from './inspect.js';
import { splitPemCertificates } from '../base/pem.js';
import { generateCa, issueCert } from './x509.js';

/** DNS names of the development certificate. */
export const DEV_DNS_NAMES: readonly string[] = ['localhost'];
/** IP addresses of the development certificate. */
export const DEV_IP_ADDRESSES: readonly string[] = ['127.0.0.1', '::1'];
/** Validity of a development CA and certificate: long enough not to nag, short enough not to matter if leaked. */
export const DEV_VALIDITY_DAYS = 90;
/** Common name of the development CA, so a person who finds it in a trust store knows where it came from. */
export const DEV_CA_COMMON_NAME = 'camel-oci development CA';

/** Where the development certificate lives, and whether this call generated it. */
export interface DevCerts {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  readonly generated: boolean;
  readonly notAfter: Date;
  /** Why new certificates were generated (absent when reused). */
  readonly reason?: string;
}

/**
 * Returns usable development certificates in `dir`: the existing ca.crt/tls.crt/tls.key when they
 * chain, match, cover localhost and 127.0.0.1 and stay valid for 7 more days; otherwise a new
 * development CA and a certificate for localhost, 127.0.0.1 and ::1. Only a bundle made here (its CA
 * is the development CA) or an unreadable one is ever replaced: certificates `camel-oci certs` wrote
 * for a Service in the same directory are refused with CONFIG_INVALID, not overwritten.
 */
export async function ensureDevCerts(dir: string, options: { now?: Date } = {}): Promise<DevCerts> {
  const p = bundlePaths(dir);
  const now = options.now ?? new Date();
  const existing = await readCertBundle(p.dir);
  let reason = `no certificates in ${p.dir}`;
  if (existing !== undefined) {
    const check = checkCertBundle(existing, {
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      minRemainingMs: DEFAULT_MIN_REMAINING_MS,
      now,
    });
    if (check.ok) return { certFile: p.certFile, keyFile: p.keyFile, caFile: p.caFile, generated: false, notAfter: check.notAfter };
    const owner = caSubject(existing.caCertPem);
    if (owner !== undefined && owner !== `CN=${DEV_CA_COMMON_NAME}`) {
      throw new ServeError(
        'CONFIG_INVALID',
        `${p.dir} holds certificates from another CA (${owner}) that are not usable for local serving (${check.reason}); ` +
          'pass the certificate files explicitly, or choose another directory for the development certificate',
        { context: { dir: p.dir } },
      );
    }
    reason = check.reason;
  }
  const ca = await generateCa({ commonName: DEV_CA_COMMON_NAME, validityDays: DEV_VALIDITY_DAYS, now });
  const bundle = await issueCert(ca, {
    commonName: 'localhost',
    dnsNames: DEV_DNS_NAMES,
    ipAddresses: DEV_IP_ADDRESSES,
    validityDays: DEV_VALIDITY_DAYS,
    now,
  });
  // force: the bundle there (if any) just failed the check above.
  await writeCertBundle(p.dir, bundle, { force: true, now });
  const written = checkCertBundle(bundle, { minRemainingMs: 0, now });
  if (!written.ok) throw new ServeError('INTERNAL', `generated development certificate is unusable: ${written.reason}`);
  return { certFile: p.certFile, keyFile: p.keyFile, caFile: p.caFile, generated: true, notAfter: written.notAfter, reason };
}

/** The (first) CA certificate's subject, or undefined when it does not parse (then the bundle is junk and may be replaced). */
function caSubject(pem: string): string | undefined {
  try {
    return new X509Certificate(splitPemCertificates(pem)[0] ?? '').subject;
  } catch {
    return undefined;
  }
}
