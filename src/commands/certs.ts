/** `camel-oci certs`: a CA and serving certificate for the webhook Service, and the kustomize pieces. */
import { CamelOciError } from '../base/errors.js';
import { parseCount } from '../config.js';
import type { ParsedFlags } from '../config.js';
import { certsCommand } from '../certs/command.js';
import type { CommandIO } from './io.js';


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
