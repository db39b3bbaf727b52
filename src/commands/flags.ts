/**
 * The flags of every subcommand, apart from the commands themselves: the CLI parses argv and
 * prints help with these tables, and loads a command's code (express, tar, node-forge...) only
 * when that command runs. The init container's `fetch` thus starts without the webhook's weight.
 */
import { REGISTRY_FLAGS, RESOLVER_FLAGS } from '../config.js';
import type { FlagTable } from '../config.js';
import { DEFAULT_NAMESPACE, DEFAULT_OUT_DIR, DEFAULT_SERVICE, DEFAULT_VALIDITY_DAYS } from '../certs/defaults.js';
import { DEFAULT_UNPACK_LIMITS } from '../fetch/limits.js';

/** Where the webhook's projected volume puts the pod's pull secrets. */
export const DEFAULT_PULL_SECRETS_DIR = '/var/run/camel-oci/pull-secrets';
/** Default fetch deadline: inside Camel K's 60 s progress deadline, with room for the JVM to start. */
export const DEFAULT_FETCH_TIMEOUT = '50s';

/** Flags of `serve` (each also read from `CAMEL_OCI_<FLAG>`). */
export const SERVE_FLAGS: FlagTable = {
  port: { type: 'string', default: '8443', description: 'HTTPS port' },
  address: { type: 'string', description: 'address to listen on (default 0.0.0.0 with --tls-cert, else 127.0.0.1)' },
  'tls-cert': { type: 'string', description: 'PEM serving certificate (reloaded when the file changes)' },
  'tls-key': { type: 'string', description: 'PEM private key of --tls-cert' },
  'certs-dir': { type: 'string', default: 'certs/dev', description: 'where the development certificate is made when --tls-cert is not given' },
  'fetcher-image': { type: 'string', description: 'image of the injected camel-oci-fetch init container (default camel-oci:<version>)' },
  'on-error': { type: 'string', default: 'deny', description: 'deny | allow: what to do with a pod whose references cannot be resolved' },
  'volume-size-limit': { type: 'string', default: '512Mi', description: 'floor of the camel-oci emptyDir sizeLimit' },
  'fetch-timeout': { type: 'string', default: '50s', description: 'deadline handed to the fetcher (its --timeout)' },
  'pull-secrets': {
    type: 'string',
    default: 'auto',
    description: 'read the pod\'s imagePullSecrets from the Kubernetes API: auto (when in a cluster) | true | false',
  },
  'log-level': { type: 'string', default: 'info', description: 'trace | debug | info | warn | error' },
  'shutdown-delay': {
    type: 'string',
    default: '5s',
    description: 'on SIGTERM, keep serving (reporting not ready) this long before closing, while endpoints drop the pod',
  },
  ...RESOLVER_FLAGS,
};

/** Flags of `fetch` (each also read from `CAMEL_OCI_<FLAG>`, except `--plan`: `CAMEL_OCI_PLAN` holds the plan itself). */
export const FETCH_FLAGS: FlagTable = {
  root: { type: 'string', default: '/camel-oci', description: 'volume root; the only place fetch writes' },
  plan: { type: 'string', noEnv: true, description: 'read the plan from this file instead of $CAMEL_OCI_PLAN' },
  timeout: { type: 'string', default: DEFAULT_FETCH_TIMEOUT, description: 'deadline of the whole run (60s, 500ms, or seconds)' },
  parallel: { type: 'string', default: '4', description: 'layers downloaded at once' },
  'pull-secrets-dir': { type: 'string', default: DEFAULT_PULL_SECRETS_DIR, description: 'directory of projected pull secrets (<name>/.dockerconfigjson)' },
  'max-unpacked-bytes': { type: 'string', default: '1Gi', description: 'limit on bytes unpacked over all layers' },
  'max-files': { type: 'string', default: String(DEFAULT_UNPACK_LIMITS.maxFiles), description: 'limit on archive entries over all layers' },
  'max-layer-bytes': { type: 'string', default: '512Mi', description: 'limit on one layer blob' },
  'termination-log': { type: 'string', default: '/dev/termination-log', description: 'where the failure message goes for kubectl describe (when the file exists)' },
  'ca-pem': {
    type: 'string',
    description: 'PEM text of extra CA certificates trusted for registry TLS besides --ca-file (the webhook sets CAMEL_OCI_CA_PEM from its own --ca-file)',
  },
  ...REGISTRY_FLAGS,
};

/** Flags of `resolve`. */
export const RESOLVE_FLAGS: FlagTable = {
  ...RESOLVER_FLAGS,
  json: { type: 'boolean', description: 'print JSON (an array with one object per reference, in order)' },
  timeout: { type: 'string', default: '30s', description: 'overall deadline' },
};

/** Flags of `inject`. */
export const INJECT_FLAGS: FlagTable = {
  filename: { type: 'string', short: 'f', description: 'YAML file to inject, or - for standard input' },
  'fetcher-image': { type: 'string', description: 'image of the camel-oci-fetch init container (default camel-oci:<version>)' },
  'volume-size-limit': { type: 'string', default: '512Mi', description: 'floor of the camel-oci emptyDir sizeLimit' },
  'fetch-timeout': { type: 'string', default: '50s', description: 'deadline handed to the fetcher' },
  timeout: { type: 'string', default: '30s', description: 'overall deadline for resolving references' },
  ...RESOLVER_FLAGS,
};

/** Flags of `certs`. */
export const CERTS_FLAGS: FlagTable = {
  service: { type: 'string', default: DEFAULT_SERVICE, description: 'webhook Service name' },
  namespace: { type: 'string', default: DEFAULT_NAMESPACE, description: 'namespace of the Service' },
  out: { type: 'string', default: DEFAULT_OUT_DIR, description: 'directory to write ca.crt, tls.crt, tls.key, caBundle and the kustomize pieces' },
  'validity-days': { type: 'string', default: String(DEFAULT_VALIDITY_DAYS), description: 'validity of the CA and certificate' },
  'dns-name': { type: 'list', description: 'extra DNS names in the serving certificate' },
  'ip-address': { type: 'list', description: 'IP addresses in the serving certificate' },
  force: { type: 'boolean', description: 'replace a bundle that is still valid' },
};

/** Flags of `audit` (no `CAMEL_OCI_*` variables: the kubeconfig comes from KUBECONFIG as for kubectl). */
export const AUDIT_FLAGS: FlagTable = {
  namespace: { type: 'string', short: 'n', description: 'namespace to audit (default: the kubeconfig context\'s, else default)' },
  'all-namespaces': { type: 'boolean', short: 'A', description: 'audit every namespace' },
  output: { type: 'string', short: 'o', default: 'table', description: 'table | json' },
  'check-tags': { type: 'boolean', description: 'resolve each requested tag once now and report tags that moved since pinning (uses the registry flags)' },
  'request-timeout': { type: 'string', default: '15s', description: 'deadline of each Kubernetes API request' },
  timeout: { type: 'string', default: '2m', description: 'deadline of the whole audit' },
  ...REGISTRY_FLAGS,
  platform: { type: 'string', default: 'linux/amd64', description: 'os/arch[/variant] chosen from an index by --check-tags' },
};
