/**
 * `rm -rf` whose memory does not grow with the number of entries. Node's recursive `rm` lists a
 * whole directory and starts an operation per entry at once: removing the staging area of a layer
 * refused after 100k files took about 180 MiB, above the init container's memory limit (an
 * entry-count bomb is refused only after its files were written). Here a directory is read through
 * a handle in small batches, at most WINDOW removals are in flight, and what is held is one handle
 * per level of depth.
 *
 * Symbolic links are removed, never followed. A directory that is still not empty after a pass (a
 * listing that missed entries removed under it) is read again, a bounded number of times.
 */
import { opendir, rmdir, unlink } from './fs.js';
import path from 'node:path';

/** Removals in flight at once: enough to keep the thread pool busy, a constant in memory. */
const WINDOW = 16;
/** Passes over one directory before its ENOTEMPTY is reported. */
const MAX_PASSES = 4;
/** Nesting followed at most: deeper trees cannot be made through PATH_MAX-long paths anyway. */
const MAX_DEPTH = 2048;

/** Removes `target` and everything below it; a missing target is not an error (as `rm -rf`). */
export async function removeTree(target: string): Promise<void> {
  try {
    await unlink(target);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    // Linux answers EISDIR for a directory; other systems EPERM.
    if (code !== 'EISDIR' && code !== 'EPERM') throw err;
  }
  await removeDirectory(target, 0);
}

async function removeDirectory(dir: string, depth: number): Promise<void> {
  if (depth > MAX_DEPTH) throw new Error(`cannot remove ${dir}: nested more than ${MAX_DEPTH} levels`);
  for (let pass = 1; ; pass++) {
    await emptyDirectory(dir, depth);
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'ENOTEMPTY' || pass >= MAX_PASSES) throw err;
    }
  }
}

/** Removes every entry of `dir`, files WINDOW at a time, subdirectories one at a time (depth first). */
async function emptyDirectory(dir: string, depth: number): Promise<void> {
  let handle;
  try {
    handle = await opendir(dir, { bufferSize: 64 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const start = (work: Promise<void>): void => {
    const p = work.then(
      () => {
        inFlight.delete(p);
      },
      (err: unknown) => {
        inFlight.delete(p);
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failure ??= err;
      },
    );
    inFlight.add(p);
  };
  // The handle closes itself when the iteration ends or throws.
  for await (const entry of handle) {
    if (failure !== undefined) break;
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      await Promise.all(inFlight);
      await removeDirectory(child, depth + 1);
    } else {
      start(unlink(child));
      if (inFlight.size >= WINDOW) await Promise.race(inFlight);
    }
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
}
