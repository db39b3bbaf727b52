import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isCamelOciError } from '../../src/base/errors.js';
import {
  DEFAULT_CACHE_TTL_MS,
  MAX_SECRET_DATA_BYTES,
  createPullSecretReader,
  createPullSecretReaderFor,
  dockerConfigFromSecret,
  podServiceAccountName,
  type PullSecretReaderOptions,
} from '../../src/kube/pull-secrets.js';
import { parseDockerConfig, credentialFor, type DockerConfig } from '../../src/oci/docker-config.js';
import { MAX_POD_PULL_SECRETS, podPullSecretNames } from '../../src/inject/pull-secrets.js';
import { createLogger, type Logger } from '../../src/base/logger.js';
import { issueServerCert, makeTestCa } from '../helpers/test-ca.js';
import { startFakeApiserver, type FakeApiserver } from './fake-apiserver.js';
import { eventually } from '../helpers/eventually.js';

const TOKEN = 'webhook-sa-token-7f3a';
const NS = 'demo';
const DOCKERCONFIGJSON = 'kubernetes.io/dockerconfigjson';
const DOCKERCFG = 'kubernetes.io/dockercfg';

/** A `.dockerconfigjson` for `registry` whose password is `password` (a marker the log test looks for). */
function dockerConfigJson(registry: string, username: string, password: string): string {
  return JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } } });
}

/** A legacy `.dockercfg` map. */
function dockerCfg(registry: string, username: string, password: string): string {
  return JSON.stringify({ [registry]: { auth: Buffer.from(`${username}:${password}`).toString('base64'), email: 'x@example.com' } });
}

function pod(spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: NS },
    spec: { containers: [{ name: 'c', image: 'app' }], ...spec },
  };
}

function pullSecrets(...names: string[]): Array<{ name: string }> {
  return names.map((name) => ({ name }));
}

/** A trace-level logger keeping the raw JSON lines. */
function rawLogger(): { logger: Logger; raw: string[]; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const logger = createLogger({ level: 'trace', destination: { write: (s: string) => void raw.push(s) } });
  return { logger, raw, lines: () => raw.map((s) => JSON.parse(s) as Record<string, unknown>) };
}

/** The user name each returned config gives for `registry`, in order. */
/** The user each config (or config text) gives `registry`, in order. */
function usersFor(configs: readonly (string | DockerConfig)[], registry: string): string[] {
  return configs.map((t, i) => {
    const c = credentialFor([typeof t === 'string' ? parseDockerConfig(t, `t${i}`) : t], registry, 'acme/deps');
    return c?.kind === 'basic' ? c.username : '(none)';
  });
}

let dir: string;
let api: FakeApiserver;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-kube-'));
  const ca = await makeTestCa(dir);
  const cert = await issueServerCert(ca);
  api = await startFakeApiserver({ certPem: cert.certPem, keyPem: cert.keyPem, caPem: ca.certPem, token: TOKEN });
});

after(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => api.reset());

function reader(options: PullSecretReaderOptions = {}) {
  return createPullSecretReaderFor(api.kubeConfig(), options);
}

describe('pod pull secret names (pure)', () => {
  const nameCases: Array<{ name: string; pod: unknown; want: string[] }> = [
    { name: 'in order', pod: pod({ imagePullSecrets: pullSecrets('b', 'a') }), want: ['b', 'a'] },
    { name: 'duplicates once', pod: pod({ imagePullSecrets: pullSecrets('a', 'b', 'a') }), want: ['a', 'b'] },
    {
      name: 'invalid names dropped',
      pod: pod({ imagePullSecrets: [{ name: '../x' }, { name: 'UPPER' }, {}, 'str', { name: 'ok.dots-1' }] }),
      want: ['ok.dots-1'],
    },
    { name: 'none', pod: pod({}), want: [] },
    { name: 'not an array', pod: pod({ imagePullSecrets: { name: 'a' } }), want: [] },
    { name: 'no spec', pod: { metadata: {} }, want: [] },
  ];
  for (const c of nameCases) {
    it(`podPullSecretNames: ${c.name}`, () => assert.deepEqual(podPullSecretNames(c.pod), c.want));
  }

  const accountCases: Array<{ name: string; pod: unknown; want: string | undefined }> = [
    { name: 'serviceAccountName', pod: pod({ serviceAccountName: 'builder' }), want: 'builder' },
    { name: 'deprecated serviceAccount', pod: pod({ serviceAccount: 'old' }), want: 'old' },
    { name: 'default when absent', pod: pod({}), want: 'default' },
    { name: 'invalid name', pod: pod({ serviceAccountName: 'a/b' }), want: undefined },
  ];
  for (const c of accountCases) {
    it(`podServiceAccountName: ${c.name}`, () => assert.equal(podServiceAccountName(c.pod), c.want));
  }
});

describe('dockerConfigFromSecret (pure)', () => {
  const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
  it('reads .dockerconfigjson of a dockerconfigjson secret as is', () => {
    const text = dockerConfigJson('r.example', 'alice', 'pw');
    const r = dockerConfigFromSecret({ type: DOCKERCONFIGJSON, data: { '.dockerconfigjson': b64(text) } }, 's');
    assert.ok('config' in r);
    assert.deepEqual(r.config, parseDockerConfig(text, 's'));
    assert.equal(r.bytes, text.length);
  });
  it('wraps a legacy .dockercfg map into {"auths": ...}', () => {
    const r = dockerConfigFromSecret({ type: DOCKERCFG, data: { '.dockercfg': b64(dockerCfg('r.example', 'bob', 'pw')) } }, 's');
    assert.ok('config' in r);
    assert.deepEqual(usersFor([r.config], 'r.example'), ['bob']);
  });
  const skipCases: Array<{ name: string; secret: { type?: string; data?: Record<string, string> }; reason: RegExp }> = [
    {
      name: 'Opaque secret with the right key',
      secret: { type: 'Opaque', data: { '.dockerconfigjson': b64(dockerConfigJson('r', 'u', 'p')) } },
      reason: /not kubernetes.io\/dockerconfigjson/,
    },
    {
      name: 'type and key disagree',
      secret: { type: DOCKERCONFIGJSON, data: { '.dockercfg': b64(dockerCfg('r', 'u', 'p')) } },
      reason: /no "\.dockerconfigjson"/,
    },
    { name: 'no data', secret: { type: DOCKERCFG }, reason: /no "\.dockercfg"/ },
    {
      name: 'not JSON',
      secret: { type: DOCKERCONFIGJSON, data: { '.dockerconfigjson': b64('{"auths": {"r": {"auth": "c2VjcmV0') } },
      reason: /not valid JSON/,
    },
    { name: 'legacy not JSON', secret: { type: DOCKERCFG, data: { '.dockercfg': b64('nope') } }, reason: /not valid JSON/ },
    {
      name: 'not UTF-8',
      secret: { type: DOCKERCONFIGJSON, data: { '.dockerconfigjson': b64(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])) } },
      reason: /not UTF-8/,
    },
    {
      name: 'no credentials',
      secret: { type: DOCKERCONFIGJSON, data: { '.dockerconfigjson': b64('{"auths":{}}') } },
      reason: /no usable credentials/,
    },
    {
      name: 'larger than 1 MiB',
      secret: { type: DOCKERCONFIGJSON, data: { '.dockerconfigjson': b64(Buffer.alloc(MAX_SECRET_DATA_BYTES + 1, 0x20)) } },
      reason: /larger than 1048576 bytes/,
    },
  ];
  for (const c of skipCases) {
    it(`skips: ${c.name}`, () => {
      const r = dockerConfigFromSecret(c.secret, 'secret demo/x');
      assert.ok('skipped' in r, 'expected a skip');
      assert.match(r.skipped, c.reason);
      assert.doesNotMatch(r.skipped, /c2VjcmV0|secret"/, 'the reason must not quote the contents');
    });
  }
});

describe('createPullSecretReaderFor against a fake apiserver', () => {
  it("returns a dockerconfigjson secret parsed, and a dockercfg one wrapped, in the pod's order", async () => {
    const json = dockerConfigJson('registry.acme.example', 'alice', 'pw-a');
    api.setSecret(NS, 'json-secret', DOCKERCONFIGJSON, { '.dockerconfigjson': json });
    api.setSecret(NS, 'cfg-secret', DOCKERCFG, { '.dockercfg': dockerCfg('registry.acme.example', 'bob', 'pw-b') });
    const texts = await reader()(NS, pod({ imagePullSecrets: pullSecrets('json-secret', 'cfg-secret') }));
    assert.equal(texts.length, 2);
    assert.deepEqual(usersFor(texts.slice(0, 1), 'registry.acme.example'), ['alice']);
    assert.deepEqual(usersFor(texts, 'registry.acme.example'), ['alice', 'bob']);
    // Authenticated with the KubeConfig's token.
    assert.ok(api.requests.every((r) => r.authorization === `Bearer ${TOKEN}`));
  });

  it('reads each listed secret once even when the pod lists it twice, and never requests an invalid name', async () => {
    api.setSecret(NS, 'a', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'u', 'p') });
    const texts = await reader()(NS, pod({ imagePullSecrets: [{ name: 'a' }, { name: 'a' }, { name: '../../nodes' }] }));
    assert.equal(texts.length, 1);
    assert.deepEqual(
      api.requests.map((r) => r.path),
      [`/api/v1/namespaces/${NS}/secrets/a`],
    );
  });

  it("falls back to the service account's pull secrets (deduplicated) when the pod lists none", async () => {
    api.setServiceAccount(NS, 'builder', ['sa-secret', 'sa-secret', 'sa-other']);
    api.setSecret(NS, 'sa-secret', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'from-sa', 'p') });
    api.setSecret(NS, 'sa-other', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'from-sa-2', 'p') });
    const texts = await reader()(NS, pod({ serviceAccountName: 'builder' }));
    assert.deepEqual(usersFor(texts, 'r.example'), ['from-sa', 'from-sa-2']);
    assert.equal(api.count(NS, 'serviceaccounts', 'builder'), 1);
    assert.equal(api.count(NS, 'secrets', 'sa-secret'), 1);
  });

  it('uses the `default` service account when the pod names none', async () => {
    api.setServiceAccount(NS, 'default', ['d']);
    api.setSecret(NS, 'd', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'dflt', 'p') });
    assert.deepEqual(usersFor(await reader()(NS, pod({})), 'r.example'), ['dflt']);
  });

  it("does not merge the service account's secrets into a pod's own list (the admission plugin's and kubelet's rule)", async () => {
    api.setServiceAccount(NS, 'builder', ['sa-secret']);
    api.setSecret(NS, 'sa-secret', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'from-sa', 'p') });
    api.setSecret(NS, 'own', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'own', 'p') });
    const texts = await reader()(NS, pod({ serviceAccountName: 'builder', imagePullSecrets: pullSecrets('own') }));
    assert.deepEqual(usersFor(texts, 'r.example'), ['own']);
    assert.equal(api.count(NS, 'serviceaccounts', 'builder'), 0, 'the service account is not even read');
    assert.equal(api.count(NS, 'secrets', 'sa-secret'), 0);
  });

  it('skips missing (404) and forbidden (403) secrets, keeps the readable ones, and warns about 403', async () => {
    const { logger, lines } = rawLogger();
    api.setSecret(NS, 'good', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'good', 'p') });
    api.setSecret(NS, 'denied', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'never', 'p') });
    api.setFault(NS, 'secrets', 'denied', { status: 403 });
    const texts = await reader({ logger })(NS, pod({ imagePullSecrets: pullSecrets('gone', 'denied', 'good') }));
    assert.deepEqual(usersFor(texts, 'r.example'), ['good']);
    const byName = (n: string) => lines().find((l) => l.secret === n);
    assert.equal(byName('gone')?.level, 'debug');
    assert.equal(byName('gone')?.status, 404);
    assert.equal(byName('denied')?.level, 'warn');
    assert.equal(byName('denied')?.status, 403);
    assert.match(String(byName('denied')?.reason), /grant the webhook's service account get on secrets/);
  });

  it('skips a missing or forbidden service account', async () => {
    api.setFault(NS, 'serviceaccounts', 'locked', { status: 403 });
    assert.deepEqual(await reader()(NS, pod({ serviceAccountName: 'locked' })), []);
    assert.deepEqual(await reader()(NS, pod({ serviceAccountName: 'absent' })), []);
    assert.equal(api.count(NS, 'serviceaccounts', 'locked'), 1);
    assert.equal(api.count(NS, 'serviceaccounts', 'absent'), 1);
  });

  it('skips secrets of another type, a broken docker config, a 500 and a body that is not JSON, without rejecting', async () => {
    const { logger, lines } = rawLogger();
    api.setSecret(NS, 'opaque', 'Opaque', { '.dockerconfigjson': dockerConfigJson('r.example', 'x', 'p') });
    api.setSecret(NS, 'broken', DOCKERCONFIGJSON, { '.dockerconfigjson': '{"auths":{"r.example":{"auth":"bm90LWJhc2U2NA"}}}' });
    api.setFault(NS, 'secrets', 'flaky', { status: 500 });
    api.setFault(NS, 'secrets', 'garbled', { invalidJson: true });
    api.setSecret(NS, 'good', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'good', 'p') });
    const texts = await reader({ logger })(NS, pod({ imagePullSecrets: pullSecrets('opaque', 'broken', 'flaky', 'garbled', 'good') }));
    assert.deepEqual(usersFor(texts, 'r.example'), ['good']);
    const warned = lines()
      .filter((l) => l.level === 'warn')
      .map((l) => l.secret)
      .sort();
    assert.deepEqual(warned, ['broken', 'flaky', 'garbled', 'opaque']);
  });

  it('caches answers per (namespace, name) within the TTL, including "not found", and reads again after it', async () => {
    let clock = 1_000_000;
    const read = reader({ now: () => clock });
    api.setServiceAccount(NS, 'default', ['s']);
    api.setSecret(NS, 's', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'u', 'p') });
    const podWithGone = pod({ imagePullSecrets: pullSecrets('s', 'gone') });
    assert.equal((await read(NS, podWithGone)).length, 1);
    assert.equal((await read(NS, pod({}))).length, 1);
    clock += DEFAULT_CACHE_TTL_MS - 1;
    assert.equal((await read(NS, podWithGone)).length, 1);
    assert.equal((await read(NS, pod({}))).length, 1);
    assert.equal(api.count(NS, 'secrets', 's'), 1);
    assert.equal(api.count(NS, 'secrets', 'gone'), 1);
    assert.equal(api.count(NS, 'serviceaccounts', 'default'), 1);
    // Another namespace is another key.
    await read('other', podWithGone);
    assert.equal(api.count('other', 'secrets', 's'), 1);
    clock += 1;
    await read(NS, podWithGone);
    await read(NS, pod({}));
    assert.equal(api.count(NS, 'secrets', 's'), 2);
    assert.equal(api.count(NS, 'secrets', 'gone'), 2);
    assert.equal(api.count(NS, 'serviceaccounts', 'default'), 2);
  });

  it('does not cache a transient failure: the next admission asks again', async () => {
    const read = reader();
    api.setFault(NS, 'secrets', 's', { status: 500 });
    assert.deepEqual(await read(NS, pod({ imagePullSecrets: pullSecrets('s') })), []);
    api.reset();
    api.setSecret(NS, 's', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'u', 'p') });
    assert.equal((await read(NS, pod({ imagePullSecrets: pullSecrets('s') }))).length, 1);
  });

  it('cacheTtlMs 0 reads every time', async () => {
    const read = reader({ cacheTtlMs: 0 });
    api.setSecret(NS, 's', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'u', 'p') });
    await read(NS, pod({ imagePullSecrets: pullSecrets('s') }));
    await read(NS, pod({ imagePullSecrets: pullSecrets('s') }));
    assert.equal(api.count(NS, 'secrets', 's'), 2);
  });

  it('single-flights concurrent reads of the same secret and service account', async () => {
    const read = reader();
    api.setServiceAccount(NS, 'default', ['s']);
    api.setSecret(NS, 's', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'u', 'p') });
    api.setFault(NS, 'serviceaccounts', 'default', { delayMs: 100 });
    api.setFault(NS, 'secrets', 's', { delayMs: 100 });
    const results = await Promise.all(Array.from({ length: 8 }, () => read(NS, pod({}))));
    assert.ok(results.every((r) => r.length === 1));
    assert.equal(api.count(NS, 'serviceaccounts', 'default'), 1);
    assert.equal(api.count(NS, 'secrets', 's'), 1);
  });

  it('bounds a hanging apiserver by the per-request timeout, keeps the other secrets, and closes the request', async () => {
    const { logger, lines } = rawLogger();
    api.setFault(NS, 'secrets', 'stuck', { hang: true });
    api.setSecret(NS, 'good', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'good', 'p') });
    const started = performance.now();
    const texts = await reader({ timeoutMs: 150, logger })(NS, pod({ imagePullSecrets: pullSecrets('stuck', 'good') }));
    const elapsed = performance.now() - started;
    assert.deepEqual(usersFor(texts, 'r.example'), ['good']);
    // The secret hangs for ever: any bound well short of the test's own timeout shows the 150 ms one held.
    assert.ok(elapsed >= 140 && elapsed < 5_000, `took ${elapsed} ms`);
    const line = lines().find((l) => l.secret === 'stuck');
    assert.equal(line?.code, 'TIMEOUT');
    assert.equal(line?.level, 'warn');
    // The client tore the connection down: the server sees no request left open.
    await eventually(() => api.openRequests() === 0);
    assert.equal(api.openRequests(), 0);
  });

  it('bounds a slow service account lookup too', async () => {
    api.setFault(NS, 'serviceaccounts', 'default', { delayMs: 5_000 });
    const started = performance.now();
    assert.deepEqual(await reader({ timeoutMs: 100 })(NS, pod({})), []);
    assert.ok(performance.now() - started < 4_000, 'did not wait for the 5 s answer');
  });

  it('stops reading an answer larger than any Secret', async () => {
    const { logger, lines } = rawLogger();
    api.setFault(NS, 'secrets', 'huge', { bodyBytes: 16 * 1024 * 1024 });
    const texts = await reader({ logger })(NS, pod({ imagePullSecrets: pullSecrets('huge') }));
    assert.deepEqual(texts, []);
    assert.equal(lines().find((l) => l.secret === 'huge')?.code, 'SIZE_EXCEEDED');
  });

  it('skips a secret whose data exceeds 1 MiB but reads one just under', async () => {
    const filler = 'x'.repeat(MAX_SECRET_DATA_BYTES - 200);
    const under = JSON.stringify({ auths: { 'r.example': { auth: Buffer.from('u:p').toString('base64') } }, psFormat: filler });
    assert.ok(under.length <= MAX_SECRET_DATA_BYTES);
    const over = JSON.stringify({
      auths: { 'r.example': { auth: Buffer.from('u:p').toString('base64') } },
      psFormat: `${filler}${'y'.repeat(300)}`,
    });
    assert.ok(over.length > MAX_SECRET_DATA_BYTES);
    api.setSecret(NS, 'under', DOCKERCONFIGJSON, { '.dockerconfigjson': under });
    api.setSecret(NS, 'over', DOCKERCONFIGJSON, { '.dockerconfigjson': over });
    const texts = await reader()(NS, pod({ imagePullSecrets: pullSecrets('over', 'under') }));
    assert.equal(texts.length, 1);
    assert.deepEqual(usersFor(texts, 'r.example'), ['u']);
  });

  it('reads at most maxSecrets secrets for one pod, and says so', async () => {
    const { logger, lines } = rawLogger();
    const names = Array.from({ length: 20 }, (_, i) => `s${i}`);
    for (const n of names) api.setSecret(NS, n, DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson(`${n}.example`, n, 'p') });
    const texts = await reader({ maxSecrets: 16, logger })(NS, pod({ imagePullSecrets: pullSecrets(...names) }));
    assert.equal(texts.length, 16);
    assert.equal(api.requests.length, 16);
    assert.equal(api.count(NS, 'secrets', 's16'), 0);
    assert.ok(lines().some((l) => l.level === 'warn' && l.limit === 16 && /the pod lists more than 16/.test(String(l.msg))));
  });

  it("applies the limit to a service account's list as well", async () => {
    const { logger, lines } = rawLogger();
    api.setServiceAccount(NS, 'default', ['a', 'b', 'c']);
    await reader({ maxSecrets: 2, logger })(NS, pod({}));
    assert.ok(lines().some((l) => l.level === 'warn' && /service account default lists more than 2/.test(String(l.msg))));
    assert.deepEqual(
      api.requests.filter((r) => r.path.includes('/secrets/')).map((r) => r.path.split('/').pop()),
      ['a', 'b'],
    );
  });

  it('reads nothing for an invalid namespace or a pod that is not an object', async () => {
    const read = reader();
    assert.deepEqual(await read('../kube-system', pod({ imagePullSecrets: pullSecrets('s') })), []);
    assert.deepEqual(await read(NS, null), []);
    assert.deepEqual(await read(NS, 'pod'), []);
    assert.equal(api.requests.length, 0);
  });

  it("does not trust an apiserver whose certificate the KubeConfig's CA did not sign", async () => {
    const otherDir = await mkdtemp(path.join(dir, 'other-ca-'));
    const otherCa = await makeTestCa(otherDir);
    const kc = api.kubeConfig();
    const cluster = kc.getCurrentCluster();
    assert.ok(cluster);
    kc.loadFromOptions({
      clusters: [{ ...cluster, caData: Buffer.from(otherCa.certPem).toString('base64') }],
      users: kc.getUsers(),
      contexts: kc.getContexts(),
      currentContext: kc.getCurrentContext(),
    });
    const { logger, lines } = rawLogger();
    api.setSecret(NS, 's', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'u', 'p') });
    assert.deepEqual(await createPullSecretReaderFor(kc, { logger })(NS, pod({ imagePullSecrets: pullSecrets('s') })), []);
    assert.equal(lines().find((l) => l.secret === 's')?.code, 'TLS_ERROR');
    assert.equal(api.requests.length, 0, 'no request reached the untrusted server');
  });

  it("keeps a pod's huge imagePullSecrets list cheap: reads only up to the limit", async () => {
    const many = Array.from({ length: 200_000 }, (_, i) => ({ name: `n${i}` }));
    const started = performance.now();
    assert.equal(podPullSecretNames(pod({ imagePullSecrets: many }), 17).length, 17);
    assert.equal(podPullSecretNames(pod({ imagePullSecrets: many })).length, MAX_POD_PULL_SECRETS, 'one cap by default');
    assert.equal(podPullSecretNames(pod({ imagePullSecrets: many }), Number.POSITIVE_INFINITY).length, 200_000);
    assert.ok(performance.now() - started < 2_000);
  });

  it("gets nothing (and does not reject) when the apiserver rejects the webhook's token", async () => {
    const { logger, lines } = rawLogger();
    api.setSecret(NS, 's', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'u', 'p') });
    const read = createPullSecretReaderFor(api.kubeConfig('wrong-token'), { logger });
    assert.deepEqual(await read(NS, pod({ imagePullSecrets: pullSecrets('s') })), []);
    assert.equal(lines().find((l) => l.secret === 's')?.status, 401);
  });

  it('never writes secret contents to the log, at trace level, whatever happens to a secret', async () => {
    const { logger, raw } = rawLogger();
    const markers = ['pw-MARKER-json', 'pw-MARKER-cfg', 'pw-MARKER-opaque', 'pw-MARKER-broken'];
    api.setSecret(NS, 'json', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'user-json', markers[0]!) });
    api.setSecret(NS, 'cfg', DOCKERCFG, { '.dockercfg': dockerCfg('r.example', 'user-cfg', markers[1]!) });
    api.setSecret(NS, 'opaque', 'Opaque', { '.dockerconfigjson': dockerConfigJson('r.example', 'user-o', markers[2]!) });
    // Not JSON: V8's JSON.parse message would quote the text around the error.
    api.setSecret(NS, 'broken', DOCKERCONFIGJSON, { '.dockerconfigjson': `{"auths":{"r.example":{"password":"${markers[3]!}" oops` });
    const texts = await reader({ logger })(NS, pod({ imagePullSecrets: pullSecrets('json', 'cfg', 'opaque', 'broken') }));
    assert.equal(texts.length, 2);
    assert.ok(raw.length >= 4, 'every secret left a log line');
    const output = raw.join('');
    const encodings = markers.flatMap((m) => [m, Buffer.from(m).toString('base64')]);
    for (const e of encodings) assert.ok(!output.includes(e), `log output contains ${e}`);
    for (const t of texts) {
      const entry = t.entries[0];
      const auth =
        entry?.credential.kind === 'basic'
          ? Buffer.from(`${entry.credential.username}:${entry.credential.password}`).toString('base64')
          : '';
      assert.ok(!output.includes(auth), 'log output contains an auth value');
    }
  });
});

describe('createPullSecretReader (mode and environment)', () => {
  const silent = createLogger({ level: 'silent' });

  it('returns undefined for false, even in a cluster', () => {
    assert.equal(createPullSecretReader('false', { KUBERNETES_SERVICE_HOST: '127.0.0.1' }, silent), undefined);
  });

  it('returns undefined for auto outside a cluster, even with a KUBECONFIG', () => {
    assert.equal(createPullSecretReader('auto', {}, silent), undefined);
    assert.equal(createPullSecretReader('auto', { KUBECONFIG: path.join(dir, 'any'), KUBERNETES_SERVICE_HOST: '' }, silent), undefined);
  });

  it('refuses an unknown mode', () => {
    assert.throws(
      () => createPullSecretReader('yes', {}, silent),
      (e: unknown) => isCamelOciError(e, 'CONFIG_INVALID') && /auto, true or false/.test(e.message),
    );
  });

  it('true outside a cluster without a kubeconfig is CONFIG_INVALID with a way out', async () => {
    const home = await mkdtemp(path.join(dir, 'home-'));
    assert.throws(
      () => createPullSecretReader('true', { HOME: home }, silent),
      (e: unknown) =>
        isCamelOciError(e, 'CONFIG_INVALID') && /no kubeconfig found/.test(e.message) && /--pull-secrets=false/.test(e.message),
    );
    assert.throws(
      () => createPullSecretReader('true', { KUBECONFIG: path.join(home, 'missing.yaml') }, silent),
      (e: unknown) => isCamelOciError(e, 'CONFIG_INVALID'),
    );
  });

  it('true outside a cluster reads through the KUBECONFIG file', async () => {
    const file = path.join(dir, 'kubeconfig.yaml');
    await writeFile(file, api.kubeConfigYaml());
    api.setSecret(NS, 's', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'via-kubeconfig', 'p') });
    const read = createPullSecretReader('true', { KUBECONFIG: file }, silent);
    assert.ok(read);
    assert.deepEqual(usersFor(await read(NS, pod({ imagePullSecrets: pullSecrets('s') })), 'r.example'), ['via-kubeconfig']);
  });

  it('true outside a cluster reads $HOME/.kube/config when KUBECONFIG is unset', async () => {
    const home = await mkdtemp(path.join(dir, 'home-'));
    await mkdir(path.join(home, '.kube'));
    await writeFile(path.join(home, '.kube', 'config'), api.kubeConfigYaml());
    api.setSecret(NS, 's', DOCKERCONFIGJSON, { '.dockerconfigjson': dockerConfigJson('r.example', 'via-home', 'p') });
    const read = createPullSecretReader('true', { HOME: home }, silent);
    assert.ok(read);
    assert.equal((await read(NS, pod({ imagePullSecrets: pullSecrets('s') }))).length, 1);
  });

  it('a kubeconfig that is not YAML is CONFIG_INVALID naming the file', async () => {
    const file = path.join(dir, 'bad-kubeconfig.yaml');
    await writeFile(file, 'clusters: [unclosed\n');
    assert.throws(
      () => createPullSecretReader('true', { KUBECONFIG: file }, silent),
      (e: unknown) => isCamelOciError(e, 'CONFIG_INVALID') && e.message.includes(file),
    );
  });

  it('auto in a cluster uses the mounted service account token and CA', async () => {
    const saDir = await mkdtemp(path.join(dir, 'sa-'));
    await writeFile(path.join(saDir, 'token'), 'in-cluster-token');
    const caPem = Buffer.from(api.kubeConfig().getCurrentCluster()?.caData ?? '', 'base64');
    await writeFile(path.join(saDir, 'ca.crt'), caPem);
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
    const read = createPullSecretReader('auto', env, silent, { serviceAccountDir: saDir });
    assert.ok(read);
    await read(NS, pod({ imagePullSecrets: pullSecrets('s') }));
    assert.deepEqual(
      api.requests.map((r) => r.authorization),
      ['Bearer in-cluster-token'],
    );
  });

  it('in a cluster without a service account token: auto disables with a warning, true refuses', async () => {
    const empty = await mkdtemp(path.join(dir, 'no-sa-'));
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1' };
    const { logger, lines } = rawLogger();
    assert.equal(createPullSecretReader('auto', env, logger, { serviceAccountDir: empty }), undefined);
    assert.ok(lines().some((l) => l.level === 'warn'));
    assert.throws(
      () => createPullSecretReader('true', env, silent, { serviceAccountDir: empty }),
      (e: unknown) => isCamelOciError(e, 'CONFIG_INVALID') && /automountServiceAccountToken/.test(e.message),
    );
  });
});
