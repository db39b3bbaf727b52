/**
 * Names camel-oci reads from and writes into pods (DESIGN.md, "The Kubernetes contract"). These are
 * public contract: manifests, users and the audit command depend on them. Pure constants.
 */

/** Pod annotation (input): the references to inject, separated by commas or white space. */
export const ANNOTATION_DEPENDENCIES = 'camel.apache.org/container-dependencies';

/** Pod annotation (output): compact JSON recording, per reference, the pinned digest and selected layers. */
export const ANNOTATION_RESOLVED = 'camel.apache.org/container-dependencies.resolved';

/** Pod annotation (opt out): with value {@link OPT_OUT_VALUE} the pod is left alone. */
export const ANNOTATION_OPT_OUT = 'camel.apache.org/oci-injection';

/** The value of {@link ANNOTATION_OPT_OUT} that opts a pod out. */
export const OPT_OUT_VALUE = 'disabled';

/** Label Camel K puts on every integration pod; its value is the Integration name. */
export const LABEL_INTEGRATION = 'camel.apache.org/integration';

/** Annotation naming the container `kubectl` (and camel-oci) treat as the main one. */
export const ANNOTATION_DEFAULT_CONTAINER = 'kubectl.kubernetes.io/default-container';

/** Name of the init container that fetches the planned layers. */
export const INIT_CONTAINER_NAME = 'camel-oci-fetch';

/** Name of the emptyDir volume shared by the init container and the integration container. */
export const VOLUME_NAME = 'camel-oci';

/** Name of the projected volume carrying the pod's image pull secrets to the init container. */
export const PULL_SECRETS_VOLUME_NAME = 'camel-oci-pull-secrets';

/**
 * Where the pull secrets are mounted (read-only) in the init container. Each pull secret `S` appears
 * as `S/.dockerconfigjson` (type kubernetes.io/dockerconfigjson) or `S/.dockercfg` (legacy
 * kubernetes.io/dockercfg), whichever key the secret has.
 */
export const PULL_SECRETS_MOUNT_PATH = '/var/run/camel-oci/pull-secrets';

/** Env var of the init container holding the fetch plan (compact JSON, see src/plan.ts). */
export const ENV_PLAN = 'CAMEL_OCI_PLAN';

/** Env var of the integration container holding the classpath entries when it has no `-cp` argument. */
export const ENV_CLASSPATH = 'CAMEL_OCI_CLASSPATH';

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

/** Env var Camel K sets on the integration container (value: the Integration name). */
export const ENV_CAMEL_K_INTEGRATION = 'CAMEL_K_INTEGRATION';

/** Knative Serving's sidecar: never modified, whatever the selection rules say. */
export const KNATIVE_QUEUE_PROXY = 'queue-proxy';
