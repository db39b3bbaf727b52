/**
 * The flags of every subcommand, with their defaults and help text: the one source for argv
 * parsing, `--help`, the loaders' defaults and the README's configuration tables
 * (`npm run docs:flags`). Cheap to load: the CLI parses argv and prints help with these tables and
 * loads a command's code (express, tar, node-forge...) only when that command runs, so the init
 * container's `fetch` starts without the webhook's weight.
 */
import type { FlagTable } from './flags.js';
import { formatSize } from './flags.js';
import {
  DEFAULT_AUDIT_REQUEST_TIMEOUT,
  DEFAULT_AUDIT_TIMEOUT,
  DEFAULT_COMMAND_TIMEOUT,
  DEFAULT_DEV_CERTS_DIR,
  DEFAULT_FETCH_ROOT,
  DEFAULT_FETCH_TIMEOUT,
  DEFAULT_METRICS_PORT,
  DEFAULT_PARALLEL,
  DEFAULT_PORT,
  DEFAULT_PUSH_PARALLEL,
  DEFAULT_PUSH_TIMEOUT,
  DEFAULT_SHUTDOWN_DELAY,
  DEFAULT_STALE_GRACE,
  DEFAULT_TAG_TTL,
  DEFAULT_TERMINATION_LOG,
  DEFAULT_VOLUME_SIZE_LIMIT,
} from './defaults.js';
import { DEFAULT_NAMESPACE, DEFAULT_OUT_DIR, DEFAULT_SERVICE, DEFAULT_VALIDITY_DAYS } from '../certs/defaults.js';
import { MAX_FILES, MAX_LAYER_BYTES, MAX_UNPACKED_BYTES } from '../fetch/limits.js';
import { DEFAULT_PLATFORM } from '../oci/manifest.js';
import { PULL_SECRETS_MOUNT_PATH } from '../plan/env.js';

/** The registry flags shared by resolve, serve, inject and fetch. */
export const REGISTRY_FLAGS: FlagTable = {
  'registry-config': { type: 'list', description: 'docker config JSON (.dockerconfigjson) with registry credentials; repeatable' },
  'insecure-registry': {
    type: 'list',
    description:
      'host[:port] spoken to over plain HTTP (a host named exactly may also be at a private or loopback address); repeatable or comma separated',
  },
  'allow-registry': {
    type: 'list',
    description: 'only these registries (host, host:port, *.domain) are allowed; also allows them at private/loopback addresses',
  },
  'ca-file': { type: 'list', description: 'extra PEM CA bundle trusted for registry TLS; repeatable' },
  'registry-mirror': {
    type: 'list',
    description:
      'UPSTREAM=MIRROR[,MIRROR...] (host[:port]): mirrors tried in order before UPSTREAM, their bytes checked against the digests; repeatable',
  },
};

/** How serve and inject shape the injection beyond the fetcher's image and deadline. */
const INJECTION_FLAGS: FlagTable = {
  'image-volumes': {
    type: 'boolean',
    description:
      'mount artifacts in the camel-oci image layout (camel-oci push) as image volumes instead of fetching them; needs Kubernetes 1.33+ with ImageVolume and a runtime that supports it',
  },
  'mesh-exclusions': {
    type: 'string',
    default: 'auto',
    description:
      "auto | off: add Istio's and Linkerd's outbound-port exclusions for the registries to pods with the init container (off: for sidecars that start before init containers, or egress the mesh must see)",
  },
};

/** Flags of the resolver (resolve, serve, inject). */
export const RESOLVER_FLAGS: FlagTable = {
  ...REGISTRY_FLAGS,
  platform: { type: 'string', default: DEFAULT_PLATFORM, description: 'os/arch[/variant] chosen from an index' },
  'tag-ttl': { type: 'string', default: DEFAULT_TAG_TTL, description: 'how long a tag resolution is reused' },
  'stale-grace': {
    type: 'string',
    default: DEFAULT_STALE_GRACE,
    description: 'how long a previous tag resolution may be used when the registry fails',
  },
};

/** Flags of `serve` (each also read from `CAMEL_OCI_<FLAG>`). */
export const SERVE_FLAGS: FlagTable = {
  port: { type: 'string', default: String(DEFAULT_PORT), description: 'HTTPS port' },
  address: { type: 'string', description: 'address to listen on (default 0.0.0.0 with --tls-cert, else 127.0.0.1)' },
  'metrics-port': {
    type: 'string',
    default: DEFAULT_METRICS_PORT,
    description:
      'plain-HTTP port serving only GET /metrics, on the same address as --port (the Deployment uses 9090); 0 or off: none (GET /metrics stays on the HTTPS port)',
  },
  'tls-cert': { type: 'string', description: 'PEM serving certificate (reloaded when the file changes)' },
  'tls-key': { type: 'string', description: 'PEM private key of --tls-cert' },
  'certs-dir': {
    type: 'string',
    default: DEFAULT_DEV_CERTS_DIR,
    description: 'where the development certificate is made when --tls-cert is not given',
  },
  // Self-managed certificates (README.md, "Install on a cluster"): the webhook owns the TLS Secret and the caBundle.
  certificates: {
    type: 'string',
    default: 'files',
    description:
      'files (--tls-cert/--tls-key, or a development certificate) | self-managed (create, rotate and publish them through the Kubernetes API)',
  },
  'tls-secret': {
    type: 'string',
    default: 'camel-oci-tls',
    description: "self-managed: the kubernetes.io/tls Secret in the webhook's namespace",
  },
  'webhook-configuration': {
    type: 'string',
    default: 'camel-oci',
    description: 'self-managed: the MutatingWebhookConfiguration whose caBundles it sets',
  },
  'tls-service': {
    type: 'string',
    default: 'camel-oci',
    description: 'self-managed: the Service whose DNS names the serving certificate carries',
  },
  'fetcher-image': { type: 'string', description: 'image of the injected camel-oci-fetch init container (default camel-oci:<version>)' },
  'on-error': { type: 'string', default: 'deny', description: 'deny | allow: what to do with a pod whose references cannot be resolved' },
  'volume-size-limit': { type: 'string', default: DEFAULT_VOLUME_SIZE_LIMIT, description: 'floor of the camel-oci emptyDir sizeLimit' },
  'fetch-timeout': { type: 'string', default: DEFAULT_FETCH_TIMEOUT, description: 'deadline handed to the fetcher (its --timeout)' },
  ...INJECTION_FLAGS,
  'pull-secrets': {
    type: 'string',
    default: 'auto',
    description: "read the pod's imagePullSecrets from the Kubernetes API: auto (when in a cluster) | true | false",
  },
  'log-level': { type: 'string', default: 'info', description: 'trace | debug | info | warn | error' },
  'shutdown-delay': {
    type: 'string',
    default: DEFAULT_SHUTDOWN_DELAY,
    description: 'on SIGTERM, keep serving (reporting not ready) this long before closing, while endpoints drop the pod',
  },
  ...RESOLVER_FLAGS,
};

/** Flags of `fetch` (each also read from `CAMEL_OCI_<FLAG>`, except `--plan`: `CAMEL_OCI_PLAN` holds the plan itself). */
export const FETCH_FLAGS: FlagTable = {
  root: { type: 'string', default: DEFAULT_FETCH_ROOT, description: 'volume root; the only place fetch writes' },
  plan: {
    type: 'string',
    noEnv: true,
    envNote: '(none: `CAMEL_OCI_PLAN` holds the plan itself)',
    description: 'read the plan from this file instead of $CAMEL_OCI_PLAN',
  },
  timeout: { type: 'string', default: DEFAULT_FETCH_TIMEOUT, description: 'deadline of the whole run (60s, 500ms, or seconds)' },
  parallel: { type: 'string', default: String(DEFAULT_PARALLEL), description: 'layers downloaded at once' },
  'pull-secrets-dir': {
    type: 'string',
    default: PULL_SECRETS_MOUNT_PATH,
    description: 'directory of projected pull secrets (<name>/.dockerconfigjson)',
  },
  'max-unpacked-bytes': { type: 'string', default: formatSize(MAX_UNPACKED_BYTES), description: 'limit on bytes unpacked over all layers' },
  'max-files': { type: 'string', default: String(MAX_FILES), description: 'limit on archive entries over all layers' },
  'max-layer-bytes': { type: 'string', default: formatSize(MAX_LAYER_BYTES), description: 'limit on one layer blob' },
  'termination-log': {
    type: 'string',
    default: DEFAULT_TERMINATION_LOG,
    description: 'where the failure message goes for kubectl describe (when the file exists)',
  },
  'ca-pem': {
    type: 'string',
    description:
      'PEM text of extra CA certificates trusted for registry TLS besides --ca-file (the webhook sets CAMEL_OCI_CA_PEM from its own --ca-file)',
  },
  ...REGISTRY_FLAGS,
};

/** Flags of `resolve`. */
export const RESOLVE_FLAGS: FlagTable = {
  ...RESOLVER_FLAGS,
  json: { type: 'boolean', description: 'print JSON (an array with one object per reference, in order)' },
  timeout: { type: 'string', default: DEFAULT_COMMAND_TIMEOUT, description: 'overall deadline' },
};

/** Flags of `inject`. */
export const INJECT_FLAGS: FlagTable = {
  filename: { type: 'string', short: 'f', description: 'YAML file to inject, or - for standard input' },
  'fetcher-image': { type: 'string', description: 'image of the camel-oci-fetch init container (default camel-oci:<version>)' },
  'volume-size-limit': { type: 'string', default: DEFAULT_VOLUME_SIZE_LIMIT, description: 'floor of the camel-oci emptyDir sizeLimit' },
  'fetch-timeout': { type: 'string', default: DEFAULT_FETCH_TIMEOUT, description: 'deadline handed to the fetcher' },
  ...INJECTION_FLAGS,
  timeout: { type: 'string', default: DEFAULT_COMMAND_TIMEOUT, description: 'overall deadline for resolving references' },
  ...RESOLVER_FLAGS,
};

/** Flags of `certs`. */
export const CERTS_FLAGS: FlagTable = {
  service: { type: 'string', default: DEFAULT_SERVICE, description: 'webhook Service name' },
  namespace: { type: 'string', default: DEFAULT_NAMESPACE, description: 'namespace of the Service' },
  out: {
    type: 'string',
    default: DEFAULT_OUT_DIR,
    description: 'directory to write ca.crt, tls.crt, tls.key, caBundle and the kustomize pieces',
  },
  'validity-days': { type: 'string', default: String(DEFAULT_VALIDITY_DAYS), description: 'validity of the CA and certificate' },
  'dns-name': { type: 'list', description: 'extra DNS names in the serving certificate' },
  'ip-address': { type: 'list', description: 'IP addresses in the serving certificate' },
  force: { type: 'boolean', description: 'replace a bundle that is still valid' },
};

/** Flags of `push`. */
export const PUSH_FLAGS: FlagTable = {
  dependency: { type: 'list', description: 'a jar, or a directory whose *.jar become one layer under dependencies/<name>/; repeatable' },
  kamelets: { type: 'list', description: 'a directory whose *.kamelet.yaml become one layer under kamelets/<name>/kamelets/; repeatable' },
  'oci-layout': { type: 'string', description: 'write an OCI image layout to this directory (tag from REF) instead of pushing' },
  'mount-from': { type: 'string', description: 'repository of the same registry to mount blobs from instead of uploading them' },
  platform: {
    type: 'string',
    default: DEFAULT_PLATFORM,
    description: 'os/arch[/variant] written into the image config (matched when mounted as an image volume)',
  },
  parallel: { type: 'string', default: String(DEFAULT_PUSH_PARALLEL), description: 'blobs uploaded at once' },
  timeout: { type: 'string', default: DEFAULT_PUSH_TIMEOUT, description: 'overall deadline of the upload' },
  ...REGISTRY_FLAGS,
};

/** Flags of `audit` (no `CAMEL_OCI_*` variables: the kubeconfig comes from KUBECONFIG as for kubectl). */
export const AUDIT_FLAGS: FlagTable = {
  namespace: { type: 'string', short: 'n', description: "namespace to audit (default: the kubeconfig context's, else default)" },
  'all-namespaces': { type: 'boolean', short: 'A', description: 'audit every namespace' },
  output: { type: 'string', short: 'o', default: 'table', description: 'table | json' },
  'check-tags': {
    type: 'boolean',
    description: 'resolve each requested tag once now and report tags that moved since pinning (uses the registry flags)',
  },
  'request-timeout': { type: 'string', default: DEFAULT_AUDIT_REQUEST_TIMEOUT, description: 'deadline of each Kubernetes API request' },
  timeout: { type: 'string', default: DEFAULT_AUDIT_TIMEOUT, description: 'deadline of the whole audit' },
  ...REGISTRY_FLAGS,
  platform: { type: 'string', default: DEFAULT_PLATFORM, description: 'os/arch[/variant] chosen from an index by --check-tags' },
};
