/** `camel-oci certs`'s configuration. */
import { CamelOciError } from '../base/errors.js';
import { MAX_VALIDITY_DAYS } from './defaults.js';
import type { ParsedFlags } from './flags.js';
import { booleanFlag, deepFreeze, listFlag, parseCount, requiredStringFlag } from './flags.js';

/** Everything `certs` runs with (the shape certsCommand takes). */
export interface CertsConfig {
  readonly service: string;
  readonly namespace: string;
  readonly out: string;
  readonly validityDays: number;
  readonly force: boolean;
  readonly extraDnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/** Loads and validates `certs`' configuration (names and addresses are checked when the certificate is made). */
export function loadCertsConfig(flags: ParsedFlags): CertsConfig {
  if (flags.positionals.length > 0)
    throw new CamelOciError('CONFIG_INVALID', `camel-oci certs takes no arguments (got ${flags.positionals.join(' ')})`);
  const out = requiredStringFlag(flags, 'out');
  // An empty value would write private keys into the working directory: name the directory.
  if (out.trim() === '') throw new CamelOciError('CONFIG_INVALID', '--out: empty; name the directory to write the certificates to');
  return deepFreeze({
    service: requiredStringFlag(flags, 'service'),
    namespace: requiredStringFlag(flags, 'namespace'),
    out,
    validityDays: parseCount(requiredStringFlag(flags, 'validity-days'), 'validity-days', MAX_VALIDITY_DAYS),
    force: booleanFlag(flags, 'force'),
    extraDnsNames: [...listFlag(flags, 'dns-name')],
    ipAddresses: [...listFlag(flags, 'ip-address')],
  });
}
