/**
 * Wiring of `serve --certificates self-managed`: the namespace, the KubeConfig of the pod's
 * ServiceAccount, an HTTPS server with no certificate until the loop hands it the Secret's, and the
 * loop itself (self-managed-certs.ts). Loaded only in that mode (client-node is large).
 */
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type https from 'node:https';
import path from 'node:path';
import type { Registry } from 'prom-client';
import { ServeError } from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import { createCertificateMetrics } from './cert-metrics.js';
import { createMemoryHttpsServer } from './memory-tls-server.js';
import { SERVICE_ACCOUNT_DIR, inClusterKubeConfig, isInCluster, kubeConfigFromEnv, type KubeEnv } from '../kube/client.js';
import { startSelfManagedCertificates } from '../kube/self-managed-certs.js';

/** Names `serve` takes in self-managed mode. */
export interface SelfManagedServeSettings {
  readonly secretName: string;
  readonly webhookName: string;
  readonly service: string;
}

/** What `serve` drives: the same three controls as the file-reloading server. */
export interface SelfManagedServer {
  readonly server: https.Server;
  /** True once a certificate is served and every caBundle verifies it. */
  ready(): boolean;
  close(): Promise<void>;
}

/**
 * The webhook's namespace: POD_NAMESPACE (downward API) when set, else the ServiceAccount's
 * namespace file. Throws ServeError CONFIG_INVALID when neither exists.
 */
export function webhookNamespace(env: KubeEnv, serviceAccountDir = SERVICE_ACCOUNT_DIR): string {
  const fromEnv = (env.POD_NAMESPACE ?? '').trim();
  if (fromEnv !== '') return fromEnv;
  const file = path.join(serviceAccountDir, 'namespace');
  try {
    const ns = readFileSync(file, 'utf8').trim();
    if (ns !== '') return ns;
  } catch {
    // reported below
  }
  throw new ServeError(
    'CONFIG_INVALID',
    `cannot tell the webhook's namespace: set POD_NAMESPACE or mount the ServiceAccount token (${file})`,
  );
}

/** Starts the HTTPS server and the certificate loop for `--certificates self-managed`. */
export function startSelfManagedServer(
  handler: http.RequestListener,
  settings: SelfManagedServeSettings,
  deps: { readonly env: KubeEnv; readonly logger: Logger; readonly registry: Registry },
): SelfManagedServer {
  const kubeConfig = isInCluster(deps.env) ? inClusterKubeConfig(deps.env) : kubeConfigFromEnv(deps.env);
  const namespace = webhookNamespace(deps.env);
  const tls = createMemoryHttpsServer(handler);
  const certs = startSelfManagedCertificates({
    kubeConfig,
    namespace,
    secretName: settings.secretName,
    webhookName: settings.webhookName,
    service: settings.service,
    logger: deps.logger,
    metrics: createCertificateMetrics(deps.registry),
    serve: ({ certPem, keyPem }) => {
      tls.load(certPem, keyPem);
    },
  });
  return {
    server: tls.server,
    ready: () => tls.ready() && certs.ready(),
    async close() {
      await certs.stop();
      await tls.close();
    },
  };
}
