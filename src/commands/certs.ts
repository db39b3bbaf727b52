/** `camel-oci certs`: a CA and serving certificate for the webhook Service, and the kustomize pieces. */
import { CamelOciError } from '../errors.js';
import { parseCount } from '../config.js';
import type { FlagTable, ParsedFlags } from '../config.js';
import { certsCommand, DEFAULT_NAMESPACE, DEFAULT_OUT_DIR, DEFAULT_SERVICE, DEFAULT_VALIDITY_DAYS } from '../certs/command.js';
import type { CommandIO } from './io.js';

/** Flags of `certs`. */
export const CERTS_FLAGS: FlagTable = {
  service: { type: 'string', default: DEFAULT_SERVICE, description: 'webhook Service name' },
  namespace: { type: 'string', default: DEFAULT_NAMESPACE, description: 'namespace of the Service' },
  out: { type: 'string', default: DEFAULT_OUT_DIR, description: 'directory to write ca.crt, tls.crt, tls.key, caBundle and the kustomize pieces' },
  'validity-days': { type: 'string', default: String(DEFAULT_VALIDITY_DAYS), description: 'validity of the CA and certificate' },
  'dns-name': { type: 'list', description: 'extra DNS names in the serving certificate' },
  'ip-address': { type: 'list', description: 'IP addresses in the serving certificate' },
  force: { type: 'boolean', description: 'replace a bundle that is still valid' },
};

/** Runs `certs`; returns the exit code. */
export async function runCerts(flags: ParsedFlags, io: CommandIO): Promise<number> {
  const v = flags.values;
  if (flags.positionals.length > 0) throw new CamelOciError('CONFIG_INVALID', `camel-oci certs takes no arguments (got ${flags.positionals.join(' ')})`);
  await certsCommand(
    {
      service: v.service as string,
      namespace: v.namespace as string,
      out: v.out as string,
      validityDays: parseCount(v['validity-days'] as string, 'validity-days', 3650),
      force: v.force as boolean,
      extraDnsNames: v['dns-name'] as string[],
      ipAddresses: v['ip-address'] as string[],
    },
    { log: (line) => io.stdout(line) },
  );
  return 0;
}
