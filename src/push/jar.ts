/**
 * Maven coordinates of a jar: a small, bounded reader of a zip's central directory that finds
 * `META-INF/maven/<groupId>/<artifactId>/pom.properties` and reads its groupId, artifactId and
 * version. Pure apart from zlib's inflate (no files, no network).
 *
 * Zip layout (APPNOTE 6.3.x): the end-of-central-directory record (EOCD, signature 0x06054b50) is
 * in the last 22 + 65535 bytes; it gives the central directory's offset and entry count; each
 * central entry (0x02014b50) gives the method, sizes and the offset of its local header
 * (0x04034b50), after which the data starts past the local name and extra fields.
 */
import { inflateRawSync } from 'node:zlib';

/** Central directory entries looked at, at most: a jar with more is read no further. */
export const MAX_ZIP_ENTRIES = 100_000;
/** pom.properties larger than this is not read (real ones are a few hundred bytes). */
export const MAX_POM_PROPERTIES_BYTES = 64 * 1024;

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_MIN = 22;
const MAX_COMMENT = 0xffff;
const STORED = 0;
const DEFLATED = 8;
const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;

/** Maven coordinates as pom.properties gives them. */
export interface MavenCoordinates {
  readonly groupId: string;
  readonly artifactId: string;
  readonly version: string;
}

/** True when `bytes` starts like a zip (a local header, or the EOCD of an empty zip). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const sig = Buffer.from(bytes.buffer, bytes.byteOffset, 4).readUInt32LE(0);
  return sig === LOCAL_SIGNATURE || sig === EOCD_SIGNATURE;
}

function findEocd(buf: Buffer): number | undefined {
  const stop = Math.max(0, buf.length - EOCD_MIN - MAX_COMMENT);
  for (let i = buf.length - EOCD_MIN; i >= stop; i--) {
    if (buf.readUInt32LE(i) === EOCD_SIGNATURE && i + EOCD_MIN + buf.readUInt16LE(i + 20) === buf.length) return i;
  }
  return undefined;
}

/** Parses `key=value` lines of a Java properties file (the subset Maven writes: no continuations). */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!.trim());
  }
  return out;
}

/** Reads the data of one entry; undefined when it is not readable within the bounds. */
function entryData(buf: Buffer, localOffset: number, method: number, compressedSize: number, size: number): Buffer | undefined {
  if (size > MAX_POM_PROPERTIES_BYTES || localOffset + 30 > buf.length || buf.readUInt32LE(localOffset) !== LOCAL_SIGNATURE)
    return undefined;
  const start = localOffset + 30 + buf.readUInt16LE(localOffset + 26) + buf.readUInt16LE(localOffset + 28);
  if (start + compressedSize > buf.length) return undefined;
  const data = buf.subarray(start, start + compressedSize);
  if (method === STORED) return compressedSize === size ? data : undefined;
  if (method !== DEFLATED || compressedSize > MAX_POM_PROPERTIES_BYTES) return undefined;
  try {
    // maxOutputLength bounds a lying size: inflate stops (throws) past it.
    const out = inflateRawSync(data, { maxOutputLength: MAX_POM_PROPERTIES_BYTES });
    return out.length === size ? out : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Returns the Maven coordinates a jar's `pom.properties` gives, or undefined when there is none or
 * the zip is not readable. A shaded jar holds several: the one matching `fileName`
 * (`<artifactId>-<version>*.jar`) is taken, else none. Never throws on malformed input: the
 * caller then names the layer after the file.
 */
export function mavenCoordinates(jar: Uint8Array, fileName?: string): MavenCoordinates | undefined {
  const buf = Buffer.from(jar.buffer, jar.byteOffset, jar.byteLength);
  if (buf.length < EOCD_MIN) return undefined;
  const eocd = findEocd(buf);
  if (eocd === undefined) return undefined;
  const count = buf.readUInt16LE(eocd + 10);
  let offset = buf.readUInt32LE(eocd + 16);
  const found: MavenCoordinates[] = [];
  for (let i = 0; i < Math.min(count, MAX_ZIP_ENTRIES); i++) {
    if (offset + 46 > buf.length || buf.readUInt32LE(offset) !== CENTRAL_SIGNATURE) return undefined;
    const method = buf.readUInt16LE(offset + 10);
    const compressedSize = buf.readUInt32LE(offset + 20);
    const size = buf.readUInt32LE(offset + 24);
    const nameLength = buf.readUInt16LE(offset + 28);
    const extraLength = buf.readUInt16LE(offset + 30);
    const commentLength = buf.readUInt16LE(offset + 32);
    const localOffset = buf.readUInt32LE(offset + 42);
    if (offset + 46 + nameLength > buf.length) return undefined;
    const name = buf.toString('utf8', offset + 46, offset + 46 + nameLength);
    if (POM_PROPERTIES.test(name)) {
      const data = entryData(buf, localOffset, method, compressedSize, size);
      const props = data === undefined ? undefined : parseProperties(data.toString('utf8'));
      const groupId = props?.get('groupId');
      const artifactId = props?.get('artifactId');
      const version = props?.get('version');
      if (groupId && artifactId && version) found.push({ groupId, artifactId, version });
    }
    offset += 46 + nameLength + extraLength + commentLength;
  }
  const distinct = new Set(found.map(formatCoordinates));
  if (distinct.size === 1) return found[0];
  const matching = found.filter((c) => fileName?.startsWith(`${c.artifactId}-${c.version}`));
  return new Set(matching.map(formatCoordinates)).size === 1 ? matching[0] : undefined;
}

/** `groupId:artifactId:version`, the form Camel K's `-d mvn:` takes. */
export function formatCoordinates(c: MavenCoordinates): string {
  return `${c.groupId}:${c.artifactId}:${c.version}`;
}
