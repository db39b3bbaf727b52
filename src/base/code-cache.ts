/**
 * Loads a CommonJS file (the `fetch` bundle, dist/fetch.cjs) with a V8 code cache made after a
 * run, so that it holds every function that run compiled.
 *
 * Why not only Node's compile cache (NODE_COMPILE_CACHE): it stores a module's code as compiled
 * when the module loads, which is its top level; V8 compiles every other function on its first
 * call, and a small fetch calls hundreds of them once (measured: a full cache saves 6 ms of a
 * 170 ms run on Node 24, 12 ms of 150 ms on Node 20, which has no compile cache at all;
 * bench/RESULTS.md, "Fetch"). V8 keeps the functions a script compiled, so a cache made once
 * the run is over holds them. The image makes it at build time with a warm-up fetch
 * (scripts/warm-fetch-cache.mjs); elsewhere the first run makes it.
 *
 * A code cache is code: one planted by somebody else would run as ours. It is read only from a
 * directory and a file that are owned by this user or root and writable by nobody else, and
 * written only into a directory made for it (0700); V8 itself refuses a cache of another V8
 * version, other flags or another source length, and the file's name carries the source's CRC-32,
 * so an edited bundle never meets an old cache. Any failure to read or write costs only the time
 * a cache would have saved.
 */
import type { Stats } from 'node:fs';
import Module, { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Script, constants as vmConstants } from 'node:vm';
import * as zlib from 'node:zlib';

// node:fs through CommonJS: its ES module facade reads every export, and `fs.ReadStream` then
// loads the fs streams, node:fs/promises and readline, which the fetch bundle never needs (2-3 ms of
// CPU per init container; base/fs.ts).
const {
  accessSync,
  constants: fsConstants,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');

/** Bound on a cache file read (the fetch bundle's full cache is about 0.4 MiB). */
const MAX_CACHE_BYTES = 32 * 1024 * 1024;

/** A loaded file's exports, and the step that saves its cache once the run is over. */
export interface CachedLoad<T> {
  readonly exports: T;
  /** What happened to the cache: used, or why it was not. */
  readonly cache: 'used' | 'missing' | 'rejected' | 'untrusted' | 'off';
  /**
   * Writes the cache when it was missing or rejected: call it when the run is over, so that the
   * cache holds what the run compiled. Never throws; returns whether a cache was written.
   */
  save(): boolean;
}

/**
 * Where the caches live: a `camel-oci` directory in Node's compile cache directory
 * (NODE_COMPILE_CACHE, or Node's default under the temp dir); none when NODE_DISABLE_COMPILE_CACHE
 * turns Node's off.
 */
export function codeCacheDir(env: NodeJS.ProcessEnv): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  return path.join(env.NODE_COMPILE_CACHE || path.join(os.tmpdir(), 'node-compile-cache'), 'camel-oci');
}

/** True when `st` is owned by this user or root and writable by no one else. */
function trusted(st: Stats): boolean {
  const uid = process.getuid?.() ?? -1;
  return (st.uid === uid || st.uid === 0) && (st.mode & 0o022) === 0;
}

/** The cache file's name: the V8 version and architecture it was made by, and the source's CRC-32 and length. */
export function cacheFileName(source: string, prefix: string): string | undefined {
  // zlib.crc32 is Node >= 20.15 (engines admit 20.12): no checksum, no cache.
  const crc32 = (zlib as { crc32?: (data: string) => number }).crc32;
  if (crc32 === undefined) return undefined;
  const crc = crc32(source).toString(16).padStart(8, '0');
  return `${prefix}-v8-${process.versions.v8}-${process.arch}-${crc}-${Buffer.byteLength(source)}.cache`;
}

/** Reads the cache when the directory and the file can be trusted; `undefined` when there is none. */
function readCache(dir: string, file: string): Buffer | 'untrusted' | undefined {
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch {
    return undefined;
  }
  if (!st.isDirectory() || !trusted(st)) return 'untrusted';
  try {
    st = lstatSync(file);
  } catch {
    return undefined;
  }
  if (!st.isFile() || !trusted(st) || st.size > MAX_CACHE_BYTES) return 'untrusted';
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Runs the CommonJS file `file` (as `require` would: its own `require`, `module`, `__dirname`)
 * with the code cache kept in `cacheDir` under a name starting with `prefix`; no cache at all when
 * `cacheDir` is undefined.
 */
export function loadWithCodeCache<T>(file: string, cacheDir: string | undefined, prefix: string): CachedLoad<T> {
  const source = readFileSync(file, 'utf8');
  const name = cacheDir === undefined ? undefined : cacheFileName(source, prefix);
  // Both or neither: no directory, or no checksum to name the file by, is no cache.
  const where = cacheDir !== undefined && name !== undefined ? { dir: cacheDir, file: path.join(cacheDir, name) } : undefined;
  const read = where === undefined ? undefined : readCache(where.dir, where.file);
  const cachedData = read instanceof Buffer ? read : undefined;
  const script = new Script(Module.wrap(source), {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
    // The bundle's dynamic imports of the other commands are never reached (cli.ts sends only
    // `fetch` here), but resolve as in a module of its own, should they ever be.
    ...(vmConstants.USE_MAIN_CONTEXT_DEFAULT_LOADER ? { importModuleDynamically: vmConstants.USE_MAIN_CONTEXT_DEFAULT_LOADER } : {}),
  });
  const cache: CachedLoad<T>['cache'] =
    where === undefined
      ? 'off'
      : read === 'untrusted'
        ? 'untrusted'
        : cachedData === undefined
          ? 'missing'
          : script.cachedDataRejected
            ? 'rejected'
            : 'used';
  const module = { exports: {} as T };
  (script.runInThisContext() as (...args: unknown[]) => void).call(
    module.exports,
    module.exports,
    createRequire(file),
    module,
    file,
    path.dirname(file),
  );
  return {
    exports: module.exports,
    cache,
    save: () => where !== undefined && (cache === 'missing' || cache === 'rejected') && writeCache(where.dir, where.file, script),
  };
}

function writeCache(dir: string, file: string, script: Script): boolean {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The directory may have been there already, made by somebody else; and making the cache
    // takes milliseconds, not spent where it cannot be written (the image's, as another user).
    if (!trusted(lstatSync(dir))) return false;
    accessSync(dir, fsConstants.W_OK);
    writeFileSync(tmp, script.createCachedData(), { flag: 'wx', mode: 0o600 });
    renameSync(tmp, file);
    return true;
  } catch {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // Nothing was written, or it cannot be removed either: the next run will find no cache.
    }
    return false;
  }
}
