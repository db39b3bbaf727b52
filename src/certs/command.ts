/**
 * `camel-oci certs`: generates a CA and a serving certificate for the webhook Service and writes
 * them, the caBundle and the kustomize pieces to a directory. The CLI parses argv into
 * `CertsCommandOptions`; this module does the work and says what it wrote.
 */
import path from 'node:path';
import { bundlePaths, readCertBundle, writeCertBundle } from './bundle.js';
import { checkCertBundle, subjectAltNames } from './inspect.js';
import { KUSTOMIZE_FILES, caBundleOf } from './render.js';
import { generateCa, issueServingCert, serviceDnsNames } from './x509.js';

export {
  CA_COMMON_NAME,
  DEFAULT_NAMESPACE,
  DEFAULT_OUT_DIR,
  DEFAULT_SECRET_NAME,
  DEFAULT_SERVICE,
  DEFAULT_VALIDITY_DAYS,
  DEFAULT_WEBHOOK_NAME,
} from './defaults.js';
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
  /** The caBundle value in effect (of the new or the kept CA). */
  readonly caBundle: string;
  readonly notAfter: Date;
}

const stdoutOutput: CertsCommandOutput = { log: (line) => process.stdout.write(`${line}\n`) };

/** Runs `camel-oci certs`: keeps a still-valid bundle for the same names unless `force`, else generates and writes a new one. */
export async function certsCommand(options: CertsCommandOptions = {}, output: CertsCommandOutput = stdoutOutput): Promise<CertsCommandResult> {
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
      output.log(`kept ${show(p.dir)}: its certificates are valid for ${dnsNames.join(', ')} until ${check.notAfter.toISOString()}; use --force to replace them`);
      return { status: 'kept', dir: p.dir, files: [p.caFile, p.certFile, p.keyFile], caBundle: caBundleOf(existing.caCertPem), notAfter: check.notAfter };
    }
    output.log(`replacing ${show(p.dir)}: ${check.reason}`);
  }

  const ca = await generateCa({ commonName: CA_COMMON_NAME, validityDays });
  const bundle = await issueServingCert(ca, { service, namespace, validityDays, extraDnsNames, ipAddresses });
  const result = await writeCertBundle(p.dir, bundle, {
    force: true, // decided above
    kustomize: {
      secretName: options.secretName ?? DEFAULT_SECRET_NAME,
      namespace,
      webhookName: options.webhookName ?? DEFAULT_WEBHOOK_NAME,
    },
  });
  for (const file of result.files) output.log(`wrote ${show(file)}`);
  const san = subjectAltNames(bundle.certPem);
  const check = checkCertBundle(bundle, { minRemainingMs: 0 });
  const notAfter = check.ok ? check.notAfter : new Date(0);
  output.log(`serving certificate for ${[...san.dnsNames, ...san.ipAddresses].join(', ')}, valid until ${notAfter.toISOString()}`);
  output.log(
    `apply with kustomize: list ${show(p.dir)} (relative to the overlay) under "components:" of an overlay of the base; ` +
      `its ${KUSTOMIZE_FILES.kustomization} adds Secret ${options.secretName ?? DEFAULT_SECRET_NAME} and patches the caBundle of ` +
      `MutatingWebhookConfiguration ${options.webhookName ?? DEFAULT_WEBHOOK_NAME}`,
  );
  output.log(
    `or with kubectl: kubectl apply -f ${show(path.join(p.dir, KUSTOMIZE_FILES.secret))} && ` +
      `kubectl patch mutatingwebhookconfiguration ${options.webhookName ?? DEFAULT_WEBHOOK_NAME} --type=json ` +
      `--patch-file ${show(path.join(p.dir, KUSTOMIZE_FILES.caBundlePatch))}`,
  );
  return { status: 'written', dir: p.dir, files: result.files, caBundle: caBundleOf(bundle.caCertPem), notAfter };
}

/** A path relative to the working directory when it is inside it, else absolute. */
function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}
