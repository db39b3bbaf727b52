/** Defaults of `camel-oci certs`, apart from the heavy X.509 code so the CLI can show them cheaply. */

/** Service name of the kustomize base. */
export const DEFAULT_SERVICE = 'camel-oci';
/** Namespace of the kustomize base. */
export const DEFAULT_NAMESPACE = 'camel-oci';
/** Output directory, relative to the working directory (the repository's git-ignored certs/). */
export const DEFAULT_OUT_DIR = 'certs';
/** Validity of a generated CA and serving certificate: a year, so rotation is a yearly chore, not a weekly one. */
export const DEFAULT_VALIDITY_DAYS = 365;
/** Name of the kubernetes.io/tls Secret the Deployment mounts. */
export const DEFAULT_SECRET_NAME = 'camel-oci-tls';
/** Name of the MutatingWebhookConfiguration in the kustomize base. */
export const DEFAULT_WEBHOOK_NAME = 'camel-oci';
/** Common name of the generated CA. */
export const CA_COMMON_NAME = 'camel-oci webhook CA';
