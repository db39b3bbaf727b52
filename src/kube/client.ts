/**
 * Access to the Kubernetes API with @kubernetes/client-node: where the KubeConfig comes from (the
 * pod's service account in a cluster, a kubeconfig file outside one), and a bounded HTTP transport
 * for the generated client, so that every answer the webhook reads from the apiserver has a
 * deadline and a size limit (client-node's default transport reads bodies whole, with no limit).
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { CoreV1Api, KubeConfig, Observable, ResponseContext, type HttpLibrary, type RequestContext } from '@kubernetes/client-node';
import { ServeError } from '../base/errors.js';

/** Where the kubelet mounts the pod's service account token, CA bundle and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Environment variables read here; the caller passes its environment (only entry points read `process.env`). */
export type KubeEnv = Readonly<Record<string, string | undefined>>;

/** True when `env` looks like a pod's: the kubelet sets KUBERNETES_SERVICE_HOST in every container. */
export function isInCluster(env: KubeEnv): boolean {
  return (env.KUBERNETES_SERVICE_HOST ?? '') !== '';
}

/**
 * The in-cluster KubeConfig: the apiserver at KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT, the
 * CA bundle and token mounted at `serviceAccountDir`. The token is re-read from its file by
 * client-node (bound service account tokens rotate). Same shape as KubeConfig.loadFromCluster,
 * which reads `process.env` itself and so cannot take the caller's environment.
 *
 * Throws ServeError `CONFIG_INVALID` when the service account token or CA bundle is not mounted.
 */
export function inClusterKubeConfig(env: KubeEnv, serviceAccountDir = SERVICE_ACCOUNT_DIR): KubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  if (host === '') throw new ServeError('CONFIG_INVALID', 'KUBERNETES_SERVICE_HOST is not set: not running in a Kubernetes pod');
  const tokenFile = path.join(serviceAccountDir, 'token');
  const caFile = path.join(serviceAccountDir, 'ca.crt');
  for (const file of [tokenFile, caFile]) {
    if (!existsSync(file)) {
      throw new ServeError(
        'CONFIG_INVALID',
        `${file} does not exist: the webhook's pod has no service account token (set automountServiceAccountToken: true, or run with --pull-secrets=false)`,
        { context: { file } },
      );
    }
  }
  // An IPv6 service address needs brackets in a URL.
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'in-cluster', server, caFile, skipTLSVerify: false }],
    users: [{ name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile } } }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster' }],
    currentContext: 'in-cluster',
  });
  return kc;
}

/**
 * The KubeConfig of a process outside a cluster: the files listed in KUBECONFIG (merged, the
 * first one's current context wins, as kubectl does), else `$HOME/.kube/config`.
 *
 * Unlike KubeConfig.loadFromDefault this never falls back to `http://localhost:8080`: no
 * kubeconfig is a configuration error, not a guess. Throws ServeError `CONFIG_INVALID` when there
 * is no kubeconfig, it cannot be read or parsed, or it has no current cluster.
 */
export function kubeConfigFromEnv(env: KubeEnv): KubeConfig {
  const listed = (env.KUBECONFIG ?? '').split(path.delimiter).filter((f) => f !== '');
  const home = env.HOME ?? '';
  const files = listed.length > 0 ? listed.filter((f) => existsSync(f)) : [];
  if (listed.length === 0 && home !== '' && existsSync(path.join(home, '.kube', 'config'))) files.push(path.join(home, '.kube', 'config'));
  if (files.length === 0) {
    const looked =
      listed.length > 0
        ? `KUBECONFIG (${listed.join(path.delimiter)})`
        : home !== ''
          ? path.join(home, '.kube', 'config')
          : 'KUBECONFIG and $HOME/.kube/config';
    throw new ServeError(
      'CONFIG_INVALID',
      `no kubeconfig found in ${looked}: set KUBECONFIG to read pull secrets from outside a cluster, or run with --pull-secrets=false`,
    );
  }
  const kc = new KubeConfig();
  for (const [i, file] of files.entries()) {
    try {
      if (i === 0) {
        kc.loadFromFile(file);
      } else {
        const more = new KubeConfig();
        more.loadFromFile(file);
        kc.mergeConfig(more, true);
      }
    } catch (err) {
      // client-node's messages name fields, never values; the YAML parser's may quote a line, so keep only its first line.
      const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      throw new ServeError('CONFIG_INVALID', `cannot load kubeconfig ${file}: ${reason}`, { cause: err, context: { file } });
    }
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null) {
    throw new ServeError(
      'CONFIG_INVALID',
      `kubeconfig ${files.join(path.delimiter)} has no current context with a cluster (kubectl config use-context NAME)`,
    );
  }
  // client-node refuses such a server at the first request with a bare Error, which a caller could
  // only report as an unexpected answer: say it here, with what to change.
  if (cluster.server.startsWith('http:') && cluster.skipTLSVerify !== true) {
    throw new ServeError(
      'CONFIG_INVALID',
      `kubeconfig ${files.join(path.delimiter)}: cluster ${JSON.stringify(cluster.name)} has a plain http:// server, which the Kubernetes client refuses unless the cluster sets insecure-skip-tls-verify: true; use its https:// address`,
      { context: { cluster: cluster.name } },
    );
  }
  return kc;
}

/** The CoreV1 API client of `kubeConfig`. Throws ServeError `CONFIG_INVALID` when it has no current cluster. */
export function coreV1Api(kubeConfig: KubeConfig): CoreV1Api {
  if (kubeConfig.getCurrentCluster() === null) {
    throw new ServeError('CONFIG_INVALID', 'the KubeConfig has no current context with a cluster');
  }
  return kubeConfig.makeApiClient(CoreV1Api);
}

/** Limits of one request through {@link boundedHttpLibrary}. */
export interface BoundedHttpOptions {
  /** Aborts the request, including reading the body (the caller's per-request deadline). */
  readonly signal: AbortSignal;
  /** Largest response body read; a longer one fails with `SIZE_EXCEEDED`. */
  readonly maxBodyBytes: number;
}

/**
 * A client-node HttpLibrary over node:http/https that honours an abort signal for the whole
 * exchange and stops reading at `maxBodyBytes`. Passed per call (`{ httpApi }`), so each call has
 * its own deadline. It uses the agent client-node's KubeConfig prepared (CA, client certificate,
 * proxy) and the headers it set (Authorization); it sends no Accept-Encoding, so the apiserver
 * answers uncompressed and the byte limit is the limit on what is parsed.
 *
 * Rejects with ServeError `SIZE_EXCEEDED` (body too long), `TIMEOUT` (the signal fired) or
 * `UNAVAILABLE` (connection or TLS failure, retryable).
 */
export function boundedHttpLibrary(options: BoundedHttpOptions): HttpLibrary {
  return { send: (request) => new Observable(sendBounded(request, options)) };
}

function sendBounded(request: RequestContext, { signal, maxBodyBytes }: BoundedHttpOptions): Promise<ResponseContext> {
  return new Promise<ResponseContext>((resolve, reject) => {
    if (signal.aborted) {
      reject(aborted(signal));
      return;
    }
    const url = new URL(request.getUrl());
    const body = request.getBody();
    if (body !== undefined && typeof body !== 'string') {
      reject(new ServeError('INTERNAL', 'the bounded Kubernetes transport sends string bodies only'));
      return;
    }
    let settled = false;
    const finish = (err: ServeError | undefined, response?: ResponseContext): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined) {
        req.destroy();
        reject(err);
      } else {
        resolve(response as ResponseContext);
      }
    };
    // The signal also covers the body: a server that sends headers and then trickles is cut off too.
    const onAbort = (): void => finish(aborted(signal));
    const agent = request.getAgent();
    const requestOptions: https.RequestOptions = {
      method: request.getHttpMethod(),
      headers: { ...request.getHeaders(), ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
      ...(agent !== undefined ? { agent } : {}),
    };
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBodyBytes) {
          finish(
            new ServeError('SIZE_EXCEEDED', `the Kubernetes API answered ${url.pathname} with more than ${maxBodyBytes} bytes`, {
              context: { path: url.pathname, limit: maxBodyBytes },
            }),
          );
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        finish(
          undefined,
          new ResponseContext(res.statusCode ?? 0, headers, { text: async () => bytes.toString('utf8'), binary: async () => bytes }),
        );
      });
      res.on('error', (err) => finish(transportError(err, signal, url)));
      res.on('close', () => {
        if (!res.complete) finish(transportError(Object.assign(new Error('response cut short'), { code: 'ECONNRESET' }), signal, url));
      });
    };
    const req = url.protocol === 'http:' ? http.request(url, requestOptions, onResponse) : https.request(url, requestOptions, onResponse);
    req.on('error', (err) => finish(transportError(err, signal, url)));
    signal.addEventListener('abort', onAbort, { once: true });
    req.end(body);
  });
}

function aborted(signal: AbortSignal): ServeError {
  const reason: unknown = signal.reason;
  if (reason instanceof ServeError) return reason;
  return new ServeError('TIMEOUT', 'the Kubernetes API request was aborted', { retryable: true, cause: reason });
}

function transportError(err: Error, signal: AbortSignal, url: URL): ServeError {
  if (signal.aborted) return aborted(signal);
  const code = (err as NodeJS.ErrnoException).code ?? err.name;
  // Node's TLS failures: ERR_TLS_*, ERR_SSL_*, and OpenSSL's verify codes (UNABLE_TO_VERIFY_LEAF_SIGNATURE, *CERT*, ...).
  const tls = /^ERR_(TLS|SSL)_|CERT|VERIFY|SIGNATURE|SELF_SIGNED/.test(code);
  return new ServeError(tls ? 'TLS_ERROR' : 'UNAVAILABLE', `cannot reach the Kubernetes API at ${url.host}: ${code}`, {
    retryable: !tls,
    cause: err,
    context: { host: url.host, cause: code },
  });
}
