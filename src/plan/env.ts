/**
 * The init container's contract with the webhook: the environment variables the webhook sets on
 * `camel-oci-fetch` and the paths both sides agree on (docs/architecture.md, "The fetcher's
 * contract"). Each `CAMEL_OCI_<FLAG>` name follows the fetch command's flag of that name. Pure
 * constants, imported by inject/ (which writes them) and fetch/ (which reads them).
 */

/**
 * Where the pull secrets are mounted (read-only) in the init container. Each pull secret `S` appears
 * as `S/.dockerconfigjson` (type kubernetes.io/dockerconfigjson) or `S/.dockercfg` (legacy
 * kubernetes.io/dockercfg), whichever key the secret has.
 */
export const PULL_SECRETS_MOUNT_PATH = '/var/run/camel-oci/pull-secrets';

/** Env var of the init container holding the fetch plan (compact JSON, see src/plan/plan.ts). */
export const ENV_PLAN = 'CAMEL_OCI_PLAN';

/**
 * Env var of the init container holding the whole-fetch timeout in seconds (set only when configured).
 * Follows the `CAMEL_OCI_<FLAG>` rule for the fetch command's `--timeout` flag.
 */
export const ENV_FETCH_TIMEOUT = 'CAMEL_OCI_TIMEOUT';

/**
 * Env var of the init container holding the PEM text of extra CA certificates it trusts for
 * registry TLS (set only when the webhook has `--ca-file`). Follows the `CAMEL_OCI_<FLAG>` rule for
 * the fetch command's `--ca-pem` flag. Certificates only: they are public, so an env var in the pod
 * spec is a fine carrier; nothing secret ever goes this way.
 */
export const ENV_CA_PEM = 'CAMEL_OCI_CA_PEM';

/**
 * Env var of the init container holding its limit on unpacked bytes: the emptyDir `sizeLimit` in
 * use, so the fetcher fails with SIZE_EXCEEDED before the kubelet evicts the pod for filling the
 * volume. Follows the `CAMEL_OCI_<FLAG>` rule for the fetch command's `--max-unpacked-bytes` flag.
 */
export const ENV_MAX_UNPACKED_BYTES = 'CAMEL_OCI_MAX_UNPACKED_BYTES';

/**
 * Env var of the init container listing the webhook's `--allow-registry` entries (comma separated;
 * set only when the webhook has some), so token realms and redirects the fetcher meets obey the
 * same policy. Follows the `CAMEL_OCI_<FLAG>` rule.
 */
export const ENV_ALLOW_REGISTRY = 'CAMEL_OCI_ALLOW_REGISTRY';

/**
 * Env var of the init container listing the webhook's `--insecure-registry` entries (comma
 * separated; set only when the webhook has some). Follows the `CAMEL_OCI_<FLAG>` rule.
 */
export const ENV_INSECURE_REGISTRY = 'CAMEL_OCI_INSECURE_REGISTRY';

/**
 * Bound on {@link ENV_CA_PEM}: room for a few dozen certificates (one is 1-2 KiB), far below the
 * pod object's size budget, which the plan and the user's own spec share.
 */
export const MAX_CA_PEM_BYTES = 64 * 1024;
