/** `camel-oci certs`: a CA and serving certificate for the webhook Service, and the kustomize pieces. */
import { loadCertsConfig } from '../config/certs.js';
import type { ParsedFlags } from '../config/flags.js';
import { certsCommand } from '../certs/command.js';
import type { CommandIO } from './io.js';

/** Runs `certs`; returns the exit code. */
export async function runCerts(flags: ParsedFlags, io: CommandIO): Promise<number> {
  await certsCommand(loadCertsConfig(flags), { log: (line) => io.stdout(line) });
  return 0;
}
