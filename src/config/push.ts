/** `camel-oci push`'s configuration. */
import { CamelOciError } from '../base/errors.js';
import { parsePlatform, type Platform } from '../oci/manifest.js';
import { parseReference, type Reference } from '../oci/reference.js';
import { MAX_PUSH_PARALLEL } from './defaults.js';
import type { ParsedFlags } from './flags.js';
import { deepFreeze, listFlag, parseCount, parseDuration, requiredStringFlag, stringFlag } from './flags.js';
import { loadRegistryConfig, type RegistryConfig } from './registry.js';

/** Everything `push` runs with. */
export interface PushConfig {
  /** Where to push: a tagged reference (no digest). */
  readonly target: Reference;
  readonly tag: string;
  readonly dependencies: readonly string[];
  readonly kamelets: readonly string[];
  /** `--oci-layout`: write this layout directory instead of pushing. */
  readonly ociLayout: string | undefined;
  /** `--mount-from`: a repository of the target's registry to mount blobs from. */
  readonly mountFrom: string | undefined;
  readonly platform: Platform;
  readonly parallel: number;
  readonly timeoutMs: number;
  readonly registry: RegistryConfig;
}

function targetOf(flags: ParsedFlags): { target: Reference; tag: string } {
  const [written, ...extra] = flags.positionals;
  if (written === undefined || extra.length > 0) {
    throw new CamelOciError(
      'CONFIG_INVALID',
      'camel-oci push: give exactly one reference to push to, e.g. camel-oci push registry.example.com/acme/deps:1.0 --dependency target/lib',
    );
  }
  const target = parseReference(written);
  if (target.digest !== undefined) {
    throw new CamelOciError(
      'CONFIG_INVALID',
      `camel-oci push ${written}: push to a tag, not a digest (the digest is what push computes and prints)`,
    );
  }
  return { target, tag: target.tag ?? 'latest' };
}

/** Checks `--mount-from`: a repository name of the target's registry (the grammar's path rules). */
function mountFromOf(target: Reference, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let parsed: Reference;
  try {
    parsed = parseReference(`${target.domain}/${value}`);
  } catch {
    parsed = { domain: '', path: '' };
  }
  if (parsed.domain !== target.domain || parsed.path !== value || parsed.tag !== undefined) {
    throw new CamelOciError(
      'CONFIG_INVALID',
      `--mount-from ${JSON.stringify(value)}: give a repository of ${target.domain} (like acme/base), without registry or tag`,
    );
  }
  return value;
}

/** Loads and validates `push`'s configuration. Throws CONFIG_INVALID (REFERENCE_INVALID for a bad reference). */
export function loadPushConfig(flags: ParsedFlags): PushConfig {
  const { target, tag } = targetOf(flags);
  return deepFreeze({
    target,
    tag,
    dependencies: [...listFlag(flags, 'dependency')],
    kamelets: [...listFlag(flags, 'kamelets')],
    ociLayout: stringFlag(flags, 'oci-layout'),
    mountFrom: mountFromOf(target, stringFlag(flags, 'mount-from')),
    platform: parsePlatform(requiredStringFlag(flags, 'platform')),
    parallel: parseCount(requiredStringFlag(flags, 'parallel'), 'parallel', MAX_PUSH_PARALLEL),
    timeoutMs: parseDuration(requiredStringFlag(flags, 'timeout'), 'timeout'),
    registry: loadRegistryConfig(flags),
  });
}
