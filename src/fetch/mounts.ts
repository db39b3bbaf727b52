/**
 * Mount points for image volumes. When a pod has both fetched artifacts and image volumes, the
 * integration container mounts the shared volume read-only at its root and each image volume
 * inside it, at `images/<hex12>`; the runtime cannot create a directory inside a read-only mount,
 * so the fetcher, which owns the volume, makes these empty directories first.
 */
import { lstat, mkdir } from '../base/fs.js';
import path from 'node:path';
import { raceSignal } from '../base/abort.js';
import { FetchError } from '../base/errors.js';
import { MAX_PLAN_ARTIFACTS } from '../plan/plan.js';

/** The only shape a mount point may take (the plan parser checks it too; this module does not rely on that). */
const IMAGE_MOUNT = /^images\/[0-9a-f]{12}$/;

/** Mode of the mount point directories: the integration container may run as another uid. */
const DIR_MODE = 0o755;

/** Creates `dir` unless it is already a directory (a restarted init container); refuses a link or a file there. */
async function ensureDirectory(dir: string, signal: AbortSignal | undefined): Promise<void> {
  const step = <T>(work: Promise<T>): Promise<T> => (signal ? raceSignal(work, signal) : work);
  try {
    await step(mkdir(dir, DIR_MODE));
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new FetchError(
        'IO_ERROR',
        `cannot create the image volume mount point ${dir}: ${String((err as NodeJS.ErrnoException).code ?? err)}`,
        {
          cause: err,
        },
      );
    }
  }
  // lstat, not stat: a symbolic link here could point the runtime's mount anywhere.
  const info = await step(lstat(dir));
  if (!info.isDirectory()) {
    throw new FetchError('IO_ERROR', `cannot create the image volume mount point ${dir}: something that is not a directory is there`);
  }
}

/**
 * Creates the empty directories `mounts` (each `images/<hex12>`) under `root`, which must exist.
 * Refuses any other shape (PLAN_INVALID) and more than one per plan artifact allowed; a directory
 * already there is kept, a link or a file is an IO_ERROR.
 */
export async function createImageMounts(root: string, mounts: readonly string[] | undefined, signal?: AbortSignal): Promise<void> {
  if (mounts === undefined || mounts.length === 0) return;
  if (mounts.length > MAX_PLAN_ARTIFACTS) {
    throw new FetchError('PLAN_INVALID', `refusing ${mounts.length} image volume mount points: at most ${MAX_PLAN_ARTIFACTS}`);
  }
  for (const m of mounts) {
    if (!IMAGE_MOUNT.test(m)) {
      throw new FetchError('PLAN_INVALID', `refusing to create ${JSON.stringify(m)}: image volume mount points are images/<12 hex digits>`);
    }
  }
  const absRoot = path.resolve(root);
  await ensureDirectory(path.join(absRoot, 'images'), signal);
  for (const m of mounts) {
    signal?.throwIfAborted();
    await ensureDirectory(path.join(absRoot, m), signal);
  }
}
