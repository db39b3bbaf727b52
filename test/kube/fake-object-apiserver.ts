/**
 * A stand-in for the Kubernetes apiserver at its HTTP boundary for the objects self-managed
 * certificates write: Secrets (GET, POST, PUT) and MutatingWebhookConfigurations (GET, JSON PATCH).
 * It keeps one resourceVersion counter as etcd does, answers 409 AlreadyExists to a create of an
 * existing name and 409 Conflict to an update with a stale resourceVersion, applies JSON patches
 * atomically (a failed `test` op is 422 and changes nothing), and logs every request. HTTPS on
 * 127.0.0.1:0 with bearer-token authentication.
 */
import { KubeConfig } from '@kubernetes/client-node';
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { startHttpsStandIn } from './https-stand-in.js';

/** A request the fake received, with its answer's status. */
export interface ObjectRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  /** The parsed request body, if any. */
  body?: unknown;
  status: number;
}

/** What `startObjectApiserver` takes. */
export interface ObjectApiserverOptions {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
  readonly token: string;
  /** Delay before each answer (ms), so concurrent replicas interleave as they would over a network. */
  readonly latencyMs?: number;
}

/** A running fake apiserver. */
export interface ObjectApiserver {
  readonly url: string;
  readonly requests: ObjectRequest[];
  /** The stored object (a deep copy), or undefined. */
  secret(namespace: string, name: string): Record<string, any> | undefined;
  /** Stores or replaces a Secret directly (as `kubectl apply` would), with raw data values. */
  putSecret(namespace: string, name: string, data: Readonly<Record<string, string>>): void;
  /** Removes a Secret directly. */
  deleteSecret(namespace: string, name: string): void;
  webhookConfiguration(name: string): Record<string, any> | undefined;
  /** Stores or replaces a MutatingWebhookConfiguration directly (as re-applying the manifests would). */
  putWebhookConfiguration(object: Record<string, any>): void;
  /** Answers the next `count` requests whose method is `method` with `status` (a Status object), before anything else. */
  failNext(method: string, status: 403 | 500, count: number): void;
  /**
   * Holds the answer to the next request whose method is `method`: the request takes effect at
   * once, its answer goes out when the returned function is called (or at close).
   */
  holdNextAnswer(method: string): () => void;
  /** Number of Secret creates answered 201, and answered 409. */
  creates(): { ok: number; conflicts: number };
  kubeConfig(): KubeConfig;
  close(): Promise<void>;
}

const SECRET_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/;
const MWC_PATH = /^\/apis\/admissionregistration\.k8s\.io\/v1\/mutatingwebhookconfigurations\/([^/]+)$/;
/** Request bodies larger than this are refused (a Secret is at most 1 MiB in Kubernetes). */
const MAX_BODY = 1024 * 1024;

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** Starts the fake on 127.0.0.1:0. */
export async function startObjectApiserver(options: ObjectApiserverOptions): Promise<ObjectApiserver> {
  const secrets = new Map<string, Record<string, any>>();
  const mwcs = new Map<string, Record<string, any>>();
  const requests: ObjectRequest[] = [];
  let rv = 1000;
  let createOk = 0;
  let createConflicts = 0;
  const failing: Array<{ method: string; status: number; left: number }> = [];
  /** Every hold asked for; `taken` once a request's answer waits on it. */
  const holds: Array<{ method: string; taken: boolean; released: Promise<void>; release: () => void }> = [];
  const nextRv = (): string => String(++rv);

  const standIn = await startHttpsStandIn(options, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const record: ObjectRequest = { method: req.method ?? '', path: url.pathname, contentType: req.headers['content-type'], status: 0 };
    requests.push(record);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      const send = (code: number, body: unknown): void => {
        record.status = code;
        const text = JSON.stringify(body);
        const write = (): void => {
          res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        };
        const hold = holds.find((h) => h.method === req.method && !h.taken);
        if (hold !== undefined) {
          hold.taken = true;
          void hold.released.then(write);
        } else if (options.latencyMs) setTimeout(write, options.latencyMs);
        else write();
      };
      if (req.headers.authorization !== `Bearer ${options.token}`) return send(401, status(401, 'Unauthorized', 'Unauthorized'));
      if (size > MAX_BODY) return send(413, status(413, 'RequestEntityTooLarge', 'request entity too large'));
      let body: any;
      try {
        body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      } catch {
        return send(400, status(400, 'BadRequest', 'invalid JSON'));
      }
      record.body = body;
      const fault = failing.find((f) => f.method === req.method && f.left > 0);
      if (fault !== undefined) {
        fault.left--;
        return send(
          fault.status,
          status(
            fault.status,
            fault.status === 403 ? 'Forbidden' : 'InternalError',
            fault.status === 403 ? 'forbidden' : 'Internal error occurred',
          ),
        );
      }
      const s = SECRET_PATH.exec(url.pathname);
      if (s !== null) {
        const [, ns = '', name] = s;
        const key = `${ns}/${name ?? ''}`;
        if (req.method === 'GET' && name !== undefined) {
          const o = secrets.get(key);
          return o === undefined ? send(404, status(404, 'NotFound', `secrets "${name}" not found`)) : send(200, o);
        }
        if (req.method === 'POST' && name === undefined) {
          const n = String(body?.metadata?.name ?? '');
          if (secrets.has(`${ns}/${n}`)) {
            createConflicts++;
            return send(409, status(409, 'AlreadyExists', `secrets "${n}" already exists`));
          }
          if (body?.metadata?.resourceVersion)
            return send(400, status(400, 'BadRequest', 'resourceVersion should not be set on objects to be created'));
          const o = { ...body, metadata: { ...body.metadata, namespace: ns, uid: `uid-${rv}`, resourceVersion: nextRv() } };
          secrets.set(`${ns}/${n}`, o);
          createOk++;
          return send(201, o);
        }
        if (req.method === 'PUT' && name !== undefined) {
          const existing = secrets.get(key);
          if (existing === undefined) return send(404, status(404, 'NotFound', `secrets "${name}" not found`));
          const given = body?.metadata?.resourceVersion;
          if (given !== undefined && given !== '' && given !== existing.metadata.resourceVersion) {
            return send(
              409,
              status(
                409,
                'Conflict',
                `Operation cannot be fulfilled on secrets "${name}": the object has been modified; please apply your changes to the latest version and try again`,
              ),
            );
          }
          const o = { ...body, metadata: { ...body.metadata, namespace: ns, uid: existing.metadata.uid, resourceVersion: nextRv() } };
          secrets.set(key, o);
          return send(200, o);
        }
        return send(405, status(405, 'MethodNotAllowed', 'method not allowed'));
      }
      const m = MWC_PATH.exec(url.pathname);
      if (m !== null) {
        const name = m[1] ?? '';
        const existing = mwcs.get(name);
        if (existing === undefined)
          return send(404, status(404, 'NotFound', `mutatingwebhookconfigurations.admissionregistration.k8s.io "${name}" not found`));
        if (req.method === 'GET') return send(200, existing);
        if (req.method === 'PATCH') {
          if (req.headers['content-type'] !== 'application/json-patch+json')
            return send(415, status(415, 'UnsupportedMediaType', 'only JSON patch here'));
          let patched: Record<string, any>;
          try {
            patched = fastJsonPatch.applyPatch(structuredClone(existing), body as Operation[], true, false).newDocument as Record<
              string,
              any
            >;
          } catch (err) {
            return send(
              422,
              status(422, 'Invalid', `the server rejected our request due to an error in our request: ${(err as Error).name}`),
            );
          }
          patched.metadata = { ...patched.metadata, name, resourceVersion: nextRv() };
          mwcs.set(name, patched);
          return send(200, patched);
        }
        return send(405, status(405, 'MethodNotAllowed', 'method not allowed'));
      }
      return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    });
  });
  const { url } = standIn;
  return {
    url,
    requests,
    secret: (ns, name) => structuredClone(secrets.get(`${ns}/${name}`)),
    putSecret(ns, name, data) {
      const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
      const old = secrets.get(`${ns}/${name}`);
      secrets.set(`${ns}/${name}`, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: ns, uid: old?.metadata.uid ?? `uid-${rv}`, resourceVersion: nextRv() },
        type: 'kubernetes.io/tls',
        data: encoded,
      });
    },
    deleteSecret(ns, name) {
      secrets.delete(`${ns}/${name}`);
    },
    webhookConfiguration: (name) => structuredClone(mwcs.get(name)),
    putWebhookConfiguration(object) {
      const name = String(object.metadata.name);
      mwcs.set(name, { ...structuredClone(object), metadata: { ...object.metadata, resourceVersion: nextRv() } });
    },
    failNext(method, code, count) {
      failing.push({ method, status: code, left: count });
    },
    holdNextAnswer(method) {
      let release = (): void => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      holds.push({ method, taken: false, released, release });
      return release;
    },
    creates: () => ({ ok: createOk, conflicts: createConflicts }),
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'fake', server: url, caData: Buffer.from(options.caPem).toString('base64'), skipTLSVerify: false }],
        users: [{ name: 'webhook', token: options.token }],
        contexts: [{ name: 'fake', cluster: 'fake', user: 'webhook' }],
        currentContext: 'fake',
      });
      return kc;
    },
    close() {
      for (const h of holds) h.release();
      return standIn.close();
    },
  };
}
