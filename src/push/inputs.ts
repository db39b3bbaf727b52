/**
 * Reads what `camel-oci push` packs from disk, bounded: the jars of each `--dependency` and the
 * Kamelet files of each `--kamelets` folder. Refuses what it cannot pack safely: links that lead
 * out of the folder they are in, devices, fifos and sockets, files over the limits.
 */
import { constants } from 'node:fs';
import { lstat, open, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { isPlainFileName } from '../plan/plan.js';
import { PushError } from './errors.js';
import { looksLikeZip } from './jar.js';
import { KAMELET_SUFFIX, layerName } from './pack.js';
import type { DependencyInput, InputFile, KameletsInput } from './pack.js';

/** Limits on what push reads; every layer is built in memory, so they bound its memory too. */
export interface InputLimits {
  /** One jar, at most. */
  readonly maxFileBytes: number;
  /** One Kamelet file, at most (real ones are a few KiB). */
  readonly maxKameletBytes: number;
  /** All files together, at most (push holds them, their tars and gzips in memory). */
  readonly maxTotalBytes: number;
  /** Files in all, at most. */
  readonly maxFiles: number;
}

/** Defaults: large enough for a Camel dependency set, small enough to pack in memory. */
export const DEFAULT_INPUT_LIMITS: InputLimits = {
  maxFileBytes: 256 * 1024 * 1024,
  maxKameletBytes: 1024 * 1024,
  maxTotalBytes: 512 * 1024 * 1024,
  maxFiles: 10_000,
};

const JAR_RE = /\.jar$/i;

/** Running totals over every input of one push. */
class Budget {
  private bytes = 0;
  private files = 0;
  constructor(readonly limits: InputLimits) {}

  take(size: number, where: string): void {
    this.bytes += size;
    this.files += 1;
    if (this.files > this.limits.maxFiles)
      throw new PushError('SIZE_EXCEEDED', `${where}: more than ${this.limits.maxFiles} files in all; push fewer per artifact`);
    if (this.bytes > this.limits.maxTotalBytes) {
      throw new PushError(
        'SIZE_EXCEEDED',
        `${where}: the inputs pass ${this.limits.maxTotalBytes} bytes in all; split them over several artifacts`,
      );
    }
  }
}

function ioError(err: unknown, where: string): PushError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new PushError('INPUT_INVALID', `${where}: no such file or directory`);
  return new PushError('IO_ERROR', `${where}: cannot read it (${code ?? (err as Error).message})`, { cause: err });
}

/**
 * Reads one regular file, at most `limit` bytes. O_NONBLOCK so that opening a fifo never waits
 * for a writer; the type is then checked on the open descriptor, not on the name.
 */
async function readRegularFile(file: string, where: string, limit: number, budget: Budget): Promise<Buffer> {
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw ioError(err, where);
  }
  try {
    const info = await fh.stat();
    if (!info.isFile()) throw new PushError('INPUT_INVALID', `${where}: not a regular file (devices, fifos and sockets are not packed)`);
    if (info.size > limit) throw new PushError('SIZE_EXCEEDED', `${where}: ${info.size} bytes, over the ${limit}-byte limit`);
    budget.take(info.size, where);
    // Read one byte past the size: a file that grew since fstat is caught rather than cut.
    const buf = Buffer.alloc(info.size + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got > info.size) throw new PushError('INPUT_INVALID', `${where}: changed while being read; try again`);
    }
    if (got !== info.size) throw new PushError('INPUT_INVALID', `${where}: changed while being read; try again`);
    return buf.subarray(0, got);
  } catch (err) {
    if (err instanceof PushError) throw err;
    throw ioError(err, where);
  } finally {
    await fh.close();
  }
}

/**
 * Where a directory entry really is: itself, or the target of a link that stays inside `realDir`
 * (a link out of the folder is refused: what is packed is what the folder holds).
 */
async function insideTarget(realDir: string, entry: string, where: string): Promise<string> {
  let target: string;
  try {
    target = await realpath(path.join(realDir, entry));
  } catch (err) {
    throw ioError(err, where);
  }
  const rel = path.relative(realDir, target);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new PushError('INPUT_INVALID', `${where}: a symbolic link that leads out of its folder (to ${target}); copy the file in instead`);
  }
  return target;
}

/** The entries of a directory whose names pass `want`, sorted, each resolved to a regular file inside it. */
async function filesOf(
  dir: string,
  source: string,
  want: (name: string) => boolean,
): Promise<Array<{ name: string; file: string; where: string }>> {
  let realDir: string;
  let names: string[];
  try {
    realDir = await realpath(dir);
    names = await readdir(realDir);
  } catch (err) {
    throw ioError(err, source);
  }
  const out: Array<{ name: string; file: string; where: string }> = [];
  for (const name of names.sort()) {
    if (!want(name)) continue;
    const where = path.join(source, name);
    const info = await lstat(path.join(realDir, name)).catch((err: unknown) => {
      throw ioError(err, where);
    });
    if (info.isDirectory()) continue;
    const file = info.isSymbolicLink() ? await insideTarget(realDir, name, where) : path.join(realDir, name);
    if (!isPlainFileName(name)) {
      throw new PushError(
        'INPUT_INVALID',
        `${where}: file name ${JSON.stringify(name)} is not a plain name (letters, digits, '.', '_', '+', '-'); rename it`,
      );
    }
    out.push({ name, file, where });
  }
  return out;
}

async function isDirectory(p: string, where: string): Promise<boolean> {
  try {
    // The path the user named is followed if it is a link: they chose it.
    const info = await lstat(await realpath(p));
    return info.isDirectory();
  } catch (err) {
    throw ioError(err, where);
  }
}

function checkJar(data: Uint8Array, where: string): void {
  if (!looksLikeZip(data)) throw new PushError('INPUT_INVALID', `${where}: not a jar (no zip header)`);
}

/** Reads the inputs of every `--dependency` and `--kamelets`, in the order given, within `limits`. */
export async function readInputs(
  dependencies: readonly string[],
  kamelets: readonly string[],
  limits: InputLimits = DEFAULT_INPUT_LIMITS,
): Promise<{ dependencies: DependencyInput[]; kamelets: KameletsInput[] }> {
  const budget = new Budget(limits);
  const deps: DependencyInput[] = [];
  for (const source of dependencies) {
    const where = `--dependency ${source}`;
    if (await isDirectory(source, where)) {
      const name = layerName(path.basename(path.resolve(source)), where);
      const jars: InputFile[] = [];
      for (const f of await filesOf(source, source, (n) => JAR_RE.test(n))) {
        const data = await readRegularFile(f.file, f.where, limits.maxFileBytes, budget);
        checkJar(data, f.where);
        jars.push({ fileName: f.name, data });
      }
      deps.push({ source, kind: 'dir', name, jars });
    } else {
      const fileName = path.basename(source);
      if (!JAR_RE.test(fileName)) throw new PushError('INPUT_INVALID', `${where}: not a .jar file or a directory of them`);
      if (!isPlainFileName(fileName))
        throw new PushError('INPUT_INVALID', `${where}: file name ${JSON.stringify(fileName)} is not a plain name; rename it`);
      const data = await readRegularFile(source, where, limits.maxFileBytes, budget);
      checkJar(data, where);
      deps.push({ source, kind: 'jar', name: layerName(fileName.replace(JAR_RE, ''), where), jars: [{ fileName, data }] });
    }
  }
  const repos: KameletsInput[] = [];
  for (const source of kamelets) {
    const where = `--kamelets ${source}`;
    if (!(await isDirectory(source, where))) throw new PushError('INPUT_INVALID', `${where}: not a directory`);
    const name = layerName(path.basename(path.resolve(source)), where);
    const files: InputFile[] = [];
    for (const f of await filesOf(source, source, (n) => n.endsWith(KAMELET_SUFFIX))) {
      files.push({ fileName: f.name, data: await readRegularFile(f.file, f.where, limits.maxKameletBytes, budget) });
    }
    repos.push({ source, name, files });
  }
  return { dependencies: deps, kamelets: repos };
}
