/** The subcommands of `camel-oci`, by name. */
import type { FlagTable, ParsedFlags } from '../config.js';
import type { CommandIO } from './io.js';
import { RESOLVE_FLAGS, runResolve } from './resolve.js';

/** One subcommand. */
export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly flags: FlagTable;
  /** Whether flags also read `CAMEL_OCI_*` variables (serve and fetch, per DESIGN.md). */
  readonly env: boolean;
  run(flags: ParsedFlags, io: CommandIO, env: Readonly<Record<string, string | undefined>>): Promise<number>;
}

/** All subcommands. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  resolve: {
    summary: 'resolve references; print the pinned digest and selected layers',
    usage: 'REF... [--json] [--platform os/arch] [--registry-config FILE] [--insecure-registry HOST] [--allow-registry HOST] [--ca-file FILE]',
    flags: RESOLVE_FLAGS,
    env: false,
    run: (flags, io) => runResolve(flags, io),
  },
};
