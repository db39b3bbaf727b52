/** The audit's reads against a stand-in apiserver at its HTTP boundary: paths, pagination, bounds, errors. */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { isCamelOciError, type ErrorCode } from '../../src/base/errors.js';
import { readAuditObjects, type AuditSourceOptions } from '../../src/kube/audit-source.js';
import { issueServerCert, makeTestCa } from '../helpers/test-ca.js';
import { integration, integrationPod, pipe } from '../audit/support.js';
import { startListApiserver, type ListApiserver } from './list-apiserver.js';

const TOKEN = 'auditor-token-51c2';
let dir: string;
let api: ListApiserver;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-audit-kube-'));
  const ca = await makeTestCa(dir);
  const cert = await issueServerCert(ca);
  api = await startListApiserver({ certPem: cert.certPem, keyPem: cert.keyPem, caPem: ca.certPem, token: TOKEN });
});

after(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => api.reset());

function kubeConfig(token = TOKEN): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeConfigYaml({ token }));
  return kc;
}

function read(options: Partial<AuditSourceOptions> = {}, token?: string): ReturnType<typeof readAuditObjects> {
  return readAuditObjects(kubeConfig(token), { namespace: 'demo', requestTimeoutMs: 5_000, ...options });
}

function pods(namespace: string, n: number): Record<string, any>[] {
  return Array.from({ length: n }, (_, i) =>
    integrationPod('hello', { namespace, suffix: `p${String(i).padStart(4, '0')}`, created: `2026-12-02T10:00:0${i % 10}Z` }),
  );
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isCamelOciError(err, code), `expected ${code}, got ${String(err)}`);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

describe('readAuditObjects', () => {
  it('lists labelled pods, Integrations and Pipes of one namespace, page by page with limit and continue', async () => {
    api.add('pods', ...pods('demo', 5), ...pods('prod', 2));
    const unlabelled = integrationPod('x', { suffix: 'nolab', created: '2026-12-02T10:00:00Z' });
    delete unlabelled.metadata.labels['camel.apache.org/integration'];
    api.add('pods', unlabelled);
    api.add('integrations', integration('hello'), integration('other', { namespace: 'prod' }));
    api.add('pipes', pipe('bound'));
    const got = await read({ pageSize: 2 });
    assert.equal(got.camelApi, true);
    assert.deepEqual(
      got.pods.map((p: any) => p.metadata.name),
      pods('demo', 5).map((p) => p.metadata.name),
    );
    assert.deepEqual(
      got.integrations.map((o: any) => o.metadata.name),
      ['hello'],
    );
    assert.deepEqual(
      got.pipes.map((o: any) => o.metadata.name),
      ['bound'],
    );
    const podRequests = api.requests.filter((r) => r.path === '/api/v1/namespaces/demo/pods');
    assert.equal(podRequests.length, 3, 'five pods in pages of two');
    assert.deepEqual(
      podRequests.map((r) => r.query.limit),
      ['2', '2', '2'],
    );
    assert.equal(podRequests[0]!.query.continue, undefined);
    assert.ok(podRequests[1]!.query.continue !== undefined && podRequests[2]!.query.continue !== podRequests[1]!.query.continue);
    assert.ok(podRequests.every((r) => r.query.labelSelector === 'camel.apache.org/integration'));
    assert.deepEqual(
      api.requests.filter((r) => r.path.startsWith('/apis/')).map((r) => r.path),
      ['/apis/camel.apache.org/v1/namespaces/demo/integrations', '/apis/camel.apache.org/v1/namespaces/demo/pipes'],
    );
    // client-node's typed pods turn timestamps into Dates: they come back as the API's text.
    assert.equal((got.pods[0] as any).metadata.creationTimestamp, '2026-12-02T10:00:00Z');
    assert.ok(Array.isArray((got.pods[0] as any).spec.containers));
  });

  it('lists every namespace with namespace null (cluster-wide paths)', async () => {
    api.add('pods', ...pods('demo', 2), ...pods('prod', 2));
    api.add('integrations', integration('hello'), integration('hello', { namespace: 'prod' }));
    const got = await read({ namespace: null });
    assert.equal(got.pods.length, 4);
    assert.equal(got.integrations.length, 2);
    assert.deepEqual(
      [...new Set(api.requests.map((r) => r.path))],
      ['/api/v1/pods', '/apis/camel.apache.org/v1/integrations', '/apis/camel.apache.org/v1/pipes'],
    );
  });

  it('skips Integrations and Pipes quietly when the API does not serve camel.apache.org (404)', async () => {
    api.add('pods', ...pods('demo', 1));
    api.setCamelApi(false);
    const got = await read();
    assert.equal(got.camelApi, false);
    assert.deepEqual([got.integrations, got.pipes], [[], []]);
    assert.equal(api.requests.filter((r) => r.path.endsWith('/pipes')).length, 0);
  });

  it('reads Integrations without Pipes from a Camel K that serves no Pipes', async () => {
    api.add('integrations', integration('hello'));
    api.setCamelApi(true, false);
    const got = await read();
    assert.equal(got.camelApi, true);
    assert.equal(got.integrations.length, 1);
    assert.deepEqual(got.pipes, []);
  });

  it('fails with stable codes: 401, 403 (naming the RBAC), 500, 410, a repeated continue token', async () => {
    await rejectsWith(read({}, 'wrong-token'), 'UNAUTHORIZED');
    api.setFault('pods', { status: 403 });
    await rejectsWith(read(), 'DENIED', /grant .* list on pods/);
    api.setFault('pods', undefined);
    api.setFault('integrations', { status: 403 });
    await rejectsWith(read(), 'DENIED', /integrations\.camel\.apache\.org/);
    api.setFault('integrations', { status: 500 });
    await rejectsWith(read(), 'UNAVAILABLE');
    api.setFault('integrations', undefined);
    api.setFault('pods', { status: 410 });
    await rejectsWith(read(), 'UNAVAILABLE', /run the audit again/);
    api.add('pods', ...pods('demo', 3));
    api.setFault('pods', { loopContinue: true });
    await rejectsWith(read({ pageSize: 1 }), 'INTERNAL', /repeated a continue token/);
  });

  it('bounds time, page size and item count', async () => {
    api.setFault('pods', { hang: true });
    const started = Date.now();
    await rejectsWith(read({ requestTimeoutMs: 300 }), 'TIMEOUT');
    assert.ok(Date.now() - started < 4_000);
    const outer = new AbortController();
    setTimeout(() => outer.abort(), 200);
    await assert.rejects(read({ signal: outer.signal }));
    api.setFault('pods', { bodyBytes: 200_000 });
    await rejectsWith(read({ maxPageBytes: 64 * 1024 }), 'SIZE_EXCEEDED');
    api.setFault('pods', undefined);
    api.add('pods', ...pods('demo', 6));
    await rejectsWith(read({ pageSize: 2, maxItems: 5 }), 'SIZE_EXCEEDED', /-n/);
  });
});
