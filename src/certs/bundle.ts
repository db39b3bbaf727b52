/**
 * Reads and writes a certificate bundle directory: `ca.crt`, `tls.crt`, `tls.key` (the file names
 * of a kubernetes.io/tls Secret volume, so the webhook reads a mounted Secret and a local `certs/`
 * the same way), `caBundle`, and optionally the kustomize files from render.ts.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { makeDirectories } from '../base/dirs.js';
import path from 'node:path';
import { ServeError } from '../base/errors.js';
import { checkCertBundle, subjectAltNames } from './inspect.js';
import { KUSTOMIZE_FILES, caBundleOf, renderCaBundlePatch, renderKustomization, renderTlsSecret, type KustomizeNames } from './render.js';
import type { CertBundle } from './x509.js';

/** File names inside a bundle directory. */
export const BUNDLE_FILES = {
  caCert: 'ca.crt',
  cert: 'tls.crt',
  key: 'tls.key',
  caBundle: 'caBundle',
} as const;

/** Mode of files holding a private key (tls.key, secret.yaml): owner only. */
const SECRET_FILE_MODE = 0o600;
/** Mode of public files (certificates, caBundle, patches). */
const PUBLIC_FILE_MODE = 0o644;

/** Absolute paths of a bundle's files. */
export interface BundlePaths {
  readonly dir: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly caBundleFile: string;
}

/** Options of `writeCertBundle`. */
export interface WriteBundleOptions {
  /** Also write secret.yaml, cabundle-patch.yaml and kustomization.yaml with these names. */
  readonly kustomize?: KustomizeNames;
  /** Replace an existing bundle even when it is still valid. */
  readonly force?: boolean;
  /** Clock for the validity check of an existing bundle. */
  readonly now?: Date;
}

/** What `writeCertBundle` did: wrote the files listed, or kept a valid existing bundle (and why). */
export interface WriteBundleResult {
  readonly status: 'written' | 'kept';
  /** Absolute paths written (status written), or the existing bundle's files (status kept). */
  readonly files: readonly string[];
  /** Why an existing bundle was replaced or kept, for the person running the command. */
  readonly reason?: string;
}

/** Returns the absolute paths of the bundle files in `dir`. */
export function bundlePaths(dir: string): BundlePaths {
  const abs = path.resolve(dir);
  return {
    dir: abs,
    caFile: path.join(abs, BUNDLE_FILES.caCert),
    certFile: path.join(abs, BUNDLE_FILES.cert),
    keyFile: path.join(abs, BUNDLE_FILES.key),
    caBundleFile: path.join(abs, BUNDLE_FILES.caBundle),
  };
}

/** Reads ca.crt, tls.crt and tls.key from `dir`; undefined when any of them does not exist. */
export async function readCertBundle(dir: string): Promise<CertBundle | undefined> {
  const p = bundlePaths(dir);
  try {
    const [caCertPem, certPem, keyPem] = await Promise.all([
      readFile(p.caFile, 'utf8'),
      readFile(p.certFile, 'utf8'),
      readFile(p.keyFile, 'utf8'),
    ]);
    return { caCertPem, certPem, keyPem };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ServeError('IO_ERROR', `cannot read the certificate bundle in ${p.dir}: ${(err as Error).message}`, {
      cause: err,
      context: { dir: p.dir },
    });
  }
}

/**
 * Writes `bundle` into `dir`, each file atomically (temporary file, then rename, so a watching
 * webhook never reads half a file). Keeps an existing bundle that is valid for at least the
 * default margin and covers every name of the new certificate, unless `force`.
 */
export async function writeCertBundle(dir: string, bundle: CertBundle, options: WriteBundleOptions = {}): Promise<WriteBundleResult> {
  const p = bundlePaths(dir);
  const now = options.now ?? new Date();
  const fresh = checkCertBundle(bundle, { minRemainingMs: 0, now });
  if (!fresh.ok) throw new ServeError('CONFIG_INVALID', `refusing to write an unusable certificate bundle: ${fresh.reason}`);

  let reason: string | undefined;
  const existing = await readCertBundle(p.dir);
  if (existing !== undefined) {
    const check = checkCertBundle(existing, { ...subjectAltNames(bundle.certPem), now });
    if (check.ok && options.force !== true) {
      return {
        status: 'kept',
        files: [p.caFile, p.certFile, p.keyFile],
        reason: `the certificates in ${p.dir} are valid until ${check.notAfter.toISOString()}; use --force to replace them`,
      };
    }
    reason = check.ok ? 'replaced a valid bundle (--force)' : `replaced the existing bundle: ${check.reason}`;
  }

  await makeDirectories(p.dir, { what: 'certificate directory', code: 'CONFIG_INVALID' });
  const files: Array<[string, string, number]> = [
    // Key first: a watcher that sees the new certificate before its key rejects the pair and waits.
    [p.keyFile, bundle.keyPem, SECRET_FILE_MODE],
    [p.certFile, bundle.certPem, PUBLIC_FILE_MODE],
    [p.caFile, bundle.caCertPem, PUBLIC_FILE_MODE],
    [p.caBundleFile, caBundleOf(bundle.caCertPem), PUBLIC_FILE_MODE],
  ];
  const k = options.kustomize;
  const kustomizePaths = Object.values(KUSTOMIZE_FILES).map((f) => path.join(p.dir, f));
  if (k !== undefined) {
    files.push(
      [path.join(p.dir, KUSTOMIZE_FILES.secret), renderTlsSecret(bundle, k), SECRET_FILE_MODE], // holds the key
      [path.join(p.dir, KUSTOMIZE_FILES.caBundlePatch), renderCaBundlePatch(bundle.caCertPem, k.webhookName), PUBLIC_FILE_MODE],
      [path.join(p.dir, KUSTOMIZE_FILES.kustomization), renderKustomization(k), PUBLIC_FILE_MODE],
    );
  }
  for (const [file, content, mode] of files) await writeFileAtomic(file, content, mode);
  if (k === undefined) {
    // Kustomize files from an earlier run would carry the old key and CA: stale, so remove them.
    await Promise.all(kustomizePaths.map((f) => rm(f, { force: true })));
  }
  return { status: 'written', files: files.map(([f]) => f), ...(reason === undefined ? {} : { reason }) };
}

/**
 * Rewrites the caBundle patch of a kept bundle when it differs from what this version renders for
 * the same CA (a patch from an earlier version covers fewer webhook entries). Only an existing
 * patch is rewritten: without one, the directory holds no kustomize files to keep consistent.
 * Returns the file when it was rewritten.
 */
export async function refreshCaBundlePatch(dir: string, caCertPem: string, webhookName: string): Promise<string | undefined> {
  const file = path.join(bundlePaths(dir).dir, KUSTOMIZE_FILES.caBundlePatch);
  let current: string;
  try {
    current = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ServeError('IO_ERROR', `cannot read ${file}: ${(err as Error).message}`, { cause: err, context: { file } });
  }
  const wanted = renderCaBundlePatch(caCertPem, webhookName);
  if (current === wanted) return undefined;
  await writeFileAtomic(file, wanted, PUBLIC_FILE_MODE);
  return file;
}

/** Writes `content` to a temporary file beside `file` with `mode`, then renames it over `file`. */
async function writeFileAtomic(file: string, content: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    // 'wx': never follow or reuse something already at the temporary name.
    await writeFile(tmp, content, { mode, flag: 'wx' });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new ServeError('IO_ERROR', `cannot write ${file}: ${(err as Error).message}`, { cause: err, context: { file } });
  }
}
