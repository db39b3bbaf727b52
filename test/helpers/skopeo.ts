/** Pushes OCI layouts into the test registry with skopeo (1.9), byte for byte (`--preserve-digests`). */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { StartedRegistry } from './registry.js';

/** Bound on one skopeo run; pushing a small artifact takes well under a second. */
export const SKOPEO_TIMEOUT_MS = 60_000;
/** Bytes of skopeo output kept (stdout and stderr each). */
const SKOPEO_MAX_BUFFER = 4 * 1024 * 1024;

/** What skopeo printed. */
export interface SkopeoResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of pushLayout. */
export interface PushOptions {
  /** Copy every manifest of an index (`--all`); without it skopeo picks one platform. */
  readonly all?: boolean;
  /** Push as this user ('basic', 'token'); default the registry's first user. */
  readonly user?: string;
  /** Push without credentials even where the registry has users. */
  readonly anonymous?: boolean;
  readonly timeoutMs?: number;
}

/**
 * Runs skopeo with the given arguments (`--insecure-policy` is added, so no policy.json is read)
 * and a private, empty auth file, so no credentials of the machine are ever used. Throws with
 * skopeo's stderr on a non-zero exit or timeout.
 */
export async function runSkopeo(args: readonly string[], timeoutMs = SKOPEO_TIMEOUT_MS): Promise<SkopeoResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-skopeo-'));
  try {
    const authFile = path.join(dir, 'auth.json');
    await writeFile(authFile, JSON.stringify({ auths: {} }));
    const fullArgs = ['--insecure-policy', ...args];
    return await new Promise<SkopeoResult>((resolve, reject) => {
      execFile(
        'skopeo',
        fullArgs,
        {
          timeout: timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: SKOPEO_MAX_BUFFER,
          env: { ...process.env, REGISTRY_AUTH_FILE: authFile, HOME: dir },
        },
        (err, stdout, stderr) => {
          if (err === null) {
            resolve({ stdout, stderr });
            return;
          }
          const why = err.killed ? `timed out after ${timeoutMs} ms` : `exited with ${err.code ?? err.signal}`;
          reject(new Error(`skopeo ${fullArgs.join(' ')} ${why}:\n${stderr.trim() || stdout.trim()}`, { cause: err }));
        },
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** skopeo flags that reach `registry` as a destination (`dest`) or source (`src`): TLS and credentials. */
export function registryFlags(
  registry: StartedRegistry,
  side: 'dest' | 'src',
  options: { user?: string; anonymous?: boolean } = {},
): string[] {
  const flags: string[] = [];
  if (registry.mode === 'plain') flags.push(`--${side}-tls-verify=false`);
  else if (registry.certDir !== undefined) flags.push(`--${side}-tls-verify=true`, `--${side}-cert-dir`, registry.certDir);
  if ((registry.mode === 'basic' || registry.mode === 'token') && options.anonymous !== true) {
    const user = options.user ?? Object.keys(registry.users)[0];
    const password = user === undefined ? undefined : registry.users[user];
    if (user === undefined || password === undefined) throw new Error(`registry has no user ${options.user ?? '(none)'}`);
    flags.push(`--${side}-creds`, `${user}:${password}`);
  }
  return flags;
}

/**
 * Copies `oci:<layoutDir>:<layoutTag>` to `docker://<registry.host>/<repoAndTag>` with
 * `--preserve-digests`, so the registry serves the layout's exact manifest bytes.
 */
export async function pushLayout(
  layoutDir: string,
  layoutTag: string,
  registry: StartedRegistry,
  repoAndTag: string,
  options: PushOptions = {},
): Promise<SkopeoResult> {
  const args = [
    'copy',
    '--preserve-digests',
    ...(options.all === true ? ['--all'] : []),
    ...registryFlags(registry, 'dest', options),
    `oci:${layoutDir}:${layoutTag}`,
    `docker://${registry.host}/${repoAndTag}`,
  ];
  return runSkopeo(args, options.timeoutMs);
}
