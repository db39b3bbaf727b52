/**
 * A stand-in for the Kubernetes apiserver at its HTTP boundary, for the lists `camel-oci audit`
 * makes: pods (`/api/v1/pods`, `/api/v1/namespaces/NS/pods`) and camel.apache.org/v1 integrations
 * and pipes (cluster-wide and namespaced). HTTPS on 127.0.0.1:0 with a test CA, bearer-token
 * authentication, `labelSelector` (the `key` exists form), `limit`/`continue` pagination as the
 * real API does it (opaque token, `metadata.continue`), `Status` objects for errors, 404 for the
 * whole camel.apache.org group when Camel K is "not installed", a request log and faults.
 * Same approach as fake-apiserver.ts (which serves single GETs for pull secrets).
 */
import https from 'node:https';
import type net from 'node:net';
import { closeServer, listenLoopback } from '../helpers/ports.js';

/** A request the fake received. */
export interface ListRequest {
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
}

/** A resource the fake lists. */
export type ListedResource = 'pods' | 'integrations' | 'pipes';

/** How the fake answers a resource instead of listing it. */
export type ListFault =
  { readonly status: 403 | 500 | 410 } | { readonly hang: true } | { readonly bodyBytes: number } | { readonly loopContinue: true };

/** A running fake. */
export interface ListApiserver {
  readonly url: string;
  readonly requests: ListRequest[];
  /** Stores objects of a resource (each needs metadata.name and metadata.namespace). */
  add(resource: ListedResource, ...objects: Record<string, any>[]): void;
  /** Whether the camel.apache.org group is served (default true); false: every path under it answers 404. */
  setCamelApi(served: boolean, pipes?: boolean): void;
  setFault(resource: ListedResource, fault: ListFault | undefined): void;
  reset(): void;
  /** Kubeconfig YAML pointing at this server, trusting its CA, with the token (default: the right one) and an optional context namespace. */
  kubeConfigYaml(options?: { token?: string; namespace?: string }): string;
  close(): Promise<void>;
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

const PODS = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?pods$/;
const CAMEL = /^\/apis\/camel\.apache\.org\/v1\/(?:namespaces\/([^/]+)\/)?(integrations|pipes)$/;

/** Starts the fake on 127.0.0.1:0. */
export async function startListApiserver(options: {
  certPem: string;
  keyPem: string;
  caPem: string;
  token: string;
}): Promise<ListApiserver> {
  const store: Record<ListedResource, Record<string, any>[]> = { pods: [], integrations: [], pipes: [] };
  const faults = new Map<ListedResource, ListFault>();
  const requests: ListRequest[] = [];
  const sockets = new Set<net.Socket>();
  let camelApi = true;
  let pipesServed = true;

  const server = https.createServer({ cert: options.certPem, key: options.keyPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    requests.push({ path: url.pathname, query: Object.fromEntries(url.searchParams) });
    const send = (code: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.headers.authorization !== `Bearer ${options.token}`) return send(401, status(401, 'Unauthorized', 'Unauthorized'));
    let resource: ListedResource;
    let namespace: string | undefined;
    const pods = PODS.exec(url.pathname);
    const camel = CAMEL.exec(url.pathname);
    if (req.method === 'GET' && pods !== null) {
      resource = 'pods';
      namespace = pods[1];
    } else if (req.method === 'GET' && camel !== null && camelApi && (camel[2] === 'integrations' || pipesServed)) {
      resource = camel[2] as ListedResource;
      namespace = camel[1];
    } else {
      return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
    const fault = faults.get(resource);
    if (fault !== undefined && 'status' in fault) {
      const reason = fault.status === 403 ? 'Forbidden' : fault.status === 410 ? 'Expired' : 'InternalError';
      return send(fault.status, status(fault.status, reason, `${resource} is ${reason}: User "alice" cannot list resource "${resource}"`));
    }
    if (fault !== undefined && 'hang' in fault) return;
    if (fault !== undefined && 'bodyBytes' in fault) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"kind":"List","items":[${'"a",'.repeat(Math.ceil(fault.bodyBytes / 4))}"a"]}`);
      return;
    }
    const selector = url.searchParams.get('labelSelector');
    let items = store[resource]
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .filter((o) => selector === null || selector === '' || Object.hasOwn(o.metadata.labels ?? {}, selector))
      .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
    const limit = Number(url.searchParams.get('limit') ?? '0');
    const start = Number(Buffer.from(url.searchParams.get('continue') ?? '', 'base64url').toString() || '0');
    let next = '';
    if (limit > 0) {
      if (start + limit < items.length || (fault !== undefined && 'loopContinue' in fault))
        next = Buffer.from(String(start + limit)).toString('base64url');
      if (fault !== undefined && 'loopContinue' in fault) next = Buffer.from('0').toString('base64url');
      items = items.slice(start, start + limit);
    }
    const kind = resource === 'pods' ? 'PodList' : resource === 'integrations' ? 'IntegrationList' : 'PipeList';
    send(200, {
      kind,
      apiVersion: resource === 'pods' ? 'v1' : 'camel.apache.org/v1',
      metadata: { resourceVersion: '12345', ...(next !== '' ? { continue: next } : {}) },
      items,
    });
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  const port = await listenLoopback(server);
  const url = `https://127.0.0.1:${port}`;
  return {
    url,
    requests,
    add(resource, ...objects) {
      store[resource].push(...objects.map((o) => structuredClone(o)));
    },
    setCamelApi(served, pipes = true) {
      camelApi = served;
      pipesServed = pipes;
    },
    setFault(resource, fault) {
      if (fault === undefined) faults.delete(resource);
      else faults.set(resource, fault);
    },
    reset() {
      store.pods = [];
      store.integrations = [];
      store.pipes = [];
      faults.clear();
      requests.length = 0;
      camelApi = true;
      pipesServed = true;
    },
    kubeConfigYaml({ token = options.token, namespace } = {}) {
      return [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: ${url}`,
        `    certificate-authority-data: ${Buffer.from(options.caPem).toString('base64')}`,
        'users:',
        '- name: auditor',
        '  user:',
        `    token: ${token}`,
        'contexts:',
        '- name: fake',
        '  context:',
        '    cluster: fake',
        '    user: auditor',
        ...(namespace !== undefined ? [`    namespace: ${namespace}`] : []),
        'current-context: fake',
        '',
      ].join('\n');
    },
    close: () => closeServer(server, sockets),
  };
}
