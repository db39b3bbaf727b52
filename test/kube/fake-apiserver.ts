/**
 * A stand-in for the Kubernetes apiserver at its HTTP boundary, for the few GETs camel-oci makes:
 * `GET /api/v1/namespaces/NS/secrets/NAME` and `.../serviceaccounts/NAME`. HTTPS on 127.0.0.1:0
 * with a test CA, bearer-token authentication, answers shaped like the real API (objects with
 * kind/apiVersion/metadata, base64 `data`, `Status` objects for errors), a request log, and faults
 * (403, 500, delays, hangs, oversized bodies) per object.
 */
import https from 'node:https';
import type net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { closeServer, listenLoopback } from '../helpers/ports.js';

/** A request the fake apiserver received. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
}

/** How the fake answers one object's path instead of serving it. */
export type ApiFault =
  | { readonly status: 403 | 500 | 429 }
  | { readonly delayMs: number }
  | { readonly hang: true }
  | { readonly bodyBytes: number }
  | { readonly invalidJson: true };

/** What `startFakeApiserver` takes. */
export interface FakeApiserverOptions {
  /** PEM certificate and key the server presents (issued for 127.0.0.1 by the test CA). */
  readonly certPem: string;
  readonly keyPem: string;
  /** PEM of the CA that issued it (goes into the KubeConfig). */
  readonly caPem: string;
  /** Bearer token required of every request; 401 otherwise. */
  readonly token: string;
}

/** A running fake apiserver. */
export interface FakeApiserver {
  /** `https://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Stores a Secret; `data` values are raw bytes, base64-encoded on the wire as the API does. */
  setSecret(namespace: string, name: string, type: string, data: Readonly<Record<string, string | Buffer>>): void;
  /** Stores a ServiceAccount listing `pullSecrets` as its imagePullSecrets. */
  setServiceAccount(namespace: string, name: string, pullSecrets: readonly string[]): void;
  /** Makes GETs of this object answer with a fault. */
  setFault(namespace: string, resource: 'secrets' | 'serviceaccounts', name: string, fault: ApiFault): void;
  /** Number of GETs of one object. */
  count(namespace: string, resource: 'secrets' | 'serviceaccounts', name: string): number;
  /** Forgets objects, faults and the request log. */
  reset(): void;
  /** A KubeConfig pointing at this server, trusting its CA, with `token` (default: the right one). */
  kubeConfig(token?: string): KubeConfig;
  /** The same as kubeconfig YAML text, for loading from a KUBECONFIG file. */
  kubeConfigYaml(token?: string): string;
  /** Requests whose response has not finished (hanging ones), for checking the client gave up. */
  openRequests(): number;
  close(): Promise<void>;
}

const PATH = /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|serviceaccounts)\/([^/?]+)$/;

function status(code: number, reason: string, message: string, details?: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** Starts the fake apiserver on 127.0.0.1:0. */
export async function startFakeApiserver(options: FakeApiserverOptions): Promise<FakeApiserver> {
  const objects = new Map<string, Record<string, unknown>>();
  const faults = new Map<string, ApiFault>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<net.Socket>();
  let open = 0;
  const key = (ns: string, resource: string, name: string): string => `${ns}/${resource}/${name}`;

  const server = https.createServer({ cert: options.certPem, key: options.keyPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    requests.push({ method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization });
    open++;
    res.on('close', () => open--);
    const send = (code: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.headers.authorization !== `Bearer ${options.token}`) {
      send(401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    const m = PATH.exec(url.pathname);
    if (req.method !== 'GET' || m === null) {
      send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const [, ns = '', resource = '', name = ''] = m;
    const k = key(ns, resource, name);
    const kind = resource === 'secrets' ? 'secrets' : 'serviceaccounts';
    const answer = (): void => {
      const object = objects.get(k);
      if (object === undefined) send(404, status(404, 'NotFound', `${kind} "${name}" not found`, { name, kind }));
      else send(200, object);
    };
    const fault = faults.get(k);
    if (fault === undefined) return answer();
    if ('status' in fault) {
      if (fault.status === 403) {
        send(
          403,
          status(
            403,
            'Forbidden',
            `${kind} "${name}" is forbidden: User "system:serviceaccount:camel-oci:camel-oci" cannot get resource "${kind}" in API group "" in the namespace "${ns}"`,
            {
              name,
              kind,
            },
          ),
        );
      } else {
        send(
          fault.status,
          status(
            fault.status,
            fault.status === 429 ? 'TooManyRequests' : 'InternalError',
            'Internal error occurred: etcdserver: request timed out',
          ),
        );
      }
      return;
    }
    if ('delayMs' in fault) {
      const timer = setTimeout(answer, fault.delayMs);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    if ('hang' in fault) return; // never answers; the client must give up
    if ('invalidJson' in fault) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"kind":"Secret","data":');
      return;
    }
    // Oversized: a chunked JSON-ish body longer than any Secret, sent without a content-length.
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let left = fault.bodyBytes;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(chunk.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    res.on('error', () => undefined);
    pump();
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  const port = await listenLoopback(server);
  const url = `https://127.0.0.1:${port}`;

  const kubeConfigOptions = (token: string) => ({
    clusters: [{ name: 'fake', server: url, caData: Buffer.from(options.caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'webhook', token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'webhook' }],
    currentContext: 'fake',
  });

  return {
    url,
    port,
    requests,
    setSecret(namespace, name, type, data) {
      const encoded: Record<string, string> = {};
      for (const [k, v] of Object.entries(data)) encoded[k] = Buffer.from(v).toString('base64');
      objects.set(key(namespace, 'secrets', name), {
        kind: 'Secret',
        apiVersion: 'v1',
        metadata: { name, namespace, uid: `uid-${namespace}-${name}`, resourceVersion: '4242', creationTimestamp: '2024-05-01T10:00:00Z' },
        type,
        data: encoded,
      });
    },
    setServiceAccount(namespace, name, pullSecrets) {
      objects.set(key(namespace, 'serviceaccounts', name), {
        kind: 'ServiceAccount',
        apiVersion: 'v1',
        metadata: { name, namespace, uid: `uid-sa-${namespace}-${name}`, resourceVersion: '17', creationTimestamp: '2024-05-01T10:00:00Z' },
        ...(pullSecrets.length > 0 ? { imagePullSecrets: pullSecrets.map((n) => ({ name: n })) } : {}),
      });
    },
    setFault(namespace, resource, name, fault) {
      faults.set(key(namespace, resource, name), fault);
    },
    count(namespace, resource, name) {
      const p = `/api/v1/namespaces/${namespace}/${resource}/${name}`;
      return requests.filter((r) => r.method === 'GET' && r.path === p).length;
    },
    reset() {
      objects.clear();
      faults.clear();
      requests.length = 0;
    },
    kubeConfig(token = options.token) {
      const kc = new KubeConfig();
      kc.loadFromOptions(kubeConfigOptions(token));
      return kc;
    },
    kubeConfigYaml(token = options.token) {
      const o = kubeConfigOptions(token);
      return [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: fake`,
        '  cluster:',
        `    server: ${url}`,
        `    certificate-authority-data: ${o.clusters[0]?.caData ?? ''}`,
        'users:',
        '- name: webhook',
        '  user:',
        `    token: ${token}`,
        'contexts:',
        '- name: fake',
        '  context:',
        '    cluster: fake',
        '    user: webhook',
        'current-context: fake',
        '',
      ].join('\n');
    },
    openRequests: () => open,
    close: () => closeServer(server, sockets),
  };
}
