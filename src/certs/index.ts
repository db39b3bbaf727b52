/** The certificates module's public API: CA and serving certificates, bundle files, dev defaults and `camel-oci certs`. */
export { generateCa, issueCert, issueServingCert, serviceDnsNames, MAX_VALIDITY_DAYS, CLOCK_SKEW_MS, CLUSTER_DOMAIN } from './x509.js';
export type { CertBundle, CertificateAuthority, CaOptions, CertOptions, ServingCertOptions } from './x509.js';
export { generateRsaKeyPair, signSha256Rsa, RSA_MODULUS_BITS } from './keys.js';
export type { KeyPairPem } from './keys.js';
export { checkCertBundle, subjectAltNames, DEFAULT_MIN_REMAINING_MS } from './inspect.js';
export type { BundleCheck, BundleRequirements } from './inspect.js';
export { caBundleOf, renderTlsSecret, renderCaBundlePatch, renderKustomization, CA_BUNDLE_PATCH_PATH, KUSTOMIZE_FILES } from './render.js';
export type { KustomizeNames } from './render.js';
export { rotateTrustBundle, splitPemCertificates, MAX_TRUSTED_CAS } from './trust.js';
export type { CaSummary, DroppedCa, RotatedTrust } from './trust.js';
export { bundlePaths, readCertBundle, writeCertBundle, BUNDLE_FILES } from './bundle.js';
export type { BundlePaths, WriteBundleOptions, WriteBundleResult } from './bundle.js';
export { ensureDevCerts, DEV_DNS_NAMES, DEV_IP_ADDRESSES, DEV_VALIDITY_DAYS, DEV_CA_COMMON_NAME } from './dev.js';
export type { DevCerts } from './dev.js';
export {
  certsCommand,
  DEFAULT_SERVICE,
  DEFAULT_NAMESPACE,
  DEFAULT_OUT_DIR,
  DEFAULT_VALIDITY_DAYS,
  DEFAULT_SECRET_NAME,
  DEFAULT_WEBHOOK_NAME,
  CA_COMMON_NAME,
} from './command.js';
export type { CertsCommandOptions, CertsCommandOutput, CertsCommandResult } from './command.js';
