/**
 * `camel-oci certs`: generates a CA and a serving certificate for the webhook Service and writes
 * them, the caBundle and the kustomize pieces to a directory. The CLI parses argv into
 * `CertsCommandOptions`; this module does the work and says what it wrote.
 */
import path from 'node:path';
import { bundlePaths, readCertBundle, writeCertBundle } from './bundle.js';
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
  const p = bundlePaths(options.out ?? DEFAULT_OUT_DIR);
  const dnsNames = [...serviceDnsNames(service, namespace), ...extraDnsNames]; // validates the names first
  const show = (file: string): string => displayPath(file);

  // Decide before generating: key generation is the slow part and a kept bundle needs none.
  const existing = await readCertBundle(p.dir);
  if (existing !== undefined && options.force !== true) {
    const check = checkCertBundle(existing, { dnsNames, ipAddresses });
    if (check.ok) {
      output.log(
        `kept ${show(p.dir)}: its certificates are valid for ${dnsNames.join(', ')} until ${check.notAfter.toISOString()}; use --force to replace them`,
      );
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
  const secretName = options.secretName ?? DEFAULT_SECRET_NAME;
  const webhookName = options.webhookName ?? DEFAULT_WEBHOOK_NAME;
  const result = await writeCertBundle(p.dir, bundle, {
    force: true, // decided above
    now,
    kustomize: { secretName, namespace, webhookName },
  });
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
