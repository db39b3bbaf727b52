/** `camel-oci serve`: the admission webhook over HTTPS. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CamelOciError } from '../base/errors.js';
import type { ParsedFlags } from '../config/flags.js';
import { loadServeConfig } from '../config/serve.js';
import { normalizeInjectOptions } from '../inject/options.js';
import { readCaCertificates } from '../registry/setup.js';
import { createResolver } from '../resolve/setup.js';
import { OwnerPins } from '../admit/pins.js';
import { createApp, installProcessGuards } from '../webhook/app.js';
import { createLogger } from '../base/logger.js';
import { createMetrics } from '../webhook/metrics.js';
import { createServingExpiryGauge } from '../webhook/cert-metrics.js';
import { startMetricsServer, type MetricsServer } from '../webhook/metrics-server.js';
import { createReloadingHttpsServer } from '../webhook/tls-server.js';
import type { CommandIO } from './io.js';
import { version } from '../base/version.js';
import { exampleReview } from '../webhook/example.js';

/** The reference in the example request written beside the development certificate. */
const EXAMPLE_REFERENCE = '127.0.0.1:5000/acme/deps:1.0';

/** Runs `serve` until SIGTERM or SIGINT; returns the exit code. */
export async function runServe(flags: ParsedFlags, io: CommandIO, env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const config = loadServeConfig(flags, env);
  const { port, onError, shutdownDelayMs } = config;
  // The init container must trust what the webhook trusts, or a registry resolved at admission
  // fails there with TLS_ERROR: its --ca-file certificates go into the fetcher's env. Only
  // certificates: the fetcher authenticates with the pod's pull secrets, never with --registry-config.
  const caFiles = config.resolver.caFiles;
  const caPem = caFiles.length > 0 ? (await readCaCertificates(caFiles)).join('') : undefined;
  const inject = normalizeInjectOptions({
    ...config.fetcher,
    ...(caPem !== undefined ? { caPem } : {}),
    // The fetcher applies the same registry policy as the webhook (CAMEL_OCI_ALLOW_REGISTRY, ...).
    allowRegistries: config.resolver.allowRegistries,
    insecureRegistries: config.resolver.insecureRegistries,
  });
  const logger = createLogger({ level: config.logLevel });
  const metrics = createMetrics({});

  // Files: given, or a development certificate made here. Self-managed: none until the Secret is read.
  let certFile = '';
  let keyFile = '';
  let caFile: string | undefined;
  const tls = config.tls;
  const embedded = tls.kind === 'development';
  if (tls.kind === 'development') {
    // node-forge (about 100 ms to load) only for the development certificate, never in a cluster.
    const { ensureDevCerts } = await import('../certs/dev.js');
    const dev = await ensureDevCerts(tls.certsDir);
    certFile = dev.certFile;
    keyFile = dev.keyFile;
    caFile = dev.caFile;
  } else if (tls.kind === 'files') {
    certFile = tls.certFile;
    keyFile = tls.keyFile;
  }
  const address = config.address;

  const { resolver, context } = await createResolver({
    ...config.resolver,
    onResponse: (registry, status) => metrics.registryRequest(registry, status),
    onNoResponse: (registry, code) => metrics.registryNoResponse(registry, code),
    onCache: (cache, result) => metrics.cacheLookup(cache, result),
    // A mirror that is down or serves wrong bytes is worked around (the next source answers), so it is
    // only seen here: one warning and one count per failed source, with its stable code.
    onSourceFailure: (f, subject) => {
      metrics.registrySourceFailure(f.source.registry, f.source.mirror, f.error.code);
      logger.warn(
        { source: f.source.registry, mirror: f.source.mirror, code: f.error.code, subject },
        `registry source failed, trying the next: ${f.error.message}`,
      );
    },
  });
  // The Kubernetes client is large (about 60 MiB of heap once loaded): load it only when used.
  const pullSecrets = config.readPullSecrets
    ? (await import('../kube/pull-secrets.js')).createPullSecretReader(config.pullSecretsMode, env, logger)
    : undefined;
  const removeGuards = installProcessGuards(logger);

  // Self-managed serving sets the expiry gauge itself; certificates from files get it here.
  const servingExpiry = tls.kind === 'self-managed' ? undefined : createServingExpiryGauge(metrics.registry);
  let tlsServer:
    | {
        readonly server: ReturnType<typeof createReloadingHttpsServer>['server'];
        ready(): boolean;
        close(): Promise<void>;
        certificate?: () => { readonly notAfter: Date };
      }
    | undefined;
  let draining = false;
  const app = createApp({
    handlerDeps: { resolver, inject, onError, ownerPins: new OwnerPins(), ...(pullSecrets ? { pullSecrets } : {}) },
    metrics,
    logger,
    ready: () => !draining && (tlsServer?.ready() ?? false),
  });
  tlsServer =
    tls.kind === 'self-managed'
      ? (await import('../webhook/self-managed-tls.js')).startSelfManagedServer(
          app,
          { secretName: tls.secretName, webhookName: tls.webhookName, service: tls.service },
          { env, logger, registry: metrics.registry },
        )
      : createReloadingHttpsServer(app, {
          certFile,
          keyFile,
          onReload: (c) => {
            servingExpiry?.(c.notAfter.getTime() / 1000);
            logger.info({ fingerprint: c.fingerprint256, notAfter: c.notAfter }, 'serving certificate reloaded');
          },
          onError: (err) => logger.error({ err: err.toJSON() }, 'certificate reload failed; keeping the previous one'),
        });
  const server = tlsServer.server;
  const served = tlsServer.certificate?.();
  if (servingExpiry && served) servingExpiry(served.notAfter.getTime() / 1000);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new CamelOciError('CONFIG_INVALID', `cannot listen on ${address ?? '*'}:${port}: ${err.code ?? err.message}`)),
    );
    server.listen(port, address, () => resolve());
  });
  // Prometheus scrapes this plain-HTTP port without the webhook's CA; GET /metrics stays on the HTTPS port too.
  let metricsServer: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    try {
      metricsServer = await startMetricsServer(metrics, logger, config.metricsPort, address);
    } catch (err) {
      await tlsServer.close();
      throw err;
    }
  }
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  logger.info(
    {
      address: address ?? '*',
      port: boundPort,
      metricsPort: metricsServer?.port ?? 'off',
      version: version(),
      fetcherImage: inject.fetcherImage,
      onError,
    },
    'camel-oci webhook listening',
  );
  if (embedded) {
    const host = address === undefined ? 'localhost' : address.includes(':') ? `[${address}]` : address;
    // A ready-made request beside the development certificate, so the printed command just works.
    const reviewFile = path.join(path.dirname(certFile), 'example-review.json');
    await writeFile(reviewFile, `${JSON.stringify(exampleReview(EXAMPLE_REFERENCE), null, 2)}\n`).catch(() => undefined);
    io.stderr(
      [
        `camel-oci ${version()}: webhook listening on https://${host}:${boundPort} with a development certificate from ${path.dirname(certFile)}`,
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
  await Promise.all([tlsServer.close(), metricsServer?.close()]);
  await context.agent.close().catch(() => undefined);
  removeGuards();
  return 0;
}
