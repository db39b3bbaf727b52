/** `camel-oci fetch`'s configuration: the init container's flags and `CAMEL_OCI_*` variables, validated once. */
import path from 'node:path';
import { inlineCaCertificates } from '../fetch/ca.js';
import { DEFAULT_UNPACK_LIMITS } from '../fetch/limits.js';
import type { UnpackLimits } from '../fetch/limits.js';
import { ENV_PLAN } from '../plan/env.js';
import { MAX_PARALLEL } from './defaults.js';
import type { ParsedFlags } from './flags.js';
import { deepFreeze, parseCount, parseDuration, parseSize, requiredStringFlag, stringFlag } from './flags.js';
import type { RegistryConfig } from './registry.js';
import { loadRegistryConfig } from './registry.js';

/** What a run needs before anything else: its deadline, and where a failure is reported. */
export interface FetchRunConfig {
  /** `--timeout` in milliseconds. */
  readonly timeoutMs: number;
  /** `--termination-log`: where the failure message goes for the kubelet. */
  readonly terminationLog: string;
}

/** Everything `fetch` runs with. */
export interface FetchConfig extends FetchRunConfig {
  /** `--root`, absolute. */
  readonly root: string;
  /** `--plan`: a file holding the plan, instead of the plan text in `CAMEL_OCI_PLAN`. */
  readonly planFile: string | undefined;
  /** The plan text of `CAMEL_OCI_PLAN` (checked when the plan is loaded). */
  readonly planText: string | undefined;
  /** `--parallel`: layers downloaded at once. */
  readonly parallel: number;
  /** `--pull-secrets-dir`: the projected pull secrets. */
  readonly pullSecretsDir: string;
  /** The unpack limits, with `--max-unpacked-bytes`, `--max-files` and `--max-layer-bytes`. */
  readonly limits: UnpackLimits;
  /** The certificates of `--ca-pem` / `CAMEL_OCI_CA_PEM`, canonical PEM (empty when not given). */
  readonly caPems: readonly string[];
  readonly registry: RegistryConfig;
}

/**
 * Loads the run's deadline and failure report. Separate from {@link loadFetchConfig} because a bad
 * `--timeout` is a usage error (exit 2), while every other bad setting, such as a `CAMEL_OCI_CA_PEM`
 * the webhook wrote, is a failed run: reported on stdout and in the termination log (exit 1).
 */
export function loadFetchRunConfig(flags: ParsedFlags): FetchRunConfig {
  return deepFreeze({
    timeoutMs: parseDuration(requiredStringFlag(flags, 'timeout'), 'timeout'),
    terminationLog: requiredStringFlag(flags, 'termination-log'),
  });
}

/** Loads and validates `fetch`'s configuration; `env` gives the plan text (`CAMEL_OCI_PLAN`). Throws CONFIG_INVALID naming the flag. */
export function loadFetchConfig(flags: ParsedFlags, env: Readonly<Record<string, string | undefined>>): FetchConfig {
  const run = loadFetchRunConfig(flags);
  const limits: UnpackLimits = {
    ...DEFAULT_UNPACK_LIMITS,
    maxUnpackedBytes: parseSize(requiredStringFlag(flags, 'max-unpacked-bytes'), 'max-unpacked-bytes'),
    maxFiles: parseCount(requiredStringFlag(flags, 'max-files'), 'max-files'),
    maxLayerBytes: parseSize(requiredStringFlag(flags, 'max-layer-bytes'), 'max-layer-bytes'),
  };
  const caPem = stringFlag(flags, 'ca-pem');
  return deepFreeze({
    ...run,
    root: path.resolve(requiredStringFlag(flags, 'root')),
    planFile: stringFlag(flags, 'plan'),
    planText: env[ENV_PLAN],
    parallel: parseCount(requiredStringFlag(flags, 'parallel'), 'parallel', MAX_PARALLEL),
    pullSecretsDir: requiredStringFlag(flags, 'pull-secrets-dir'),
    limits,
    caPems: caPem === undefined ? [] : inlineCaCertificates(caPem),
    registry: loadRegistryConfig(flags),
  });
}
