/**
 * The flag parser: argv and `CAMEL_OCI_*` environment variables into raw values by flag name, and
 * the value syntaxes (durations, sizes, counts). The per-command loaders beside this module turn
 * the raw values into typed, validated, frozen objects; only the CLI entry point reads
 * `process.env` and `process.argv` and hands them here.
 */
import { parseArgs } from 'node:util';
import { CamelOciError } from '../base/errors.js';

/** How one flag is read. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean' | 'list';
  readonly short?: string;
  readonly default?: string | boolean | readonly string[];
  /** No environment variable (for flags whose variable means something else, like `--plan`). */
  readonly noEnv?: boolean;
  /** What the README's variable column says for a `noEnv` flag (why there is none). */
  readonly envNote?: string;
  readonly description: string;
}

/** A command's flags by long name. */
export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** Parsed values: strings, booleans and lists by flag name, plus positionals. */
export interface ParsedFlags {
  readonly values: Readonly<Record<string, string | boolean | readonly string[] | undefined>>;
  readonly positionals: readonly string[];
}

/** `--insecure-registry` ↔ `CAMEL_OCI_INSECURE_REGISTRY`. */
export function envName(flag: string): string {
  return `CAMEL_OCI_${flag.replace(/-/g, '_').toUpperCase()}`;
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Parses argv for a command. Precedence: flag, then environment variable (when `useEnv`), then
 * default. Lists accept repeated flags and comma-separated values.
 */
export function parseFlags(
  command: string,
  table: FlagTable,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  useEnv: boolean,
): ParsedFlags {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(table)) {
    options[name] = {
      type: spec.type === 'boolean' ? 'boolean' : 'string',
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.type === 'list' ? { multiple: true } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CamelOciError('CONFIG_INVALID', `camel-oci ${command}: ${(err as Error).message}; see camel-oci ${command} --help`);
  }
  const values: Record<string, string | boolean | readonly string[] | undefined> = {};
  for (const [name, spec] of Object.entries(table)) {
    const raw = (parsed.values as Record<string, unknown>)[name];
    const fromEnv = useEnv && !spec.noEnv ? env[envName(name)] : undefined;
    if (spec.type === 'list') {
      const list = raw !== undefined ? (raw as string[]).flatMap(splitList) : fromEnv !== undefined ? splitList(fromEnv) : undefined;
      values[name] = Object.freeze(list ?? [...((spec.default as readonly string[] | undefined) ?? [])]);
    } else if (spec.type === 'boolean') {
      if (raw !== undefined) values[name] = raw as boolean;
      else if (fromEnv !== undefined && fromEnv.trim() !== '') values[name] = envBoolean(fromEnv, name);
      else values[name] = (spec.default as boolean | undefined) ?? false;
    } else {
      values[name] =
        (raw as string | undefined) ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : (spec.default as string | undefined));
    }
  }
  return Object.freeze({ values: Object.freeze(values), positionals: Object.freeze([...parsed.positionals]) });
}

/**
 * A boolean flag's environment value: true for 1, true, yes or on, false for 0, false, no or off
 * (any case); anything else is CONFIG_INVALID naming the variable, not a silent false.
 */
function envBoolean(text: string, flag: string): boolean {
  const value = text.trim().toLowerCase();
  if (/^(1|true|yes|on)$/.test(value)) return true;
  if (/^(0|false|no|off)$/.test(value)) return false;
  throw new CamelOciError(
    'CONFIG_INVALID',
    `${envName(flag)}: ${JSON.stringify(text.slice(0, 40))} is not a boolean (true, false, 1, 0, yes, no, on, off)`,
  );
}

/** Parses a duration: `60s`, `1m`, `500ms`, `2h`, or plain seconds. Returns milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new CamelOciError('CONFIG_INVALID', `--${flag}: ${JSON.stringify(text)} is not a duration (like 60s, 500ms, 2m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

/** Parses a byte size: `512Mi`, `1Gi`, `100M`, or plain bytes. */
export function parseSize(text: string, flag: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(text.trim());
  if (!m) throw new CamelOciError('CONFIG_INVALID', `--${flag}: ${JSON.stringify(text)} is not a size (like 512Mi, 1Gi, or bytes)`);
  const mult = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * mult;
}

/** Parses a positive integer flag. */
export function parseCount(text: string, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || Number(text) > max) {
    throw new CamelOciError('CONFIG_INVALID', `--${flag}: ${JSON.stringify(text)} must be a whole number from 1 to ${max}`);
  }
  return Number(text);
}

const SIZE_UNITS: readonly (readonly [string, number])[] = [
  ['Gi', 1024 ** 3],
  ['Mi', 1024 ** 2],
  ['Ki', 1024],
];

/** Writes bytes as {@link parseSize} reads them, in the largest binary unit that divides them (`1Gi`, `512Mi`, `100`). */
export function formatSize(bytes: number): string {
  for (const [unit, size] of SIZE_UNITS) if (bytes > 0 && bytes % size === 0) return `${bytes / size}${unit}`;
  return String(bytes);
}

/** The raw value of a string flag (undefined when unset and without default). */
export function stringFlag(flags: ParsedFlags, name: string): string | undefined {
  const value = flags.values[name];
  if (value !== undefined && typeof value !== 'string') throw new TypeError(`flag --${name} is not a string flag`);
  return value;
}

/** The raw value of a string flag that has a default in its table. */
export function requiredStringFlag(flags: ParsedFlags, name: string): string {
  const value = stringFlag(flags, name);
  if (value === undefined) throw new TypeError(`flag --${name} has no value and no default`);
  return value;
}

/** The raw values of a list flag (empty when unset). */
export function listFlag(flags: ParsedFlags, name: string): readonly string[] {
  const value = flags.values[name];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(`flag --${name} is not a list flag`);
  return value as readonly string[];
}

/** The value of a boolean flag (false when unset). */
export function booleanFlag(flags: ParsedFlags, name: string): boolean {
  const value = flags.values[name];
  if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`flag --${name} is not a boolean flag`);
  return value ?? false;
}

/** Freezes an object and every object and array inside it, and returns it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
