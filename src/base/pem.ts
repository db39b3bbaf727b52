/**
 * PEM certificate text (RFC 7468): the one strict reading of CA certificates that come from
 * operators (`--ca-file`, `--ca-pem`) and go into the init container's env.
 */
import { X509Certificate } from 'node:crypto';
import { CamelOciError } from './errors.js';

/** The line that opens a certificate block. */
export const PEM_CERTIFICATE_BEGIN = '-----BEGIN CERTIFICATE-----';

/** One certificate block, strictly: its body is base64 and white space only (so a block never swallows the next BEGIN). */
const CERTIFICATE_BLOCK = '-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\\s]*-----END CERTIFICATE-----';
const CERTIFICATE_BLOCKS = new RegExp(CERTIFICATE_BLOCK, 'g');
/**
 * Certificate blocks and white space, nothing else: at least one block, each with a non-empty body.
 * Linear: the base64 class excludes `-`, so each block's body ends at its END line.
 */
const CERTIFICATES_ONLY = /^(?:\s*-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----)+\s*$/;

/**
 * True when `text` is one or more PEM certificate blocks and white space, nothing else. The pod
 * spec is readable by anyone who can read the pod, so a private key bundled into a CA file (or any
 * other text) must never ride along into the init container's env.
 */
export function isCertificatesOnly(text: string): boolean {
  return CERTIFICATES_ONLY.test(text);
}

/**
 * Returns the certificates of PEM text, each re-encoded canonically (64-column base64, `\n`
 * endings). Strict: at least one, every BEGIN CERTIFICATE line has its END, and each block is a
 * valid X.509 certificate; other PEM blocks (keys) and text around blocks are left out. Throws
 * CONFIG_INVALID naming `source`.
 */
export function certificatesOf(text: string, source: string): string[] {
  const blocks = text.match(CERTIFICATE_BLOCKS) ?? [];
  const begins = text.split(PEM_CERTIFICATE_BEGIN).length - 1;
  if (begins === 0) throw new CamelOciError('CONFIG_INVALID', `${source}: no PEM certificate in it (no ${PEM_CERTIFICATE_BEGIN} line)`);
  if (blocks.length !== begins) {
    throw new CamelOciError(
      'CONFIG_INVALID',
      `${source}: ${begins - blocks.length} of its ${begins} certificate blocks are not well formed (a missing END line, or text that is not base64)`,
    );
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block).toString();
    } catch {
      throw new CamelOciError('CONFIG_INVALID', `${source}: certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate`);
    }
  });
}

/** A CERTIFICATE block as RFC 7468 section 2 frames it, body unchecked; text around blocks is ignored, as Go and OpenSSL do. */
const FRAMED_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Splits PEM text into its CERTIFICATE blocks, each with LF line ends and one trailing newline.
 * Lenient, for bundles camel-oci wrote itself (ca.crt across a rotation): each block's body is
 * checked by whoever parses it as X.509. Text from operators goes through {@link certificatesOf}.
 */
export function splitPemCertificates(pem: string): string[] {
  return [...pem.matchAll(FRAMED_CERTIFICATE)].map((m) => `${m[0].replace(/\r\n/g, '\n').trimEnd()}\n`);
}
