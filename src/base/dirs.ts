/**
 * `mkdir -p` with a bounded walk. Node's recursive mkdir retries a parent forever when the kernel
 * answers ENOENT for a directory whose parent exists (pseudo filesystems: /proc, some /sys
 * paths), so a flag pointing there would hang the command past its own deadline. Here each
 * component is looked at once, and every failure names the path and says what is wrong.
 */
import { lstat, mkdir, stat } from './fs.js';
import path from 'node:path';
import { raceSignal } from './abort.js';
import { CamelOciError } from './errors.js';
import type { ErrorCode } from './errors.js';

/** Components walked at most: PATH_MAX (4096 bytes) holds at most 2048 one-letter components. */
export const MAX_PATH_COMPONENTS = 2048;

/** Options of {@link makeDirectories}. */
export interface MakeDirectoriesOptions {
  /** What the directory is, for messages: `--root`, `--out`. */
  readonly what: string;
  /** Mode of the directories created (filtered by the umask, as mkdir's). */
  readonly mode?: number;
  /** Stops the walk (the caller's deadline); the rejection is the signal's reason. */
  readonly signal?: AbortSignal;
  /** Code of the errors thrown: IO_ERROR unless the caller says the path is configuration. */
  readonly code?: ErrorCode;
}

/** Creates `dir` and its missing parents, as `mkdir -p`, in at most one step per path component. */
export async function makeDirectories(dir: string, options: MakeDirectoriesOptions): Promise<void> {
  const code = options.code ?? 'IO_ERROR';
  const target = path.resolve(dir);
  const fail = (at: string, why: string): CamelOciError =>
    new CamelOciError(code, `${options.what} ${dir}: cannot create ${at === target ? 'it' : at}: ${why}`, { context: { path: at } });
  const parts = target.split(path.sep).filter((p) => p !== '');
  if (parts.length > MAX_PATH_COMPONENTS) throw fail(target, `more than ${MAX_PATH_COMPONENTS} path components`);
  const step = <T>(work: Promise<T>): Promise<T> => (options.signal ? raceSignal(work, options.signal) : work);
  // Usually it is there (a pod's volume): one stat, not one per component.
  if ((await step(stat(target)).catch(() => undefined))?.isDirectory()) return;
  let current = path.parse(target).root;
  for (const part of parts) {
    options.signal?.throwIfAborted();
    current = path.join(current, part);
    const existing = await step(stat(current)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      if (err.code === 'ENOTDIR') throw fail(current, 'a parent is not a directory');
      throw fail(current, String(err.code ?? err.message));
    });
    if (existing !== undefined) {
      if (!existing.isDirectory()) throw fail(current, 'it exists and is not a directory');
      continue;
    }
    try {
      await step(mkdir(current, options.mode));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EEXIST') {
        // stat said ENOENT: a dangling symbolic link, or a directory made by someone else meanwhile.
        const link = await step(lstat(current)).catch(() => undefined);
        if (link?.isSymbolicLink()) throw fail(current, 'it is a symbolic link to a missing target');
        if ((await step(stat(current)).catch(() => undefined))?.isDirectory()) continue;
        throw fail(current, 'it exists and is not a directory');
      }
      if (e.code === 'ENOENT')
        throw fail(current, 'its parent exists but refuses new entries (a pseudo filesystem such as /proc or /sys?)');
      throw fail(current, String(e.code ?? e.message));
    }
  }
}
