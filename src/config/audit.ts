/** `camel-oci audit`'s configuration. */
import { CamelOciError } from '../base/errors.js';
import { parsePlatform } from '../oci/manifest.js';
import type { ParsedFlags } from './flags.js';
import { booleanFlag, deepFreeze, parseDuration, requiredStringFlag, stringFlag } from './flags.js';
import { loadRegistryConfig, type ResolverConfig } from './registry.js';

/** A namespace name (RFC 1123 label). */
export const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Everything `audit` runs with. */
export interface AuditConfig {
  /** `-n`; undefined: the kubeconfig context's namespace (or all of them with `-A`). */
  readonly namespace: string | undefined;
  readonly all: boolean;
  readonly output: 'table' | 'json';
  readonly checkTags: boolean;
  readonly requestTimeoutMs: number;
  readonly timeoutMs: number;
  /**
   * The resolver of `--check-tags`: each tag asked once and answered by the registry now, so no
   * reuse and never a stale answer.
   */
  readonly resolver: ResolverConfig;
}

/** Loads and validates `audit`'s configuration. Throws CONFIG_INVALID naming the flag. */
export function loadAuditConfig(flags: ParsedFlags): AuditConfig {
  if (flags.positionals.length > 0) {
    throw new CamelOciError(
      'CONFIG_INVALID',
      `camel-oci audit takes no arguments (got ${JSON.stringify(flags.positionals[0]!.slice(0, 40))}): use -n NAMESPACE or -A`,
    );
  }
  const namespace = stringFlag(flags, 'namespace');
  const all = booleanFlag(flags, 'all-namespaces');
  if (namespace !== undefined && all) throw new CamelOciError('CONFIG_INVALID', 'camel-oci audit: give -n NAMESPACE or -A, not both');
  if (namespace !== undefined && !NAMESPACE_NAME.test(namespace)) {
    throw new CamelOciError(
      'CONFIG_INVALID',
      `-n: ${JSON.stringify(namespace.slice(0, 70))} is not a namespace name (lowercase letters, digits and -, at most 63)`,
    );
  }
  const output = requiredStringFlag(flags, 'output');
  if (output !== 'table' && output !== 'json') {
    throw new CamelOciError('CONFIG_INVALID', `-o: ${JSON.stringify(output.slice(0, 20))} is not an output format: table or json`);
  }
  const checkTags = booleanFlag(flags, 'check-tags');
  const platform = requiredStringFlag(flags, 'platform');
  if (checkTags) parsePlatform(platform);
  return deepFreeze({
    namespace,
    all,
    output,
    checkTags,
    requestTimeoutMs: parseDuration(requiredStringFlag(flags, 'request-timeout'), 'request-timeout'),
    timeoutMs: parseDuration(requiredStringFlag(flags, 'timeout'), 'timeout'),
    resolver: { ...loadRegistryConfig(flags), platform, tagTtlMs: 0, staleGraceMs: 0 },
  });
}
