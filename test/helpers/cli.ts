/** Runs the built `camel-oci` (dist/cli.js) as a child process, as users and the acceptance checks do. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './fixtures.js';

/** Path of the built CLI. */
export const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

/** Environment every CLI child starts from. */
const CHILD_ENV_DEFAULTS: Readonly<Record<string, string>> = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/tmp',
};

/**
 * Arguments of `camel-oci fetch` into `root` from the plain registry `host` on loopback (insecure-
 * and allow-listed, as the webhook hands it on), with no pull secrets (a missing directory under
 * `scratch`), then `extra`.
 */
export function fetchArgv(root: string, scratch: string, host: string, extra: readonly string[] = []): string[] {
  return [
    'fetch',
    '--root',
    root,
    '--pull-secrets-dir',
    path.join(scratch, 'none'),
    '--insecure-registry',
    host,
    '--allow-registry',
    host,
    ...extra,
  ];
}

/** Result of a finished CLI run. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to completion (bounded by `timeoutMs`), feeding `input` to stdin. */
export function runCli(
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...CHILD_ENV_DEFAULTS, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`camel-oci ${args.join(' ')} did not finish in ${options.timeoutMs ?? 60_000} ms\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A long-running CLI process (serve) with its output so far. */
export interface CliProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Sends SIGTERM by PID and waits for the exit (SIGKILL after a grace period). */
  stop(): Promise<number | null>;
}

/** Starts the CLI in the background. */
export function startCli(args: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...CHILD_ENV_DEFAULTS, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 5_000);
      const code = await exited;
      clearTimeout(timer);
      process.off('exit', kill);
      return code;
    },
  };
}
