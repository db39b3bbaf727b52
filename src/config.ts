/**
 * Command-line configuration: flags and their `CAMEL_OCI_*` environment variables, parsed once
 * into typed, frozen objects. Only the CLI entry point reads `process.env` and `process.argv`
 * and hands them here.
 */
import { parseArgs } from 'node:util';
import { CamelOciError } from './base/errors.js';

/** How one flag is read. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean' | 'list';
  readonly short?: string;
  readonly default?: string | boolean | readonly string[];
  /** No environment variable (for flags whose variable means something else, like `--plan`). */
  readonly noEnv?: boolean;
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
      else if (fromEnv !== undefined) values[name] = /^(1|true|yes|on)$/i.test(fromEnv.trim());
      else values[name] = (spec.default as boolean | undefined) ?? false;
    } else {
      values[name] = (raw as string | undefined) ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : (spec.default as string | undefined));
    }
  }
  return Object.freeze({ values: Object.freeze(values), positionals: Object.freeze([...parsed.positionals]) });
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

/** The registry flags shared by resolve, serve, inject and fetch. */
export const REGISTRY_FLAGS: FlagTable = {
  'registry-config': { type: 'list', description: 'docker config JSON (.dockerconfigjson) with registry credentials; repeatable' },
  'insecure-registry': { type: 'list', description: 'host[:port] spoken to over plain HTTP (a host named exactly may also be at a private or loopback address); repeatable or comma separated' },
  'allow-registry': {
    type: 'list',
    description: 'only these registries (host, host:port, *.domain) are allowed; also allows them at private/loopback addresses',
  },
  'ca-file': { type: 'list', description: 'extra PEM CA bundle trusted for registry TLS; repeatable' },
};

/** Flags of the resolver (resolve, serve, inject). */
export const RESOLVER_FLAGS: FlagTable = {
  ...REGISTRY_FLAGS,
  platform: { type: 'string', default: 'linux/amd64', description: 'os/arch[/variant] chosen from an index' },
  'tag-ttl': { type: 'string', default: '60s', description: 'how long a tag resolution is reused' },
  'stale-grace': { type: 'string', default: '10m', description: 'how long a previous tag resolution may be used when the registry fails' },
};
