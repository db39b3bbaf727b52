/** The CA certificates the webhook hands the init container in its env (`--ca-pem` / `CAMEL_OCI_CA_PEM`). */
import { CamelOciError } from '../base/errors.js';
import { certificatesOf } from '../base/pem.js';
import { ENV_CA_PEM, MAX_CA_PEM_BYTES } from '../plan/env.js';

/**
 * The CA certificates of `--ca-pem` / `CAMEL_OCI_CA_PEM` (the webhook's `--ca-file` CAs, handed
 * over in the init container's env): bounded, well-formed certificates only.
 */
export function inlineCaCertificates(text: string): string[] {
  const source = `--ca-pem (${ENV_CA_PEM})`;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CA_PEM_BYTES)
    throw new CamelOciError('CONFIG_INVALID', `${source}: ${bytes} bytes, more than the ${MAX_CA_PEM_BYTES} accepted`);
  return certificatesOf(text, source);
}
