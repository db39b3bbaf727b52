/** The `camel-oci` command: parses argv and env once and hands them to a subcommand (the entry point is cli.ts). */
import { version } from './base/version.js';
import { asCamelOciError, exitStatusOf } from './base/errors.js';
import { envName, parseFlags } from './config/flags.js';
import type { FlagTable, ParsedFlags } from './config/flags.js';
import { processIO } from './commands/io.js';
import type { CommandIO } from './commands/io.js';
import { COMMANDS } from './commands/registry.js';

function usage(): string {
  const lines = ['usage: camel-oci <command> [flags]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(9)} ${c.summary}`);
  lines.push('', 'camel-oci <command> --help shows its flags; camel-oci --version prints the version.');
  return lines.join('\n');
}

function commandHelp(name: string, usageLine: string, table: FlagTable, usesEnv: boolean): string {
  const lines = [`usage: camel-oci ${name} ${usageLine}`, '', 'flags:'];
  for (const [flag, spec] of Object.entries(table)) {
    const def =
      spec.default === undefined || (Array.isArray(spec.default) && spec.default.length === 0) ? '' : ` (default ${String(spec.default)})`;
    const env = usesEnv && !spec.noEnv ? ` [$${envName(flag)}]` : '';
    const short = spec.short === undefined ? '' : `, -${spec.short}`;
    lines.push(`  --${flag}${short}${spec.type === 'boolean' ? '' : spec.type === 'list' ? ' VALUE,...' : ' VALUE'}`);
    lines.push(`      ${spec.description}${def}${env}`);
  }
  return lines.join('\n');
}

/** True when a command's arguments ask for its help instead of running it. */
export function asksForHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

/** Runs the CLI with the given argv (without node and script) and env; returns the exit code. */
export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CommandIO = processIO,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    io.stdout(version());
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`camel-oci: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  if (asksForHelp(rest)) {
    io.stdout(commandHelp(name, command.usage, command.flags, command.env));
    return 0;
  }
  let flags: ParsedFlags;
  try {
    flags = parseFlags(name, command.flags, rest, env, command.env);
  } catch (err) {
    const e = asCamelOciError(err);
    io.stderr(`camel-oci: ${e.code}: ${e.message}`);
    return 2;
  }
  try {
    return await command.run(flags, io, env);
  } catch (err) {
    const e = asCamelOciError(err);
    io.stderr(`camel-oci ${name}: ${e.code}: ${e.message}`);
    return exitStatusOf(e);
  }
}
