/** Lists a tar with node-tar (a reader independent of camel-oci's own), in archive order. */
import { Parser } from 'tar';

/** One entry as node-tar read it. */
export interface Listed {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  uname: string;
  data: Buffer;
}

/** Lists a tar's entries with their fields and data. */
export async function listTar(tar: Buffer): Promise<Listed[]> {
  const out: Listed[] = [];
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      onReadEntry: (entry) => {
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () =>
          out.push({
            path: entry.path,
            type: entry.type,
            mode: entry.mode ?? -1,
            uid: entry.uid ?? -1,
            gid: entry.gid ?? -1,
            mtime: entry.mtime?.getTime() ?? -1,
            size: entry.size ?? -1,
            uname: entry.uname ?? '',
            data: Buffer.concat(chunks),
          }),
        );
      },
    });
    parser.on('end', resolve);
    parser.on('error', reject);
    parser.end(tar);
  });
  return out;
}
