/**
 * Safe unpacking of one verified layer into a fresh staging directory, following the layout rules
 * of docs/architecture.md ("Layout of the shared volume"). Streams end to end: gunzip -> tar parse -> files,
 * never buffering a whole entry, so memory stays flat whatever the layer size. A small layer that
 * the runner downloaded whole and verified goes through `unpackVerified` instead: the same writer
 * and rules, fed from one bounded buffer (a small fetch is mostly the cost of streams set up per layer).
 *
 * Safety rules (each has a test named for it in test/fetch/unpack.test.ts):
 * - Any absolute path, `..` segment, NUL byte, over-long path or name, device, fifo or escaping link refuses
 *   the whole layer with UNSAFE_ARCHIVE, even when the entry would otherwise be ignored: an
 *   archive built to attack us is not half-trusted.
 * - A link (symbolic or hard) whose target leaves the layer refuses the layer. A link inside it is
 *   skipped: never created, never followed, counted as ignored. Flattening jars moves files, so a
 *   relative link target would no longer mean what its author meant; a classpath wildcard already
 *   lists the file a link would alias; and with no link ever created, every directory below the
 *   layer dir is a real directory, which is what makes "create a symlink, then write through it"
 *   impossible.
 * - Files are created with O_CREAT|O_EXCL|O_NOFOLLOW (never through or over anything), mode 0644,
 *   or 0755 when the archive gave the owner execute permission; setuid, setgid and sticky bits and
 *   owners are dropped. Directories are 0755 (the integration container may run as another uid).
 * - Every byte out of the decompressor (tar headers, padding and ignored entries included) is
 *   charged to the run's shared budget, so a bomb stops at the limit however it declares its
 *   sizes; a declared size beyond the remaining budget stops before its data is read.
 */
import { constants as fsConstants } from 'node:fs';
import { chmod, close, fchmod, lstat, mkdir, open, write } from '../base/fs.js';
import { once } from 'node:events';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gunzipSync } from 'node:zlib';
// The parser alone (tar's subpath export): the fetch bundle then leaves out tar's create, extract and list.
import { Parser } from 'tar/parse';
import type { ReadEntry } from 'tar/read-entry';
import { CamelOciError, FetchError } from '../base/errors.js';
import { digestHex12, type PlanLayer } from '../plan/plan.js';
import type { BufferReclaimer } from './memory.js';
import { COMPRESSION_RATIO_FLOOR, MAX_NAME_LENGTH, type UnpackBudget, type UnpackLimits } from './limits.js';

/** What unpacking one layer produced. */
export interface UnpackResult {
  /** Regular files written. */
  readonly files: number;
  /** Bytes written to those files. */
  readonly bytes: number;
  /** Jars written, relative to the layer directory, in archive order. */
  readonly jars: readonly string[];
  /** Kamelets written, relative to the layer directory (`kamelets/<file>`), in archive order. */
  readonly kamelets: readonly string[];
  /** Entries that were valid but not unpacked (non-kamelet files of a kamelets layer, links inside the layer). */
  readonly ignored: number;
}

/**
 * Output chunk of gunzip. zlib's 16 KiB default means one file write per 16 KiB and is 25 % slower;
 * 256 KiB was no faster than 64 KiB but, with four layers at once, peaked 50-60 MiB higher (8 x 32
 * MiB layers: 135-145 MiB against 71-88 MiB; bench/RESULTS.md, "Fetch").
 */
const GUNZIP_CHUNK_BYTES = 64 * 1024;

/**
 * Most a layer in memory (unpackVerified) may inflate to before it is unpacked as a stream
 * instead: it bounds that path's memory whatever the layer declares (with four layers at once,
 * 4 x 8 MiB beside their compressed bytes). A jar inflates little; a layer of YAML Kamelets may
 * pass it and then costs the inflating twice.
 */
export const MAX_INFLATE_IN_MEMORY_BYTES = 8 * 1024 * 1024;

/** Bound on one pax / GNU long-name header: it only carries a path and a few attributes. */
const MAX_META_ENTRY_BYTES = 64 * 1024;

const FILE_MODE = 0o644;
const EXEC_FILE_MODE = 0o755;
const DIR_MODE = 0o755;
/** Create only, never through a symlink, never over an existing file. */
const CREATE_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;

const JAR = /\.jar$/i; // the JVM's classpath wildcard takes `.jar` and `.JAR`
const KAMELET_SUFFIX = '.kamelet.yaml';
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/**
 * Unpacks one layer's verified bytes into `stagingDir` (a fresh directory the caller made for this
 * layer, later renamed to `<root>/<layer.target>`), charging `budget` as it goes. On failure it
 * destroys `source` (without an error event) and settles only after its last file operation.
 * Rejects with a CamelOciError: UNSAFE_ARCHIVE (refused or corrupt archive), NAME_COLLISION (two
 * entries would land on one path), SIZE_EXCEEDED (a limit), PLAN_INVALID (unusable raw fileName),
 * IO_ERROR (local file system, or a plain error from `source`), or the CamelOciError `source`
 * itself failed with (for example the verifier's DIGEST_MISMATCH). `reclaimer` is told of every
 * byte out of the decompressor: a layer of many tiny entries compresses a hundredfold, so counting
 * only downloaded bytes would let hundreds of MiB of dead decompressed buffers (and the entries
 * sliced from them) pile up between collections.
 */
export async function unpackLayer(
  source: Readable,
  layer: PlanLayer,
  stagingDir: string,
  limits: UnpackLimits,
  budget: UnpackBudget,
  reclaimer?: BufferReclaimer,
): Promise<UnpackResult> {
  const ctx = new LayerWriter(layer, stagingDir, limits, budget, reclaimer);
  const fail = (err: unknown): Error => {
    const failure = ctx.fail(err);
    // Without an error: an 'error' event on the caller's stream could be unhandled. A writer
    // into `source` (BlobVerifier.pump) sees it destroyed and stops.
    if (!source.destroyed) source.destroy();
    return failure;
  };
  // Settles only when the sink has stopped touching the file system, so a caller that cleans up
  // the staging directory after a failure never races a late write.
  let sinkDone: Promise<void> = Promise.resolve();
  try {
    await ctx.checkStart();
    // The sink records its own error first: pipeline would otherwise report the premature close
    // its failure causes upstream instead of the reason.
    const sink = (src: AsyncIterable<Buffer>): Promise<void> =>
      (sinkDone = (layer.format === 'raw' ? ctx.writeRaw(src) : ctx.extractTar(src, fail)).catch((err: unknown) => {
        throw fail(err);
      }));
    // The abort signal ends the pipeline as soon as anything failed: without it, a failure near the
    // end of the stream left Node 24's pipeline waiting for streams that never close (the promise
    // never settled, and the fetch process would have exited as if it had succeeded).
    const signal = ctx.abort.signal;
    if (layer.format === 'tar+gzip') {
      await pipeline(source, ctx.compressedMeter(), createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES }), sink, { signal });
    } else await pipeline(source, ctx.compressedMeter(), sink, { signal });
  } catch (err) {
    // Let the sink record its reason first (it settles: every exit path of it calls `fail`).
    await sinkDone.catch(() => undefined);
    fail(err);
  } finally {
    await sinkDone.catch(() => undefined);
  }
  if (ctx.failure !== undefined) throw toFetchError(ctx.failure, layer);
  return ctx.result();
}

/**
 * Unpacks a small layer whose bytes are in memory and already verified (size and digest), with
 * the same rules, limits and errors as `unpackLayer`: a gzip layer inflates in one call bounded by
 * MAX_INFLATE_IN_MEMORY_BYTES, and its tar is read from that one buffer. No byte of an unverified
 * blob is ever unpacked this way. A layer that inflates past the bound is unpacked as a stream
 * (`unpackLayer`), where the budget and the compression ratio stop a bomb as it inflates.
 */
export async function unpackVerified(
  bytes: Buffer,
  layer: PlanLayer,
  stagingDir: string,
  limits: UnpackLimits,
  budget: UnpackBudget,
  reclaimer?: BufferReclaimer,
): Promise<UnpackResult> {
  const ctx = new LayerWriter(layer, stagingDir, limits, budget, reclaimer);
  try {
    await ctx.checkStart();
    ctx.countCompressed(bytes.length);
    let data = bytes;
    if (layer.format === 'tar+gzip') {
      try {
        data = gunzipSync(bytes, { maxOutputLength: MAX_INFLATE_IN_MEMORY_BYTES, chunkSize: GUNZIP_CHUNK_BYTES });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw err;
        return await unpackLayer(Readable.from([bytes]), layer, stagingDir, limits, budget, reclaimer);
      }
    }
    // In slices, as the stream would give it: the parser then takes one slice's entries at a time
    // (a whole buffer at once queued every entry of it: 100 MiB more for 15,000 empty files).
    await (layer.format === 'raw' ? ctx.writeRaw(slices(data)) : ctx.extractTar(slices(data), (err) => ctx.fail(err)));
  } catch (err) {
    ctx.fail(err);
  }
  if (ctx.failure !== undefined) throw toFetchError(ctx.failure, layer);
  return ctx.result();
}

/** `data` in GUNZIP_CHUNK_BYTES pieces (views, not copies). */
function* slices(data: Buffer): Generator<Buffer> {
  for (let at = 0; at < data.length; at += GUNZIP_CHUNK_BYTES) yield data.subarray(at, at + GUNZIP_CHUNK_BYTES);
}

/** Maps whatever failed (zlib, tar parser, file system) to a FetchError naming the layer. */
function toFetchError(err: Error, layer: PlanLayer): CamelOciError {
  if (err instanceof CamelOciError) return err;
  const e = err as Error & { code?: unknown; tarCode?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (code.startsWith('Z_')) {
    return new FetchError('UNSAFE_ARCHIVE', `layer ${layer.digest} is not valid gzip (${e.message})`, {
      cause: err,
      context: { digest: layer.digest },
    });
  }
  if (typeof e.tarCode === 'string') {
    return new FetchError('UNSAFE_ARCHIVE', `layer ${layer.digest} is not a valid tar archive (${e.message})`, {
      cause: err,
      context: { digest: layer.digest },
    });
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new FetchError(
      'IO_ERROR',
      `no space left while unpacking layer ${layer.digest}: raise the volume's sizeLimit or shrink the artifact`,
      { cause: err, context: { digest: layer.digest } },
    );
  }
  return new FetchError('IO_ERROR', `unpacking layer ${layer.digest} failed: ${e.message}`, {
    cause: err,
    context: { digest: layer.digest, errno: code || undefined },
  });
}

/** How one archive entry is handled. */
type Disposition =
  | { readonly action: 'write'; readonly out: readonly string[]; readonly mode: number; readonly renamed: boolean }
  | { readonly action: 'skip'; readonly ignored: boolean };

/** The state of one layer being unpacked: counters, claimed output paths, created directories. */
class LayerWriter {
  readonly abort = new AbortController();
  readonly #layer: PlanLayer;
  readonly #dir: string;
  readonly #limits: UnpackLimits;
  readonly #budget: UnpackBudget;
  readonly #reclaimer: BufferReclaimer | undefined;
  #compressed = 0;
  #decompressed = 0;
  #files = 0;
  #bytes = 0;
  #ignored = 0;
  readonly #jars: string[] = [];
  readonly #kamelets: string[] = [];
  /**
   * Output file path -> archive path that claimed it, for renamed outputs only (flattened jars,
   * kamelets). A file that keeps its archive path is not remembered: its name is its output path,
   * and the file system (exclusive create, mkdir) finds the collision, so what is kept per entry
   * does not grow with an archive of many such files.
   */
  readonly #renamedFiles = new Map<string, string>();
  /** Output directory path -> archive path that first needed it. */
  readonly #claimedDirs = new Map<string, string>();
  readonly #createdDirs = new Set<string>();
  #failure: Error | undefined;

  constructor(layer: PlanLayer, dir: string, limits: UnpackLimits, budget: UnpackBudget, reclaimer: BufferReclaimer | undefined) {
    this.#layer = layer;
    this.#dir = dir;
    this.#limits = limits;
    this.#budget = budget;
    this.#reclaimer = reclaimer;
  }

  /** The first failure recorded by `fail`. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Records the first failure and aborts every wait of this layer; returns the recorded one. */
  fail(err: unknown): Error {
    this.#failure ??= err instanceof Error ? err : new Error(String(err));
    this.abort.abort(this.#failure);
    return this.#failure;
  }

  /** Refuses a layer declared above the per-layer limit, or a staging path that is not a directory. */
  async checkStart(): Promise<void> {
    if (this.#layer.size > this.#limits.maxLayerBytes) throw this.layerTooLarge(this.#layer.size);
    const info = await lstat(this.#dir);
    if (!info.isDirectory()) throw new FetchError('IO_ERROR', `staging path ${this.#dir} is not a directory`);
  }

  result(): UnpackResult {
    return { files: this.#files, bytes: this.#bytes, jars: [...this.#jars], kamelets: [...this.#kamelets], ignored: this.#ignored };
  }

  layerTooLarge(bytes: number): FetchError {
    return new FetchError(
      'SIZE_EXCEEDED',
      `layer ${this.#layer.digest} is ${bytes} bytes or more, above the ${this.#limits.maxLayerBytes}-byte limit per layer (maxLayerBytes)`,
      { context: { digest: this.#layer.digest, limit: 'maxLayerBytes', max: this.#limits.maxLayerBytes } },
    );
  }

  /** Counts `n` of the layer's bytes as downloaded; they bound the layer size and feed the ratio check. */
  countCompressed(n: number): void {
    this.#compressed += n;
    if (this.#compressed > this.#limits.maxLayerBytes) throw this.layerTooLarge(this.#compressed);
  }

  /** `countCompressed` for each chunk that passes. */
  compressedMeter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        try {
          this.countCompressed(chunk.length);
        } catch (err) {
          callback(err as Error);
          return;
        }
        callback(null, chunk);
      },
    });
  }

  /** Charges bytes out of the decompressor to the shared budget and checks the compression ratio. */
  #spendBytes(n: number): void {
    this.#decompressed += n;
    this.#reclaimer?.add(n);
    if (n > this.#budget.bytes) {
      this.#budget.bytes = 0;
      throw new FetchError(
        'SIZE_EXCEEDED',
        `layer ${this.#layer.digest} unpacks to more than the ${this.#limits.maxUnpackedBytes} bytes allowed for all layers together (maxUnpackedBytes)`,
        { context: { digest: this.#layer.digest, limit: 'maxUnpackedBytes', max: this.#limits.maxUnpackedBytes } },
      );
    }
    this.#budget.bytes -= n;
    const ratio = this.#limits.maxCompressionRatio;
    if (
      ratio !== undefined &&
      this.#layer.format === 'tar+gzip' &&
      this.#decompressed > COMPRESSION_RATIO_FLOOR &&
      this.#decompressed > ratio * Math.max(this.#compressed, 1)
    ) {
      throw new FetchError(
        'SIZE_EXCEEDED',
        `layer ${this.#layer.digest} decompresses more than ${ratio} times its compressed size (${this.#decompressed} bytes from ${this.#compressed}): refusing a likely decompression bomb (maxCompressionRatio)`,
        { context: { digest: this.#layer.digest, limit: 'maxCompressionRatio', max: ratio } },
      );
    }
  }

  /** Charges one archive entry to the shared file budget. */
  #spendFile(): void {
    if (this.#budget.files < 1) {
      throw new FetchError(
        'SIZE_EXCEEDED',
        `layer ${this.#layer.digest} has more entries than the ${this.#limits.maxFiles} allowed for all layers together (maxFiles)`,
        { context: { digest: this.#layer.digest, limit: 'maxFiles', max: this.#limits.maxFiles } },
      );
    }
    this.#budget.files -= 1;
  }

  #unsafe(entryPath: string, why: string): FetchError {
    return new FetchError('UNSAFE_ARCHIVE', `layer ${this.#layer.digest}: refusing entry ${JSON.stringify(entryPath)}: ${why}`, {
      context: { digest: this.#layer.digest, entry: entryPath.slice(0, 256) },
    });
  }

  /** Splits an archive path into safe segments, or refuses it. */
  #segments(raw: string): string[] {
    if (raw.includes('\0')) throw this.#unsafe(raw, 'the name contains a NUL byte');
    if (Buffer.byteLength(raw, 'utf8') > this.#limits.maxPathLength) {
      throw this.#unsafe(raw, `the path is longer than ${this.#limits.maxPathLength} bytes (maxPathLength)`);
    }
    if (raw.startsWith('/')) throw this.#unsafe(raw, 'absolute paths are not allowed');
    const segs = raw.split('/').filter((s) => s !== '' && s !== '.');
    if (segs.includes('..')) throw this.#unsafe(raw, '".." path segments are not allowed');
    const long = segs.find((s) => Buffer.byteLength(s, 'utf8') > MAX_NAME_LENGTH);
    if (long !== undefined) throw this.#unsafe(raw, `a path segment is longer than ${MAX_NAME_LENGTH} bytes`);
    return segs;
  }

  /** Refuses a link whose target leaves the layer; one inside it is left for the caller to skip. */
  #refuseEscapingLink(entry: ReadEntry, segs: readonly string[]): void {
    const target = entry.linkpath ?? '';
    // A symlink resolves against its own directory, a hard link against the archive root.
    const base = entry.type === 'Link' ? [] : segs.slice(0, -1);
    if (target.startsWith('/') || escapesBase(base, target)) {
      const kind = entry.type === 'Link' ? 'hard link' : 'symbolic link';
      throw this.#unsafe(entry.path, `${kind} to ${JSON.stringify(target)} points outside the layer`);
    }
  }

  /** Decides where an entry goes, refusing it when it is unsafe. */
  #dispose(entry: ReadEntry): Disposition {
    const segs = this.#segments(entry.path);
    if (entry.linkpath !== undefined && entry.linkpath.includes('\0'))
      throw this.#unsafe(entry.path, 'the link target contains a NUL byte');
    switch (entry.type) {
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        break;
      case 'Directory':
      case 'GNUDumpDir':
        // Directories are created as files need them; an archive's own directory modes are not kept.
        return { action: 'skip', ignored: false };
      case 'SymbolicLink':
      case 'Link':
        this.#refuseEscapingLink(entry, segs);
        return { action: 'skip', ignored: true };
      case 'CharacterDevice':
      case 'BlockDevice':
        throw this.#unsafe(entry.path, 'device files are not allowed');
      case 'FIFO':
        throw this.#unsafe(entry.path, 'fifos are not allowed');
      default:
        throw this.#unsafe(entry.path, `entry type ${JSON.stringify(entry.type)} is not supported`);
    }
    const base = segs[segs.length - 1];
    if (base === undefined) throw this.#unsafe(entry.path, 'a file entry needs a name');
    const mode = (entry.mode ?? 0) & 0o100 ? EXEC_FILE_MODE : FILE_MODE;
    if (this.#layer.kind === 'dependency') {
      const flatten = JAR.test(base) && segs.length > 1;
      return { action: 'write', out: flatten ? [base] : segs, mode, renamed: flatten };
    }
    if (base.endsWith(KAMELET_SUFFIX)) return { action: 'write', out: ['kamelets', base], mode, renamed: true };
    return { action: 'skip', ignored: true };
  }

  /** Reserves an output path for an archive entry, or reports the collision naming both entries. */
  #claim(out: readonly string[], archivePath: string, renamed: boolean): void {
    const key = out.join('/');
    const byFile = this.#renamedFiles.get(key);
    if (byFile !== undefined) throw this.#collision(byFile, archivePath, key);
    const byDir = this.#claimedDirs.get(key);
    if (byDir !== undefined) throw this.#collision(byDir, archivePath, key);
    for (let i = 1; i < out.length; i++) {
      const prefix = out.slice(0, i).join('/');
      const file = this.#renamedFiles.get(prefix);
      if (file !== undefined) throw this.#collision(file, archivePath, prefix);
    }
    if (renamed) this.#renamedFiles.set(key, archivePath);
    for (let i = 1; i < out.length; i++) {
      const prefix = out.slice(0, i).join('/');
      if (!this.#claimedDirs.has(prefix)) this.#claimedDirs.set(prefix, archivePath);
    }
  }

  #collision(first: string, second: string, out: string): FetchError {
    const what =
      first === second
        ? `entry ${JSON.stringify(first)} appears twice`
        : `entries ${JSON.stringify(first)} and ${JSON.stringify(second)} both need`;
    return new FetchError(
      'NAME_COLLISION',
      `layer ${this.#layer.digest}: ${what} ${JSON.stringify(out)} in the layer directory; rename one of them in the artifact`,
      {
        context: { digest: this.#layer.digest, first: first.slice(0, 256), second: second.slice(0, 256), path: out.slice(0, 256) },
      },
    );
  }

  /** Creates the directories leading to an output file, each a real 0755 directory. */
  async #ensureDirs(segs: readonly string[], archivePath: string): Promise<void> {
    for (let i = 1; i <= segs.length; i++) {
      const rel = segs.slice(0, i).join('/');
      if (this.#createdDirs.has(rel)) continue;
      const abs = path.join(this.#dir, rel);
      try {
        await mkdir(abs, DIR_MODE);
        await chmod(abs, DIR_MODE); // mkdir's mode is filtered by the umask
      } catch (err) {
        // Only our own earlier mkdir can have made it (the layer dir holds no links); check anyway.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const there = await lstat(abs);
        if (there.isDirectory()) {
          this.#createdDirs.add(rel);
          continue;
        }
        // A file that kept its archive path is there (such files are not remembered in memory);
        // anything else (a planted link) is refused as the file system error it is.
        throw there.isFile() ? this.#collision(rel, archivePath, rel) : err;
      }
      this.#createdDirs.add(rel);
    }
  }

  /** Creates one output file exclusively and writes the chunks into it. */
  async #writeFile(out: readonly string[], mode: number, archivePath: string, fill: (fd: number) => Promise<void>): Promise<void> {
    await this.#ensureDirs(out.slice(0, -1), archivePath);
    const abs = path.join(this.#dir, ...out);
    if (!abs.startsWith(this.#dir + path.sep)) throw new FetchError('INTERNAL', `output path ${abs} is outside ${this.#dir}`);
    const fd = await open(abs, CREATE_FLAGS, mode).catch(async (err: NodeJS.ErrnoException) => {
      // An earlier file that kept its archive path (its name is the output path) is already there;
      // anything else (a planted link, a directory) is refused as the file system error it is.
      const rel = out.join('/');
      const there = err.code === 'EEXIST' ? await lstat(abs).catch(() => undefined) : undefined;
      throw there?.isFile() ? this.#collision(rel, archivePath, rel) : err;
    });
    try {
      await fill(fd);
      await fchmod(fd, mode); // open's mode is filtered by the umask
    } finally {
      await close(fd);
    }
    this.#files += 1;
    const rel = out.join('/');
    if (this.#layer.kind === 'dependency' ? JAR.test(rel) : rel.endsWith(KAMELET_SUFFIX)) {
      (this.#layer.kind === 'dependency' ? this.#jars : this.#kamelets).push(rel);
    }
  }

  /** Writes `chunk` at `position` of the file (positional: several may be in flight at once). */
  async #append(fd: number, chunk: Buffer, position: number): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await write(fd, chunk, off, chunk.length - off, position + off);
      off += bytesWritten;
    }
    this.#bytes += chunk.length;
  }

  /** A raw layer: the blob is the file. */
  async writeRaw(src: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
    const layer = this.#layer;
    let name = layer.fileName;
    if (name === undefined) {
      if (layer.kind !== 'dependency') throw new FetchError('PLAN_INVALID', `raw kamelets layer ${layer.digest} has no fileName`);
      name = `${digestHex12(layer.digest)}.jar`;
    }
    if (
      name === '' ||
      name === '.' ||
      name === '..' ||
      name.includes('/') ||
      name.includes('\0') ||
      Buffer.byteLength(name, 'utf8') > MAX_NAME_LENGTH
    ) {
      throw new FetchError('PLAN_INVALID', `raw layer ${layer.digest} has an unusable fileName ${JSON.stringify(name)}`);
    }
    const out = layer.kind === 'kamelets' ? ['kamelets', name] : [name];
    this.#spendFile();
    this.#claim(out, name, true);
    await this.#writeFile(out, FILE_MODE, name, async (fd) => {
      let position = 0;
      for await (const chunk of src) {
        this.#spendBytes(chunk.length);
        await this.#append(fd, chunk, position);
        position += chunk.length;
      }
    });
  }

  /**
   * A tar layer: feeds the parser with backpressure and handles its entries one at a time.
   * `fail` records the first error, aborts waits and destroys the source.
   */
  async extractTar(src: AsyncIterable<Buffer> | Iterable<Buffer>, fail: (err: unknown) => Error): Promise<void> {
    const signal = this.abort.signal;
    // Compression was handled before us; `zstd`/`brotli: false` stop the parser from sniffing those,
    // and gzip (which it always sniffs) is refused below, so no byte escapes our meters.
    const parser = new Parser({ strict: true, zstd: false, brotli: false, maxMetaEntrySize: MAX_META_ENTRY_BYTES });
    let chain: Promise<void> = Promise.resolve();
    let sawEof = false;
    let ended = false;
    parser.on('entry', (entry: ReadEntry) => {
      chain = chain
        .then(() => (signal.aborted ? undefined : this.#handleEntry(entry)))
        .catch((err: unknown) => {
          fail(err);
        });
    });
    // Entries the parser would silently skip: unknown types, or meta headers above our bound.
    parser.on('ignoredEntry', (entry: ReadEntry) => {
      fail(
        this.#unsafe(
          entry.path,
          entry.meta
            ? `extended header larger than ${MAX_META_ENTRY_BYTES} bytes`
            : `entry type ${JSON.stringify(entry.type)} is not supported`,
        ),
      );
    });
    parser.on('meta', (text: string) => {
      const bad = nulInMetaName(text);
      if (bad !== undefined) fail(this.#unsafe(bad.replace(/\0/g, '\\0'), 'the name contains a NUL byte'));
    });
    parser.on('error', (err: Error) => fail(err));
    parser.on('eof', () => {
      sawEof = true;
    });
    parser.on('end', () => {
      ended = true;
    });

    const write = async (chunk: Buffer): Promise<void> => {
      let ok: boolean;
      try {
        ok = parser.write(chunk);
      } catch (err) {
        throw fail(err);
      }
      if (signal.aborted) throw signal.reason;
      if (!ok) await once(parser, 'drain', { signal }).catch(() => Promise.reject(signal.reason ?? fail(new Error('tar parser failed'))));
    };

    try {
      let head: Buffer | undefined = Buffer.alloc(0); // held back until compression magic can be ruled out
      for await (const chunk of src) {
        if (signal.aborted) throw signal.reason;
        this.#spendBytes(chunk.length);
        // After the end-of-archive blocks the parser would buffer whatever follows in memory: drain
        // it here instead (still charged to the budget, and read so the upstream verifier sees it).
        if (sawEof) continue;
        let data = chunk;
        if (head !== undefined) {
          head = Buffer.concat([head, chunk]);
          if (head.length < ZSTD_MAGIC.length) continue;
          this.#refuseCompressed(head);
          data = head;
          head = undefined;
        }
        await write(data);
      }
      if (head !== undefined && head.length > 0) {
        this.#refuseCompressed(head);
        await write(head);
      }
      if (signal.aborted) throw signal.reason;
      parser.end();
      if (!ended && !signal.aborted) await once(parser, 'end', { signal }).catch(() => undefined);
      if (signal.aborted) throw signal.reason;
      await chain;
      if (signal.aborted) throw signal.reason;
    } catch (err) {
      throw fail(err);
    } finally {
      // Every handler ends once the signal is aborted (see consumeEntry), so this cannot hang.
      await chain.catch(() => undefined);
    }
  }

  #refuseCompressed(head: Buffer): void {
    const magic = startsWith(head, GZIP_MAGIC) ? 'gzip' : startsWith(head, ZSTD_MAGIC) ? 'zstd' : undefined;
    if (magic !== undefined) {
      const why =
        this.#layer.format === 'tar'
          ? `is declared as an uncompressed tar (${this.#layer.mediaType}) but holds ${magic} data`
          : `holds ${magic} data inside its gzip stream`;
      throw new FetchError('UNSAFE_ARCHIVE', `layer ${this.#layer.digest} ${why}; refusing nested or undeclared compression`, {
        context: { digest: this.#layer.digest },
      });
    }
  }

  async #handleEntry(entry: ReadEntry): Promise<void> {
    this.#spendFile();
    const d = this.#dispose(entry);
    if (d.action === 'skip') {
      if (d.ignored) this.#ignored += 1;
      await drainEntry(entry, this.abort.signal);
      return;
    }
    if (entry.size > this.#budget.bytes) {
      throw new FetchError(
        'SIZE_EXCEEDED',
        `layer ${this.#layer.digest}: entry ${JSON.stringify(entry.path)} declares ${entry.size} bytes, more than the ${this.#budget.bytes} left of the ${this.#limits.maxUnpackedBytes} allowed for all layers (maxUnpackedBytes)`,
        { context: { digest: this.#layer.digest, limit: 'maxUnpackedBytes', max: this.#limits.maxUnpackedBytes } },
      );
    }
    this.#claim(d.out, entry.path, d.renamed);
    await this.#writeFile(d.out, d.mode, entry.path, (fd) =>
      consumeEntry(entry, this.abort.signal, (chunk, position) => this.#append(fd, chunk, position)),
    );
  }
}

/** True when the link target, resolved against `base` segments, climbs above the layer root. */
function escapesBase(base: readonly string[], target: string): boolean {
  let depth = base.length;
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      depth -= 1;
      if (depth < 0) return true;
    } else {
      depth += 1;
    }
  }
  return false;
}

function startsWith(buf: Buffer, magic: Buffer): boolean {
  return buf.length >= magic.length && buf.subarray(0, magic.length).equals(magic);
}

/**
 * The tar library cuts names at the first NUL; a NUL inside a pax `path`/`linkpath` record or a
 * GNU long name is a disguise (`evil.jar\0.txt`), so it is refused instead. Returns the bad name.
 */
function nulInMetaName(text: string): string | undefined {
  if (/^\d+ [^=\n]*=/.test(text)) {
    for (const m of text.matchAll(/(?:^|\n)\d+ (?:path|linkpath)=([^\n]*)/g)) {
      if (m[1]?.includes('\0')) return m[1];
    }
    return undefined;
  }
  const name = text.replace(/\0+$/, '');
  return name.includes('\0') ? name : undefined;
}

/**
 * Writes of one entry in flight at once. A single large layer is a chain (download, sha256,
 * inflate, parse, write) in which one write at a time left the process idle half of the time;
 * positional writes may overlap, and each holds one chunk (64 KiB), so memory stays flat.
 */
const WRITES_IN_FLIGHT = 4;

/**
 * Reads an entry's data through `onChunk(chunk, position)`, up to WRITES_IN_FLIGHT chunks at once
 * (each at its own position in the file; the entry is paused while that many are pending).
 * Settles after every started `onChunk` settled; rejects with the first failure, or as soon as
 * `signal` aborts, since an aborted parser never ends the entry.
 */
function consumeEntry(entry: ReadEntry, signal: AbortSignal, onChunk: (chunk: Buffer, position: number) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const inFlight = new Set<Promise<void>>();
    let position = 0;
    let ended = false;
    let failure: { error: unknown } | undefined;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      if (failure === undefined && !(ended && inFlight.size === 0)) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (failure === undefined) resolve();
      else reject(failure.error);
    };
    const fail = (err: unknown): void => {
      failure ??= { error: err };
      entry.pause();
      // Wait for the writes already started: the caller closes the file after this settles.
      void Promise.allSettled(inFlight).then(settle);
    };
    const onAbort = (): void => fail(signal.reason ?? new Error('aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    entry.on('data', (chunk: Buffer) => {
      if (failure !== undefined) return;
      const write = onChunk(chunk, position).then(
        () => {
          inFlight.delete(write);
          if (failure !== undefined) return;
          if (inFlight.size < WRITES_IN_FLIGHT) entry.resume();
          settle();
        },
        (err: unknown) => {
          inFlight.delete(write);
          fail(err);
        },
      );
      position += chunk.length;
      inFlight.add(write);
      if (inFlight.size >= WRITES_IN_FLIGHT) entry.pause();
    });
    entry.on('end', () => {
      ended = true;
      settle();
    });
    entry.on('error', (err: unknown) => fail(err));
    entry.resume();
  });
}

/** Discards an entry's data. */
function drainEntry(entry: ReadEntry, signal: AbortSignal): Promise<void> {
  return consumeEntry(entry, signal, () => Promise.resolve());
}
