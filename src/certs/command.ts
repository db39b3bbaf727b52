/**
 * `camel-oci certs`: generates a CA and a serving certificate for the webhook Service and writes
 * them, the caBundle and the kustomize pieces to a directory. The CLI parses argv into
 * `CertsCommandOptions`; this module does the work and says what it wrote.
 */
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ServeError } from '../base/errors.js';
import { BUNDLE_FILES, bundlePaths, readCertBundle, refreshCaBundlePatch, writeCertBundle } from './bundle.js';
import { checkCertBundle, subjectAltNames } from './inspect.js';
import { KUSTOMIZE_FILES, caBundleOf } from './render.js';
import { rotateTrustBundle, type CaSummary } from './trust.js';
import { generateCa, issueServingCert, serviceDnsNames } from './x509.js';

export * from './defaults.js';
import {
  CA_COMMON_NAME,
  DEFAULT_NAMESPACE,
  DEFAULT_OUT_DIR,
  DEFAULT_SECRET_NAME,
  DEFAULT_SERVICE,
  DEFAULT_VALIDITY_DAYS,
  DEFAULT_WEBHOOK_NAME,
} from './defaults.js';

/** Options of `camel-oci certs` (`--service`, `--namespace`, `--out`, `--validity-days`, `--force`, ...). */
export interface CertsCommandOptions {
  readonly service?: string;
  readonly namespace?: string;
  readonly out?: string;
  readonly validityDays?: number;
  readonly force?: boolean;
  readonly secretName?: string;
  readonly webhookName?: string;
  /** More DNS names for the serving certificate (e.g. localhost for a port-forward). */
  readonly extraDnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
}

/** Where `certsCommand` prints; the CLI passes stdout. */
export interface CertsCommandOutput {
  log(line: string): void;
}

/** What `certsCommand` did. */
export interface CertsCommandResult {
  readonly status: 'written' | 'kept';
  readonly dir: string;
  readonly files: readonly string[];
  /** The caBundle value in effect: base64 of ca.crt (the new CA, then the previous one if carried). */
  readonly caBundle: string;
  readonly notAfter: Date;
  /** The previous CA still trusted in caBundle beside the new one (status written, when it had not expired). */
  readonly previousCa?: CaSummary;
}

const stdoutOutput: CertsCommandOutput = { log: (line) => process.stdout.write(`${line}\n`) };

/**
 * Runs `camel-oci certs`: keeps a still-valid bundle for the same names unless `force`, else
 * generates and writes a new one. A replaced bundle's CA that has not expired stays in ca.crt and
 * caBundle after the new one (only that one: see trust.ts), so applying both at once is safe.
 */
export async function certsCommand(
  options: CertsCommandOptions = {},
  output: CertsCommandOutput = stdoutOutput,
): Promise<CertsCommandResult> {
  const service = options.service ?? DEFAULT_SERVICE;
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const validityDays = options.validityDays ?? DEFAULT_VALIDITY_DAYS;
  const extraDnsNames = options.extraDnsNames ?? [];
  const ipAddresses = options.ipAddresses ?? [];
  const secretName = options.secretName ?? DEFAULT_SECRET_NAME;
  const webhookName = options.webhookName ?? DEFAULT_WEBHOOK_NAME;
  const kustomize = { secretName, namespace, webhookName };
  const p = bundlePaths(options.out ?? DEFAULT_OUT_DIR);
  const dnsNames = [...serviceDnsNames(service, namespace), ...extraDnsNames]; // validates the names first
  const show = (file: string): string => displayPath(file);

  // Decide before generating: key generation is the slow part and a kept bundle needs none.
  const existing = await readCertBundle(p.dir);
  if (options.force !== true) await refuseForeignFiles(p.dir, existing !== undefined);
  if (existing !== undefined && options.force !== true) {
    const check = checkCertBundle(existing, { dnsNames, ipAddresses });
    if (check.ok) {
      output.log(
        `kept ${show(p.dir)}: its certificates are valid for ${dnsNames.join(', ')} until ${check.notAfter.toISOString()}; use --force to replace them`,
      );
      // A run that failed midway, or a hand that deleted one, left the bundle without some of its files:
      // write them again from the kept certificates (the same CA and key).
      const missing = await missingFiles(p.dir);
      if (missing.length > 0) {
        await writeCertBundle(p.dir, existing, { force: true, kustomize });
        output.log(`restored ${missing.map(show).join(', ')} from the kept certificates`);
      }
      // Same CA, but a patch from an earlier version may miss a webhook entry: that entry would trust nothing.
      const refreshed = await refreshCaBundlePatch(p.dir, existing.caCertPem, webhookName);
      if (refreshed !== undefined)
        output.log(`updated ${show(refreshed)}: the caBundle now goes to every webhook entry (same CA); apply it again`);
      return {
        status: 'kept',
        dir: p.dir,
        files: [p.caFile, p.certFile, p.keyFile],
        caBundle: caBundleOf(existing.caCertPem),
        notAfter: check.notAfter,
      };
    }
    output.log(`replacing ${show(p.dir)}: ${check.reason}`);
  }

  const now = new Date();
  const ca = await generateCa({ commonName: CA_COMMON_NAME, validityDays, now });
  const issued = await issueServingCert(ca, { service, namespace, validityDays, extraDnsNames, ipAddresses, now });
  // The pods serve the old certificate until kubelet delivers the new Secret: keep its CA trusted.
  const trust = rotateTrustBundle(issued.caCertPem, existing?.caCertPem, now);
  const bundle = { ...issued, caCertPem: trust.caCertPem };
  const result = await writeCertBundle(p.dir, bundle, { force: true /* decided above */, now, kustomize });
  for (const file of result.files) output.log(`wrote ${show(file)}`);
  const san = subjectAltNames(bundle.certPem);
  const check = checkCertBundle(bundle, { minRemainingMs: 0, now });
  const notAfter = check.ok ? check.notAfter : new Date(0);
  output.log(`serving certificate for ${[...san.dnsNames, ...san.ipAddresses].join(', ')}, valid until ${notAfter.toISOString()}`);
  for (const d of trust.dropped)
    output.log(`dropped ${d.ca === undefined ? 'an unreadable certificate' : `CA ${describeCa(d.ca)}`} from caBundle: ${d.reason}`);
  if (trust.carried !== undefined) {
    output.log(
      `note: the old CA ${describeCa(trust.carried)} stays trusted in caBundle until the next rotation, so the pods' ` +
        'current certificate is accepted while the new Secret propagates; run `camel-oci certs --force` again after ' +
        'the pods serve the new certificate to drop it',
    );
  }
  output.log(
    'apply with: kubectl apply -k manifests/ (manifests/kustomization.yaml takes the Secret and the caBundle patch from ' +
      `../${DEFAULT_OUT_DIR} as a component)`,
  );
  if (path.basename(p.dir) !== DEFAULT_OUT_DIR) {
    output.log(
      `  ${show(p.dir)} is not a certs/ beside manifests/: list it under "components:" of your kustomization of manifests/base instead`,
    );
  }
  output.log(
    `or without kustomize: kubectl apply -f ${show(path.join(p.dir, KUSTOMIZE_FILES.secret))} && ` +
      `kubectl patch mutatingwebhookconfiguration ${webhookName} --type=json ` +
      `--patch-file ${show(path.join(p.dir, KUSTOMIZE_FILES.caBundlePatch))}`,
  );
  return {
    status: 'written',
    dir: p.dir,
    files: result.files,
    caBundle: caBundleOf(bundle.caCertPem),
    notAfter,
    ...(trust.carried === undefined ? {} : { previousCa: trust.carried }),
  };
}

/** `CN=... (SHA-256 AB:CD:..., valid until ...)`, enough to tell two CAs of the same name apart. */
function describeCa(ca: CaSummary): string {
  return `${ca.subject} (SHA-256 ${ca.fingerprint256.slice(0, 23)}..., valid until ${ca.notAfter.toISOString()})`;
}

/** A path relative to the working directory when it is inside it, else absolute. */
function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Files a `certs` run writes, by name. */
const WRITTEN_FILES = [BUNDLE_FILES.caCert, BUNDLE_FILES.cert, BUNDLE_FILES.key, BUNDLE_FILES.caBundle, ...Object.values(KUSTOMIZE_FILES)];
/** What the files this command generates say of themselves (render.ts), beside the certificates. */
const GENERATED_MARKER = /generated by camel-oci certs/i;

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new ServeError('IO_ERROR', `cannot read ${file}: ${(err as Error).message}`, { cause: err, context: { file } });
  }
}

/** The files of a bundle in `dir` that are not there. */
async function missingFiles(dir: string): Promise<string[]> {
  const all = WRITTEN_FILES.map((f) => path.join(dir, f));
  const there = await Promise.all(all.map(exists));
  return all.filter((_, i) => !there[i]);
}

/**
 * Refuses, without --force, to write over files this command did not make, in a directory that
 * holds no whole bundle (ca.crt, tls.crt and tls.key together): some of those certificates alone,
 * or a kustomization or caBundle patch without the line these files are generated with. A whole
 * bundle is taken as this command's, as before (files of earlier versions may lack the line).
 * Nothing is written then.
 */
async function refuseForeignFiles(dir: string, wholeBundle: boolean): Promise<void> {
  const refuse = (what: string): never => {
    throw new ServeError(
      'CONFIG_INVALID',
      `${what} in ${displayPath(dir)}: not replaced; move it away, choose another --out, or pass --force to replace it`,
      {
        context: { dir },
      },
    );
  };
  if (wholeBundle) return;
  const core = [BUNDLE_FILES.caCert, BUNDLE_FILES.cert, BUNDLE_FILES.key];
  const present = (await Promise.all(core.map((f) => exists(path.join(dir, f))))).flatMap((there, i) => (there ? [core[i]!] : []));
  if (present.length > 0) refuse(`${present.join(', ')} without the rest of a camel-oci certs bundle (${core.join(', ')})`);
  for (const name of [KUSTOMIZE_FILES.kustomization, KUSTOMIZE_FILES.caBundlePatch]) {
    const file = path.join(dir, name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new ServeError('IO_ERROR', `cannot read ${file}: ${(err as Error).message}`, { cause: err, context: { file } });
    }
    if (!GENERATED_MARKER.test(text)) refuse(`${name}, which camel-oci certs did not write,`);
  }
}
