/** `camel-oci serve`'s configuration: every flag and `CAMEL_OCI_*` variable, validated once. */
import path from 'node:path';
import { CamelOciError } from '../base/errors.js';
import { DEFAULT_METRICS_PORT, DEFAULT_PORT, DEV_LISTEN_ADDRESS, LOG_LEVELS, ON_ERROR_MODES, PULL_SECRETS_MODES } from './defaults.js';
import type { LogLevel, OnErrorMode, PullSecretsMode } from './defaults.js';
import type { FetcherConfig } from './fetcher.js';
import { loadFetcherConfig } from './fetcher.js';
import type { ParsedFlags } from './flags.js';
import { deepFreeze, parseCount, parseDuration, requiredStringFlag, stringFlag } from './flags.js';
import type { ResolverConfig } from './registry.js';
import { loadResolverConfig } from './registry.js';

/** Highest TCP port. */
const MAX_PORT = 65535;

/** The serving certificate: given files (reloaded when they change), or a development one made in a directory. */
export type ServeTls =
  | { readonly kind: 'files'; readonly certFile: string; readonly keyFile: string }
  | { readonly kind: 'development'; readonly certsDir: string }
  /** The webhook creates, rotates and publishes its certificate through the Kubernetes API. */
  | { readonly kind: 'self-managed'; readonly secretName: string; readonly webhookName: string; readonly service: string };

/** Everything `serve` runs with. */
export interface ServeConfig {
  readonly port: number;
  /** Plain-HTTP port of the separate metrics listener (same address as `port`); undefined: no such listener. */
  readonly metricsPort: number | undefined;
  /** Where to listen; undefined: all addresses (dual-stack where IPv6 exists). */
  readonly address: string | undefined;
  readonly tls: ServeTls;
  readonly onError: OnErrorMode;
  readonly logLevel: LogLevel;
  readonly shutdownDelayMs: number;
  /** `--pull-secrets` as given, for the Kubernetes reader. */
  readonly pullSecretsMode: PullSecretsMode;
  /** Whether pods' pull secrets are read: `true`, or `auto` inside a cluster. */
  readonly readPullSecrets: boolean;
  readonly fetcher: FetcherConfig;
  readonly resolver: ResolverConfig;
}

function isOneOf<T extends string>(values: readonly T[], value: string | undefined): value is T {
  return (values as readonly (string | undefined)[]).includes(value);
}

/**
 * Loads `serve`'s configuration from parsed flags (which already hold the `CAMEL_OCI_*` values) and
 * the environment (only `KUBERNETES_SERVICE_HOST`, for `--pull-secrets auto`). Throws
 * CONFIG_INVALID naming the flag.
 */
export function loadServeConfig(flags: ParsedFlags, env: Readonly<Record<string, string | undefined>>): ServeConfig {
  if (flags.positionals.length > 0)
    throw new CamelOciError('CONFIG_INVALID', `camel-oci serve takes no arguments (got ${flags.positionals.join(' ')})`);
  // Kubernetes gives pods docker-link variables for the Services of their namespace; a Service named
  // camel-oci yields CAMEL_OCI_PORT=tcp://10.0.0.1:443, which is not our --port. (The manifests set
  // enableServiceLinks: false; this keeps a Deployment without it from crash-looping.)
  const portText = requiredStringFlag(flags, 'port');
  const port = /^tcp:\/\//.test(portText) ? DEFAULT_PORT : parseCount(portText, 'port', MAX_PORT);
  const metricsPort = parseMetricsPort(requiredStringFlag(flags, 'metrics-port'), port);
  const logLevel = requiredStringFlag(flags, 'log-level');
  if (!isOneOf(LOG_LEVELS, logLevel))
    throw new CamelOciError('CONFIG_INVALID', `--log-level must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(logLevel)}`);
  const shutdownDelayMs = parseDuration(requiredStringFlag(flags, 'shutdown-delay'), 'shutdown-delay');
  const onError = stringFlag(flags, 'on-error');
  if (!isOneOf(ON_ERROR_MODES, onError))
    throw new CamelOciError('CONFIG_INVALID', `--on-error must be deny or allow, not ${JSON.stringify(onError)}`);
  const certFile = stringFlag(flags, 'tls-cert');
  const keyFile = stringFlag(flags, 'tls-key');
  const certificates = requiredStringFlag(flags, 'certificates');
  if (certificates !== 'files' && certificates !== 'self-managed') {
    throw new CamelOciError('CONFIG_INVALID', `--certificates must be files or self-managed, not ${JSON.stringify(certificates)}`);
  }
  if (certificates === 'self-managed' && (certFile !== undefined || keyFile !== undefined)) {
    throw new CamelOciError(
      'CONFIG_INVALID',
      '--certificates self-managed takes its certificate from the TLS Secret: drop --tls-cert and --tls-key',
    );
  }
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new CamelOciError('CONFIG_INVALID', '--tls-cert and --tls-key go together: give both, or neither for a development certificate');
  }
  const tls: ServeTls =
    certificates === 'self-managed'
      ? {
          kind: 'self-managed',
          secretName: requiredStringFlag(flags, 'tls-secret'),
          webhookName: requiredStringFlag(flags, 'webhook-configuration'),
          service: requiredStringFlag(flags, 'tls-service'),
        }
      : certFile !== undefined && keyFile !== undefined
        ? { kind: 'files', certFile, keyFile }
        : { kind: 'development', certsDir: path.resolve(requiredStringFlag(flags, 'certs-dir')) };
  const fetcher = loadFetcherConfig(flags);
  const resolver = loadResolverConfig(flags);
  const pullSecretsMode = requiredStringFlag(flags, 'pull-secrets');
  if (!isOneOf(PULL_SECRETS_MODES, pullSecretsMode)) {
    throw new CamelOciError('CONFIG_INVALID', `--pull-secrets must be auto, true or false, not ${JSON.stringify(pullSecretsMode)}`);
  }
  return deepFreeze({
    port,
    metricsPort,
    // In a cluster, no address: Node listens on :: (dual-stack) where IPv6 exists, else on 0.0.0.0.
    address: stringFlag(flags, 'address') ?? (tls.kind === 'development' ? DEV_LISTEN_ADDRESS : undefined),
    tls,
    onError,
    logLevel,
    shutdownDelayMs,
    pullSecretsMode,
    readPullSecrets: pullSecretsMode === 'true' || (pullSecretsMode === 'auto' && env.KUBERNETES_SERVICE_HOST !== undefined),
    fetcher,
    resolver,
  });
}

/**
 * `--metrics-port`: a port, or `0`/`off` for no separate listener. A docker-link value (a Service
 * named camel-oci-metrics gives pods CAMEL_OCI_METRICS_PORT=tcp://...) means the default, as for
 * `--port`. The webhook's own port is refused: one port cannot speak both HTTPS and plain HTTP.
 */
function parseMetricsPort(text: string, webhookPort: number): number | undefined {
  const t = text.trim().toLowerCase();
  if (/^tcp:\/\//.test(t)) return parseMetricsPort(DEFAULT_METRICS_PORT, webhookPort);
  if (t === 'off' || t === '0') return undefined;
  const port = /^\d+$/.test(t) ? Number(t) : Number.NaN;
  if (!(port >= 1 && port <= MAX_PORT)) {
    throw new CamelOciError(
      'CONFIG_INVALID',
      `--metrics-port: ${JSON.stringify(text)} must be a port from 1 to ${MAX_PORT}, or 0 or off for none`,
    );
  }
  if (port === webhookPort) {
    throw new CamelOciError('CONFIG_INVALID', `--metrics-port ${port} is also --port: give the metrics listener its own port, or off`);
  }
  return port;
}
