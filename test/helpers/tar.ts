/**
 * Writes raw ustar archives byte by byte for tests, including archives no honest tool would make
 * (absolute paths, `..`, escaping links, devices, fifos, lying sizes, NULs in names, pax and GNU
 * long-name headers), plus endless zero streams to build decompression bombs without storing them.
 */
import { Readable } from 'node:stream';

const BLOCK = 512;

/** Entry types by name, and their ustar typeflag. */
export const TYPEFLAGS = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
  pax: 'x',
  paxGlobal: 'g',
  gnuLongName: 'L',
  gnuLongLink: 'K',
  sparse: 'S',
} as const;

/** One entry to write. */
export interface TarEntry {
  /** Written verbatim (UTF-8) into the name field; may contain anything, NULs included. */
  readonly path: string;
  /** Entry type by name, or a raw one-character typeflag. Default 'file'. */
  readonly type?: keyof typeof TYPEFLAGS | { readonly flag: string };
  /** The data written after the header (default empty), padded to a block. */
  readonly body?: Buffer | string;
  /** Size written in the header; defaults to the body's length. Lie with it to test limits. */
  readonly size?: number;
  readonly linkpath?: string;
  /** Default 0o644 (0o755 for directories). */
  readonly mode?: number;
  /** Records for a pax 'x' header written just before this entry (e.g. `{ path: 'long/...' }`). */
  readonly pax?: Readonly<Record<string, string>>;
  /** Writes a GNU 'L' header carrying this name just before the entry. */
  readonly gnuLongName?: string;
}

function writeString(buf: Buffer, value: string, offset: number, length: number): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar helper: ${JSON.stringify(value)} does not fit ${length} bytes; use pax or gnuLongName`);
  bytes.copy(buf, offset);
}

function writeOctal(buf: Buffer, value: number, offset: number, length: number): void {
  const digits = value.toString(8);
  if (digits.length <= length - 1) {
    buf.write(digits.padStart(length - 1, '0') + '\0', offset, length, 'ascii');
    return;
  }
  // GNU base-256: high bit of the first byte set, big-endian value in the rest.
  let v = BigInt(value);
  for (let i = length - 1; i > 0; i--) {
    buf[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[offset] = 0x80;
}

/** Builds one 512-byte ustar header with a correct checksum. */
export function tarHeader(h: {
  path: string;
  flag: string;
  size: number;
  mode: number;
  linkpath?: string;
  devmajor?: number;
  devminor?: number;
}): Buffer {
  const buf = Buffer.alloc(BLOCK);
  writeString(buf, h.path, 0, 100);
  writeOctal(buf, h.mode, 100, 8);
  writeOctal(buf, 1000, 108, 8); // uid
  writeOctal(buf, 1000, 116, 8); // gid
  writeOctal(buf, h.size, 124, 12);
  writeOctal(buf, 1_700_000_000, 136, 12); // mtime
  buf.write(h.flag, 156, 1, 'ascii');
  writeString(buf, h.linkpath ?? '', 157, 100);
  buf.write('ustar\0', 257, 6, 'ascii');
  buf.write('00', 263, 2, 'ascii');
  writeString(buf, 'test', 265, 32);
  writeString(buf, 'test', 297, 32);
  writeOctal(buf, h.devmajor ?? 0, 329, 8);
  writeOctal(buf, h.devminor ?? 0, 337, 8);
  buf.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  let sum = 0;
  for (const byte of buf) sum += byte;
  buf.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return buf;
}

function padding(length: number): Buffer {
  return Buffer.alloc((BLOCK - (length % BLOCK)) % BLOCK);
}

/** Encodes pax records (`<len> key=value\n`, the length counting itself). */
export function paxRecords(records: Readonly<Record<string, string>>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    const bodyLen = Buffer.byteLength(body, 'utf8');
    let len = bodyLen + 1;
    while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
    parts.push(Buffer.from(`${len}${body}`, 'utf8'));
  }
  return Buffer.concat(parts);
}

/** Header, body and padding of one entry (with its pax / GNU long-name header first, if asked). */
export function tarEntry(e: TarEntry): Buffer {
  const parts: Buffer[] = [];
  if (e.pax !== undefined) {
    const records = paxRecords(e.pax);
    parts.push(
      tarHeader({ path: 'PaxHeader/x', flag: TYPEFLAGS.pax, size: records.length, mode: 0o644 }),
      records,
      padding(records.length),
    );
  }
  if (e.gnuLongName !== undefined) {
    const name = Buffer.from(`${e.gnuLongName}\0`, 'utf8');
    parts.push(
      tarHeader({ path: '././@LongLink', flag: TYPEFLAGS.gnuLongName, size: name.length, mode: 0o644 }),
      name,
      padding(name.length),
    );
  }
  const type = e.type ?? 'file';
  const flag = typeof type === 'string' ? TYPEFLAGS[type] : type.flag;
  const body = typeof e.body === 'string' ? Buffer.from(e.body, 'utf8') : (e.body ?? Buffer.alloc(0));
  // With a pax or GNU name the header's own name field is only a fallback; keep it when it fits.
  const long = e.pax?.path !== undefined || e.gnuLongName !== undefined;
  const path = long && Buffer.byteLength(e.path, 'utf8') > 100 ? 'placeholder' : e.path;
  const header: Parameters<typeof tarHeader>[0] = {
    path,
    flag,
    size: e.size ?? body.length,
    mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
  };
  if (e.linkpath !== undefined && e.pax?.linkpath === undefined) header.linkpath = e.linkpath;
  parts.push(tarHeader(header), body, padding(body.length));
  return Buffer.concat(parts);
}

/** The two zero blocks that end an archive. */
export const TAR_EOF = Buffer.alloc(2 * BLOCK);

/** A whole archive; `eof: false` leaves out the end-of-archive blocks (to append more). */
export function tar(entries: readonly TarEntry[], options: { readonly eof?: boolean } = {}): Buffer {
  return Buffer.concat([...entries.map(tarEntry), ...(options.eof === false ? [] : [TAR_EOF])]);
}

/** Streams `prefix` then `total` zero bytes in `chunk`-sized pieces, generated lazily; reports bytes produced. */
export function zeroStream(total: number, prefix: Buffer = Buffer.alloc(0), chunk = 1024 * 1024): Readable & { produced(): number } {
  const zeros = Buffer.alloc(chunk);
  let produced = 0;
  function* generate(): Generator<Buffer> {
    if (prefix.length > 0) {
      produced += prefix.length;
      yield prefix;
    }
    for (let left = total; left > 0; left -= chunk) {
      const piece = left >= chunk ? zeros : zeros.subarray(0, left);
      produced += piece.length;
      yield piece;
    }
  }
  return Object.assign(Readable.from(generate(), { objectMode: false }), { produced: () => produced });
}
