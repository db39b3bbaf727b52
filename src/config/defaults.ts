/**
 * Defaults of the command-line flags that more than one command or module uses, each named once.
 * Pure constants that import nothing, so any layer may read them (the patch builder's volume
 * floor is the serve and inject default). Defaults that are limits of one layer (the fetcher's
 * unpack limits, the certs command's names) stay in that layer and the flag tables read them there.
 */

/** HTTPS port of `serve`, and the port used when `CAMEL_OCI_PORT` is a docker-link value. */
export const DEFAULT_PORT = 8443;

/**
 * `serve`'s separate plain-HTTP metrics listener is off unless asked for: a fixed default port
 * made a second `serve` on one machine (a test, a developer's second webhook, Prometheus itself on
 * 9090) fail to start, and refused `--port 9090`. The Deployment asks for it (`CAMEL_OCI_METRICS_PORT=9090`,
 * manifests/base/deployment.yaml), where the pod has the port to itself.
 */
export const DEFAULT_METRICS_PORT = 'off';

/** Default fetch deadline: inside Camel K's 60 s progress deadline, with room for the JVM to start. */
export const DEFAULT_FETCH_TIMEOUT = '50s';

/**
 * Default floor of the emptyDir `sizeLimit`. The limit is a ceiling the kubelet enforces by
 * eviction, not a reservation, so a generous value costs nothing and covers typical dependency sets.
 */
export const DEFAULT_VOLUME_SIZE_LIMIT = '512Mi';

/** Overall deadline of the commands run by hand (`resolve`, `inject`). */
export const DEFAULT_COMMAND_TIMEOUT = '30s';

/** How long a tag resolution is reused. */
export const DEFAULT_TAG_TTL = '60s';

/** How long a previous tag resolution may be used when the registry fails. */
export const DEFAULT_STALE_GRACE = '10m';

/** How long `serve` keeps answering after SIGTERM while endpoints drop the pod. */
export const DEFAULT_SHUTDOWN_DELAY = '5s';

/** Where `serve` makes its development certificate when no `--tls-cert` is given. */
export const DEFAULT_DEV_CERTS_DIR = 'certs/dev';

/** The address `serve` listens on with a development certificate: this machine only. */
export const DEV_LISTEN_ADDRESS = '127.0.0.1';

/** The fetcher's volume root: the only place it writes. */
export const DEFAULT_FETCH_ROOT = '/camel-oci';

/** Where the kubelet reads a container's termination message. */
export const DEFAULT_TERMINATION_LOG = '/dev/termination-log';

/** Layers the fetcher downloads at once. */
export const DEFAULT_PARALLEL = 4;

/** Most layers downloaded at once: each holds a connection and a decompressor. */
export const MAX_PARALLEL = 32;

/** Longest `--validity-days` of `certs`: ten years. */
export const MAX_VALIDITY_DAYS = 3650;

/** pino levels accepted by `--log-level`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** A `--log-level` value. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Values of `serve --on-error`. */
export const ON_ERROR_MODES = ['deny', 'allow'] as const;

/** What `serve` does with a pod whose references cannot be resolved. */
export type OnErrorMode = (typeof ON_ERROR_MODES)[number];

/** Values of `serve --pull-secrets`. */
export const PULL_SECRETS_MODES = ['auto', 'true', 'false'] as const;

/** `serve --pull-secrets`: read pods' pull secrets when in a cluster (`auto`), always, or never. */
export type PullSecretsMode = (typeof PULL_SECRETS_MODES)[number];

/** Blobs `push` uploads at once: a few, so one slow blob does not hold the rest. */
export const DEFAULT_PUSH_PARALLEL = 3;
/** Most blobs `push` uploads at once. */
export const MAX_PUSH_PARALLEL = 16;
/** Deadline of a whole `push`: uploads of hundreds of MiB over a slow link. */
export const DEFAULT_PUSH_TIMEOUT = '10m';

/** Deadline of one Kubernetes API request of `audit`. */
export const DEFAULT_AUDIT_REQUEST_TIMEOUT = '15s';
/** Deadline of a whole `audit`. */
export const DEFAULT_AUDIT_TIMEOUT = '2m';
