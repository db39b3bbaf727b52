/** Parses argv with a command's own table, as the CLI does, for the loader tests. */
import assert from 'node:assert/strict';
import { COMMANDS } from '../../src/commands/registry.js';
import { parseFlags } from '../../src/config/flags.js';
import type { ParsedFlags } from '../../src/config/flags.js';

/** The environment a loader test passes: variables by name. */
export type Env = Record<string, string | undefined>;

/** Parses `argv` for `command` with its flag table and its own rule on `CAMEL_OCI_*` variables. */
export function flagsOf(command: string, argv: readonly string[] = [], env: Env = {}): ParsedFlags {
  const c = COMMANDS[command];
  assert.ok(c, `no command ${command}`);
  return parseFlags(command, c.flags, argv, env, c.env);
}

/** Asserts that `fn` throws CONFIG_INVALID with a message matching `message`. */
export function assertConfigInvalid(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    const e = err as { code?: string; message?: string };
    assert.equal(e.code, 'CONFIG_INVALID', String(e.message));
    assert.match(String(e.message), message);
    return true;
  });
}

/** Asserts that a loaded config is frozen all the way down: no field of it can be changed. */
export function assertDeepFrozen(value: unknown, where = 'config'): void {
  if (value === null || typeof value !== 'object') return;
  assert.ok(Object.isFrozen(value), `${where} is frozen`);
  for (const [k, v] of Object.entries(value)) assertDeepFrozen(v, `${where}.${k}`);
}
