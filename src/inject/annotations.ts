/**
 * Names camel-oci reads from and writes into pods (docs/architecture.md, "Kubernetes names"). These are
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

/** Prefix of the `image` volumes of image-volume mode: `camel-oci-image-<hex12 of the manifest digest>`. */
export const IMAGE_VOLUME_PREFIX = 'camel-oci-image-';

/** Name of the projected volume carrying the pod's image pull secrets to the init container. */
export const PULL_SECRETS_VOLUME_NAME = 'camel-oci-pull-secrets';

/** Env var of the integration container holding the classpath entries when it has no `-cp` argument. */
export const ENV_CLASSPATH = 'CAMEL_OCI_CLASSPATH';

/** Env var Camel K sets on the integration container (value: the Integration name). */
export const ENV_CAMEL_K_INTEGRATION = 'CAMEL_K_INTEGRATION';

/** Knative Serving's sidecar: never modified, whatever the selection rules say. */
export const KNATIVE_QUEUE_PROXY = 'queue-proxy';

/** Integration/Pipe annotation (output): the requested references, each `name:tag@sha256:…`, comma separated, in request order. */
export const ANNOTATION_PINNED = 'camel.apache.org/container-dependencies.pinned';

/** Integration/Pipe annotation (input): any new value re-resolves the tags at that write. */
export const ANNOTATION_REFRESH = 'camel.apache.org/oci-refresh';

/** Env var set through `spec.traits.environment.vars` to the pinned list, so new pins roll the Deployment. */
export const ENV_DEPENDENCIES = 'CAMEL_OCI_DEPENDENCIES';
