/** `camel-oci serve`: the admission webhook over HTTPS. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CamelOciError } from '../base/errors.js';
import { parseCount, parseDuration } from '../config.js';
import type { ParsedFlags } from '../config.js';
import { ensureDevCerts } from '../certs/dev.js';
import { normalizeInjectOptions } from '../inject/options.js';
import { readCaCertificates } from '../registry/setup.js';
import { createResolver } from '../resolve/setup.js';
import { createApp, installProcessGuards } from '../webhook/app.js';
import { createLogger } from '../base/logger.js';
import { createMetrics } from '../webhook/metrics.js';
import { createReloadingHttpsServer } from '../webhook/tls-server.js';
import { resolverSettings } from './resolve.js';
import type { CommandIO } from './io.js';
import { version } from '../base/version.js';
import { exampleReview } from '../webhook/example.js';

/** The reference in the example request written beside the development certificate. */
const EXAMPLE_REFERENCE = '127.0.0.1:5000/acme/deps:1.0';

/** Port when none is given. */
const DEFAULT_PORT = 8443;
/** pino levels accepted by --log-level. */
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Image the init container runs when `--fetcher-image` is not given: this very release. */
export function defaultFetcherImage(): string {
  return `camel-oci:${version()}`;
}


/** Runs `serve` until SIGTERM or SIGINT; returns the exit code. */
export async function runServe(flags: ParsedFlags, io: CommandIO, env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const v = flags.values;
  if (flags.positionals.length > 0) throw new CamelOciError('CONFIG_INVALID', `camel-oci serve takes no arguments (got ${flags.positionals.join(' ')})`);
  // Kubernetes gives pods docker-link variables for the Services of their namespace; a Service named
  // camel-oci yields CAMEL_OCI_PORT=tcp://10.0.0.1:443, which is not our --port. (The manifests set
  // enableServiceLinks: false; this keeps a Deployment without it from crash-looping.)
  const portText = v.port as string;
  const port = /^tcp:\/\//.test(portText) ? DEFAULT_PORT : parseCount(portText, 'port', 65535);
  const logLevel = v['log-level'] as string;
  if (!LOG_LEVELS.includes(logLevel)) throw new CamelOciError('CONFIG_INVALID', `--log-level must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(logLevel)}`);
  const shutdownDelayMs = parseDuration(v['shutdown-delay'] as string, 'shutdown-delay');
  const onError = v['on-error'];
  if (onError !== 'deny' && onError !== 'allow') throw new CamelOciError('CONFIG_INVALID', `--on-error must be deny or allow, not ${JSON.stringify(onError)}`);
  const certFlag = v['tls-cert'] as string | undefined;
  const keyFlag = v['tls-key'] as string | undefined;
  // --- self-managed certificates (src/kube/self-managed-setup.ts) ---
  const selfManaged = v.certificates === 'self-managed';
  if (!selfManaged && v.certificates !== 'files') throw new CamelOciError('CONFIG_INVALID', `--certificates must be files or self-managed, not ${JSON.stringify(v.certificates)}`);
  if (selfManaged && (certFlag !== undefined || keyFlag !== undefined)) throw new CamelOciError('CONFIG_INVALID', '--certificates self-managed takes its certificate from the TLS Secret: drop --tls-cert and --tls-key');
  // --- end self-managed ---
  if ((certFlag === undefined) !== (keyFlag === undefined)) {
    throw new CamelOciError('CONFIG_INVALID', '--tls-cert and --tls-key go together: give both, or neither for a development certificate');
  }
  // The init container must trust what the webhook trusts, or a registry resolved at admission
  // fails there with TLS_ERROR: its --ca-file certificates go into the fetcher's env. Only
  // certificates: the fetcher authenticates with the pod's pull secrets, never with --registry-config.
  const caFiles = v['ca-file'] as readonly string[];
  const caPem = caFiles.length > 0 ? (await readCaCertificates(caFiles)).join('') : undefined;
  const inject = normalizeInjectOptions({
    fetcherImage: (v['fetcher-image'] as string | undefined) ?? defaultFetcherImage(),
    volumeSizeLimit: v['volume-size-limit'] as string,
    fetchTimeoutSeconds: Math.ceil(parseDuration(v['fetch-timeout'] as string, 'fetch-timeout') / 1000),
    ...(caPem !== undefined ? { caPem } : {}),
    // The fetcher applies the same registry policy as the webhook (CAMEL_OCI_ALLOW_REGISTRY, ...).
    allowRegistries: v['allow-registry'] as string[],
    insecureRegistries: v['insecure-registry'] as string[],
  });
  const logger = createLogger({ level: logLevel });
  const metrics = createMetrics({});

  let certFile = certFlag;
  let keyFile = keyFlag;
  let caFile: string | undefined;
  const embedded = certFile === undefined && !selfManaged;
  if (embedded) {
    const dev = await ensureDevCerts(path.resolve(v['certs-dir'] as string));
    certFile = dev.certFile;
    keyFile = dev.keyFile;
    caFile = dev.caFile;
  }
  // In a cluster, no address: Node listens on :: (dual-stack) where IPv6 exists, else on 0.0.0.0.
  const address = (v.address as string | undefined) ?? (embedded ? '127.0.0.1' : undefined);

  const { resolver, context } = await createResolver({
    ...resolverSettings(flags),
    onResponse: (registry, status) => metrics.registryRequest(registry, status),
    onCache: (cache, result) => metrics.cacheLookup(cache, result),
  });
  // The Kubernetes client is large (about 60 MiB of heap once loaded): load it only when used.
  const pullSecretsMode = v['pull-secrets'] as string;
  const wantsKube = pullSecretsMode === 'true' || (pullSecretsMode === 'auto' && env.KUBERNETES_SERVICE_HOST !== undefined);
  if (pullSecretsMode !== 'auto' && pullSecretsMode !== 'true' && pullSecretsMode !== 'false') {
    throw new CamelOciError('CONFIG_INVALID', `--pull-secrets must be auto, true or false, not ${JSON.stringify(pullSecretsMode)}`);
  }
  const pullSecrets = wantsKube ? (await import('../kube/pull-secrets.js')).createPullSecretReader(pullSecretsMode, env, logger) : undefined;
  const removeGuards = installProcessGuards(logger);

  let tlsServer: { readonly server: ReturnType<typeof createReloadingHttpsServer>['server']; ready(): boolean; close(): Promise<void> } | undefined;
  let draining = false;
  const app = createApp({
    handlerDeps: { resolver, inject, onError, ...(pullSecrets ? { pullSecrets } : {}) },
    metrics,
    logger,
    ready: () => !draining && (tlsServer?.ready() ?? false),
  });
  tlsServer = selfManaged
    ? (await import('../kube/self-managed-setup.js')).startSelfManagedServer(
        app,
        { secretName: v['tls-secret'] as string, webhookName: v['webhook-configuration'] as string, service: v['tls-service'] as string },
        { env, logger, registry: metrics.registry },
      )
    : createReloadingHttpsServer(app, {
    certFile: certFile!,
    keyFile: keyFile!,
    onReload: (c) => logger.info({ fingerprint: c.fingerprint256, notAfter: c.notAfter }, 'serving certificate reloaded'),
    onError: (err) => logger.error({ err: err.toJSON() }, 'certificate reload failed; keeping the previous one'),
  });
  const server = tlsServer.server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new CamelOciError('CONFIG_INVALID', `cannot listen on ${address ?? '*'}:${port}: ${err.code ?? err.message}`)),
    );
    server.listen(port, address, () => resolve());
  });
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  logger.info({ address: address ?? '*', port: boundPort, version: version(), fetcherImage: inject.fetcherImage, onError }, 'camel-oci webhook listening');
  if (embedded) {
    const host = address === undefined ? 'localhost' : address.includes(':') ? `[${address}]` : address;
    // A ready-made request beside the development certificate, so the printed command just works.
    const reviewFile = path.join(path.dirname(certFile!), 'example-review.json');
    await writeFile(reviewFile, `${JSON.stringify(exampleReview(EXAMPLE_REFERENCE), null, 2)}\n`).catch(() => undefined);
    io.stderr(
      [
        `camel-oci ${version()}: webhook listening on https://${host}:${boundPort} with a development certificate from ${path.dirname(certFile!)}`,
        'Send it an AdmissionReview, for example:',
        `  curl --cacert ${caFile} https://${host}:${boundPort}/healthz`,
        `  curl --cacert ${caFile} -H 'content-type: application/json' --data @${reviewFile} 'https://${host}:${boundPort}/mutate?timeout=10s'`,
        `${reviewFile} is the AdmissionReview of a Camel K pod asking for container:${EXAMPLE_REFERENCE};`,
        'point it at an artifact in a registry you run, and list that registry: --allow-registry HOST:PORT (--insecure-registry for plain HTTP).',
        'Stop with Ctrl-C.',
      ].join('\n'),
    );
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      // Endpoints learn of a terminating pod a moment after it gets SIGTERM: keep answering (but
      // report not ready) for --shutdown-delay, so no admission lands on a closed port.
      draining = true;
      const delay = signal === 'SIGTERM' ? shutdownDelayMs : 0;
      logger.info({ signal, delayMs: delay }, 'shutting down: not ready, finishing requests in flight');
      setTimeout(resolve, delay).unref();
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  await tlsServer.close();
  await context.agent.close().catch(() => undefined);
  removeGuards();
  return 0;
}
