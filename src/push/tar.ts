/**
 * A reproducible ustar writer for the layers `camel-oci push` makes. Pure: bytes in, bytes out.
 *
 * Reproducible by construction: entries sorted by path (byte order), every time field 0, owner
 * 0:0 with empty user and group names, modes 0644 (files) and 0755 (directories), no pax or GNU
 * headers, and the two zero blocks at the end with no padding to a record size.
 */
import { PushError } from './errors.js';

const BLOCK = 512;
/** ustar's name field, and its prefix field for the directories in front of it. */
const NAME_BYTES = 100;
const PREFIX_BYTES = 155;

/** One entry of a layer: a regular file with its bytes, or a directory. */
export type PackEntry =
  { readonly type: 'file'; readonly path: string; readonly data: Uint8Array } | { readonly type: 'dir'; readonly path: string };

function writeField(header: Buffer, value: string, offset: number, length: number): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new PushError('CONFIG_INVALID', `tar field ${JSON.stringify(value)} is longer than ${length} bytes`);
  bytes.copy(header, offset);
}

function writeOctal(header: Buffer, value: number, offset: number, length: number): void {
  // length-1 octal digits and a NUL, as GNU tar and Go's archive/tar write them.
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new PushError('SIZE_EXCEEDED', `tar value ${value} does not fit a ${length}-byte ustar field`);
  header.write(`${digits.padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}

/** Splits a path into ustar's prefix and name fields; throws when it cannot fit (no pax headers here). */
function splitName(path: string): { prefix: string; name: string } {
  const bytes = Buffer.byteLength(path, 'utf8');
  if (bytes <= NAME_BYTES) return { prefix: '', name: path };
  // The prefix ends at a slash that is not the path's last character (a directory's trailing slash).
  for (let i = path.lastIndexOf('/', path.length - 2); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix, 'utf8') <= PREFIX_BYTES && Buffer.byteLength(name, 'utf8') <= NAME_BYTES) return { prefix, name };
    if (Buffer.byteLength(prefix, 'utf8') <= PREFIX_BYTES) break;
  }
  throw new PushError(
    'CONFIG_INVALID',
    `path ${JSON.stringify(path)} is too long for a ustar header (name ≤ ${NAME_BYTES} bytes after a directory prefix ≤ ${PREFIX_BYTES}); use a shorter name`,
  );
}

function header(entry: PackEntry): Buffer {
  const h = Buffer.alloc(BLOCK);
  const path = entry.type === 'dir' && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path;
  const { prefix, name } = splitName(path);
  writeField(h, name, 0, NAME_BYTES);
  writeOctal(h, entry.type === 'dir' ? 0o755 : 0o644, 100, 8);
  writeOctal(h, 0, 108, 8); // uid
  writeOctal(h, 0, 116, 8); // gid
  writeOctal(h, entry.type === 'file' ? entry.data.length : 0, 124, 12);
  writeOctal(h, 0, 136, 12); // mtime: fixed, so the same files give the same bytes
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h.write(entry.type === 'dir' ? '5' : '0', 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  writeOctal(h, 0, 329, 8); // devmajor
  writeOctal(h, 0, 337, 8); // devminor
  writeField(h, prefix, 345, PREFIX_BYTES);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/** Byte-order comparison of paths, so the order never depends on a locale. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Writes a tar of `entries`, sorted by path. Paths must be relative, `/`-separated, without `.`
 * or `..` segments, and unique; anything else is a bug in the caller and throws.
 */
export function writeTar(entries: readonly PackEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => comparePaths(a.path, b.path));
  const parts: Buffer[] = [];
  let previous: string | undefined;
  for (const entry of sorted) {
    const segments = entry.path.replace(/\/$/, '').split('/');
    if (entry.path.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..')) {
      throw new PushError('INTERNAL', `tar entry path ${JSON.stringify(entry.path)} is not a clean relative path`);
    }
    if (entry.path === previous) throw new PushError('NAME_COLLISION', `two tar entries at ${entry.path}`);
    previous = entry.path;
    parts.push(header(entry));
    if (entry.type === 'file' && entry.data.length > 0) {
      parts.push(Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength));
      const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
      if (pad > 0) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}
