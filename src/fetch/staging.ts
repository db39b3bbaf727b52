/**
 * Staging and atomic commit of unpacked layers on the shared volume.
 *
 * Layers are unpacked into `<root>/.staging-<random>/<n>` and moved to `<root>/<target>` with one
 * rename(2) only after they verified and unpacked completely, so nothing half-written is ever seen
 * at a final path. Staging lives under `root` (same file system, so the rename is atomic, and the
 * only place the init container may write on a read-only root file system).
 *
 * Restarts: an emptyDir survives an init container restart, so a final path may already hold the
 * layer from an earlier run. Final paths are only ever created by `commitLayer`, and a target name
 * is derived from the layer digest, so an existing one is normally that very layer: it is kept when
 * its content is identical to the fresh unpack, and replaced otherwise (self-healing; the
 * integration container, the only reader, starts after the init container succeeds).
 *
 * Removal goes through `removeTree` (base/remove-tree.ts), never Node's recursive `rm`: a layer
 * refused after 100k files would otherwise cost its removal ~180 MiB.
 */
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { chmod, close, fstat, lstat, mkdir, open, read, readdir, rename } from '../base/fs.js';
import path from 'node:path';
import { FetchError } from '../base/errors.js';
import { removeTree } from '../base/remove-tree.js';

/** Prefix of staging directory names under the volume root; never a final path. */
export const STAGING_PREFIX = '.staging-';

/** Mode of directories the integration container reads (it may run as another uid). */
const DIR_MODE = 0o755;

/** The only targets a layer may be committed to (docs/architecture.md: `dependencies/<hex12>`, `kamelets/<hex12>`). */
const TARGET = /^(dependencies|kamelets)\/[a-f0-9]{12}$/;

/** A staging area for one fetch run. */
export interface Staging {
  /** The volume root. */
  readonly root: string;
  /** `<root>/.staging-<random>`. */
  readonly dir: string;
  /** Creates a fresh, empty 0755 directory for one layer inside the staging area. */
  layerDir(): Promise<string>;
  /** Removes the staging area and anything left in it. Safe to call more than once. */
  cleanup(): Promise<void>;
}

/** Creates `<root>/.staging-<random>` (the root must exist). */
export async function createStaging(root: string): Promise<Staging> {
  const absRoot = path.resolve(root);
  const dir = path.join(absRoot, `${STAGING_PREFIX}${randomBytes(8).toString('hex')}`);
  try {
    await mkdir(dir, 0o700);
  } catch (err) {
    throw ioError(`cannot create a staging directory under ${absRoot}`, err);
  }
  let next = 0;
  return {
    root: absRoot,
    dir,
    async layerDir() {
      const layer = path.join(dir, String(next++));
      try {
        await mkdir(layer, DIR_MODE);
        await chmod(layer, DIR_MODE); // mkdir's mode is filtered by the umask
      } catch (err) {
        throw ioError(`cannot create a layer directory under ${dir}`, err);
      }
      return layer;
    },
    async cleanup() {
      await removeTree(dir);
    },
  };
}

/**
 * Removes `.staging-*` directories a crashed earlier run left under `root`. Call it once at the
 * start of a run, never while another fetcher may use the same root (one init container per pod).
 */
export async function removeStaleStaging(root: string): Promise<number> {
  let removed = 0;
  for (const e of await readdir(root, { withFileTypes: true })) {
    if (e.isDirectory() && e.name.startsWith(STAGING_PREFIX)) {
      await removeTree(path.join(root, e.name));
      removed += 1;
    }
  }
  return removed;
}

/** What `commitLayer` did. */
export type CommitOutcome = 'committed' | 'kept' | 'replaced';

/**
 * Moves an unpacked layer directory to `<root>/<target>` with one atomic rename, creating the
 * parent (`dependencies/` or `kamelets/`) as needed. When the target already exists (a restarted
 * init container), keeps it if its content is identical ('kept', the staged copy is removed) and
 * otherwise swaps in the fresh copy ('replaced').
 */
export async function commitLayer(stagingLayerDir: string, root: string, target: string): Promise<CommitOutcome> {
  if (!TARGET.test(target)) {
    throw new FetchError(
      'PLAN_INVALID',
      `refusing to commit a layer to ${JSON.stringify(target)}: targets are dependencies/<hex12> or kamelets/<hex12>`,
    );
  }
  const absRoot = path.resolve(root);
  const final = path.join(absRoot, target);
  const parent = path.dirname(final);
  try {
    await mkdir(parent, DIR_MODE);
    await chmod(parent, DIR_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(`cannot create ${parent}`, err);
    if (!(await lstat(parent)).isDirectory()) throw new FetchError('IO_ERROR', `${parent} exists and is not a directory`);
  }
  try {
    await rename(stagingLayerDir, final);
    return 'committed';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw ioError(`cannot move ${stagingLayerDir} to ${final}`, err);
  }
  if (await sameTree(final, stagingLayerDir)) {
    await removeTree(stagingLayerDir);
    return 'kept';
  }
  // Swap: the old copy moves into the staging area (same file system), the new one takes its
  // place. Between the two renames the final path is absent, never partial.
  const old = `${stagingLayerDir}.old`;
  try {
    await rename(final, old);
    await rename(stagingLayerDir, final);
  } catch (err) {
    throw ioError(`cannot replace ${final}`, err);
  }
  await removeTree(old);
  return 'replaced';
}

function ioError(message: string, err: unknown): FetchError {
  const code = (err as NodeJS.ErrnoException).code;
  return new FetchError('IO_ERROR', `${message}: ${(err as Error).message}`, { cause: err, context: { errno: code } });
}

/** True when two directory trees hold the same names, types and bytes (only dirs and files count as same). */
export async function sameTree(a: string, b: string): Promise<boolean> {
  const [ea, eb] = await Promise.all([sortedEntries(a), sortedEntries(b)]);
  if (ea.length !== eb.length) return false;
  for (let i = 0; i < ea.length; i++) {
    const x = ea[i];
    const y = eb[i];
    if (x === undefined || y === undefined || x.name !== y.name) return false;
    const pa = path.join(a, x.name);
    const pb = path.join(b, y.name);
    if (x.isDirectory() && y.isDirectory()) {
      if (!(await sameTree(pa, pb))) return false;
    } else if (x.isFile() && y.isFile()) {
      if (!(await sameFile(pa, pb))) return false;
    } else {
      return false;
    }
  }
  return true;
}

async function sortedEntries(dir: string): Promise<Dirent[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

/** Compares two files chunk by chunk; memory stays flat whatever their size. */
async function sameFile(a: string, b: string): Promise<boolean> {
  const opened = await Promise.allSettled([open(a, 'r'), open(b, 'r')]);
  const fds = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) {
    // Close the one that opened (an fd, unlike a FileHandle, is never closed for us), then fail as open did.
    await Promise.all(fds.map((fd) => close(fd)));
    throw failed.reason;
  }
  const [fa, fb] = fds as [number, number];
  try {
    const [sa, sb] = await Promise.all([fstat(fa), fstat(fb)]);
    if (sa.size !== sb.size) return false;
    const size = 64 * 1024;
    const ba = Buffer.alloc(size);
    const bb = Buffer.alloc(size);
    for (let pos = 0; pos < sa.size;) {
      const [ra, rb] = await Promise.all([read(fa, ba, 0, size, pos), read(fb, bb, 0, size, pos)]);
      if (ra.bytesRead !== rb.bytesRead || ra.bytesRead === 0) return false;
      if (!ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
      pos += ra.bytesRead;
    }
    return true;
  } finally {
    await Promise.all([close(fa), close(fb)]);
  }
}
