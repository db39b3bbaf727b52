/**
 * `camel-oci audit` through the built CLI: a stand-in apiserver (HTTPS, loopback) holding pods the
 * project's own injection produced and Integrations as Camel K and the webhook leave them, and the
 * real registry for --check-tags (a tag moved between pinning and the audit). Exit statuses: 0
 * clean, 3 findings, 1 error, 2 bad flags.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { pushStandardArtifact } from '../helpers/artifacts.js';
import { createResolverFor } from '../helpers/resolver.js';
import { issueServerCert, makeTestCa } from '../helpers/test-ca.js';
import { startListApiserver, type ListApiserver } from '../kube/list-apiserver.js';
import { admittedPod, integration, integrationPod, pinsValue } from '../audit/support.js';
import { artifactFor } from '../webhook/support.js';
import { ANNOTATION_PINNED } from '../../src/inject/annotations.js';
import { DEFAULT_TABLE_WIDTH } from '../../src/audit/format.js';
import type { ResolvedArtifact } from '../../src/plan/artifact.js';

const TOKEN = 'auditor-token-9d0e';
const REF = 'registry.acme.example/acme/deps:1.0';

let dir: string;
let api: ListApiserver;
let kubeconfig: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-audit-cli-'));
  const ca = await makeTestCa(dir);
  const cert = await issueServerCert(ca);
  api = await startListApiserver({ certPem: cert.certPem, keyPem: cert.keyPem, caPem: ca.certPem, token: TOKEN });
  kubeconfig = path.join(dir, 'kubeconfig');
  // The context's namespace is what `audit` reads without -n, as kubectl does.
  await writeFile(kubeconfig, api.kubeConfigYaml({ namespace: 'demo' }));
});

after(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => api.reset());

function audit(args: readonly string[], env: Record<string, string> = {}): ReturnType<typeof runCli> {
  return runCli(['audit', ...args], { env: { KUBECONFIG: kubeconfig, ...env } });
}

/** A pinned Integration and its replicas injected with the pins, in `namespace`. */
function pinnedIntegration(name: string, namespace: string, artifacts: readonly ResolvedArtifact[], replicas = 2): void {
  const refs = artifacts.map((a) => a.reference);
  api.add('integrations', integration(name, { namespace, request: refs, pinned: artifacts }));
  for (let i = 0; i < replicas; i++) {
    api.add(
      'pods',
      integrationPod(name, {
        namespace,
        suffix: `r${i}xyz`,
        created: `2026-12-02T10:0${i}:00Z`,
        request: refs,
        injected: artifacts,
        annotations: { [ANNOTATION_PINNED]: pinsValue(artifacts) },
      }),
    );
  }
}

describe('camel-oci audit', () => {
  it("exits 0 on a clean namespace (the kubeconfig context's), with a table", async () => {
    pinnedIntegration('hello', 'demo', [artifactFor(REF)]);
    const res = await audit([]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^demo\/hello {2}\(Integration, 2 pods\)/);
    assert.match(res.stdout, /no findings \(namespace demo\)/);
    assert.ok(api.requests.some((r) => r.path === '/api/v1/namespaces/demo/pods'));
  });

  it('exits 3 with findings; -n audits one namespace, -A all; JSON is parseable with codes', async () => {
    pinnedIntegration('hello', 'demo', [artifactFor(REF)]);
    pinnedIntegration('hello', 'prod', [artifactFor(REF)]);
    api.add('pods', integrationPod('hello', { namespace: 'prod', suffix: 'plain', created: '2026-12-02T11:00:00Z', request: [REF] }));
    const demo = await audit(['-n', 'demo', '-o', 'json']);
    assert.equal(demo.code, 0, demo.stderr);
    assert.equal(JSON.parse(demo.stdout).namespace, 'demo');
    const prod = await audit(['-n', 'prod', '-o', 'json']);
    assert.equal(prod.code, 3, prod.stderr);
    const report = JSON.parse(prod.stdout);
    assert.deepEqual(
      report.findings.map((f: any) => [f.code, f.namespace, f.pod]),
      [['NOT_INJECTED', 'prod', 'hello-6f9c7d8b5d-plain']],
    );
    const all = await audit(['-A', '-o', 'json']);
    assert.equal(all.code, 3);
    const both = JSON.parse(all.stdout);
    assert.equal(both.allNamespaces, true);
    assert.deepEqual(
      both.integrations.map((e: any) => `${e.namespace}/${e.name}`),
      ['demo/hello', 'prod/hello'],
    );
    assert.ok(
      api.requests.some((r) => r.path === '/api/v1/pods'),
      'cluster-wide list for -A',
    );
    const table = await audit(['--all-namespaces']);
    assert.equal(table.code, 3);
    for (const line of table.stdout.split('\n')) assert.ok(line.length <= DEFAULT_TABLE_WIDTH, line);
    assert.match(table.stdout, /FINDINGS \(1\)\nNOT_INJECTED/);
  });

  it('reads pods only when Camel K is not installed (404 on the group)', async () => {
    api.setCamelApi(false);
    api.add(
      'pods',
      integrationPod('hello', {
        suffix: 'a0001',
        created: '2026-12-02T10:00:00Z',
        request: [REF],
        injected: [{ ...artifactFor(REF), stale: true }],
      }),
    );
    const res = await audit(['-o', 'json']);
    assert.equal(res.code, 3, res.stderr);
    const report = JSON.parse(res.stdout);
    assert.equal(report.camelApi, false);
    assert.deepEqual(
      report.findings.map((f: any) => f.code),
      ['STALE_RESOLUTION'],
    );
  });

  it('exits 2 on bad flags', async () => {
    for (const args of [
      ['-n', 'demo', '-A'],
      ['-o', 'yaml'],
      ['--no-such-flag'],
      ['demo'],
      ['-n', 'Not_A_Namespace'],
      ['--timeout', 'soon'],
    ]) {
      const res = await audit(args);
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /CONFIG_INVALID/);
    }
    const noCa = await audit(['--check-tags', '--ca-file', path.join(dir, 'no-such-ca.pem')]);
    assert.equal(noCa.code, 2, noCa.stderr);
    assert.match(noCa.stderr, /--ca-file/);
    assert.equal(api.requests.length, 0, 'flags are checked before the API is asked anything');
    const help = await audit(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--all-namespaces[\s\S]*--check-tags/);
    assert.match(help.stdout, /^ {2}--namespace, -n VALUE$/m, 'short forms are shown');
    assert.match(help.stdout, /^ {2}--all-namespaces, -A$/m);
  });

  it('exits 1 when the audit cannot be done: forbidden, no kubeconfig, unreachable apiserver', async () => {
    api.setFault('pods', { status: 403 });
    const denied = await audit([]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /DENIED: listing pods is forbidden/);
    assert.equal(denied.stdout, '');
    const missing = await audit([], { KUBECONFIG: path.join(dir, 'no-such-kubeconfig') });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /needs a kubeconfig/);
    // In a pod (KUBERNETES_SERVICE_HOST set, no KUBECONFIG) without a mounted service account token.
    const noToken = await audit([], { KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1' });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /needs a kubeconfig.*serviceaccount\/token does not exist/);
    assert.doesNotMatch(noToken.stderr, /pull-secrets/);
    const wrongToken = path.join(dir, 'kubeconfig-wrong');
    await writeFile(wrongToken, api.kubeConfigYaml({ token: 'nope' }));
    const unauthorized = await audit([], { KUBECONFIG: wrongToken });
    assert.equal(unauthorized.code, 1);
    assert.match(unauthorized.stderr, /UNAUTHORIZED/);
    // A plain http:// server, which the Kubernetes client refuses before any request: said as such.
    const plain = path.join(dir, 'kubeconfig-http');
    await writeFile(
      plain,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: plain, cluster: {server: "http://127.0.0.1:1"}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: c, context: {cluster: plain, user: u}}]',
        'current-context: c',
        '',
      ].join('\n'),
    );
    const http = await audit([], { KUBECONFIG: plain });
    assert.equal(http.code, 1);
    assert.match(http.stderr, /CONFIG_INVALID: .*cluster "plain" has a plain http:\/\/ server.*insecure-skip-tls-verify: true/);
  });
});

describe('camel-oci audit --check-tags against the real registry', () => {
  let registry: StartedRegistry;
  before(async () => {
    registry = await startRegistry({ mode: 'plain' });
  });
  after(() => registry.stop());

  const registryFlags = (): string[] => ['--insecure-registry', registry.host, '--allow-registry', registry.host];

  it('is clean while the tag names the pins, reports TAG_MOVED once it moves (one request per tag), and TAG_CHECK_FAILED with exit 1', async () => {
    const pushed = await pushStandardArtifact(registry, 'acme/deps', '1.0');
    const { resolver, context } = await createResolverFor(registry);
    let pinned: ResolvedArtifact;
    try {
      pinned = await resolver.resolve(pushed.reference);
      // Two integrations asking for the same tag (the tag is still checked once), pinned as the
      // webhook pins them; their pods admitted from the pins by the webhook's own pod workflow.
      for (const [name, replicas] of [
        ['hello', 2],
        ['again', 1],
      ] as const) {
        api.add('integrations', integration(name, { request: [pushed.reference], pinned: [pinned] }));
        for (let i = 0; i < replicas; i++) {
          api.add(
            'pods',
            await admittedPod(name, {
              suffix: `r${i}xyz`,
              created: `2026-12-02T10:0${i}:00Z`,
              request: [pushed.reference],
              annotations: { [ANNOTATION_PINNED]: pinsValue([pinned]) },
              admitWith: resolver,
            }),
          );
        }
      }
    } finally {
      await context.agent.close();
    }

    registry.resetAccessLog();
    const clean = await audit(['--check-tags', ...registryFlags(), '-o', 'json']);
    assert.equal(clean.code, 0, clean.stderr + clean.stdout);
    assert.deepEqual(JSON.parse(clean.stdout).tags, [{ reference: pushed.reference, digest: pinned.digest }]);
    const tagRequests = (await registry.settledAccessLog()).filter((e) => e.kind === 'manifest' && e.reference === '1.0');
    assert.equal(tagRequests.length, 1, 'one request per distinct tag');

    // The tag moves after pinning (a new push of the same tag).
    const moved = await pushStandardArtifact(registry, 'acme/deps', '1.0');
    assert.notEqual(moved.manifest.digest, pinned.digest);
    const res = await audit(['--check-tags', ...registryFlags(), '-o', 'json']);
    assert.equal(res.code, 3, res.stderr);
    const report = JSON.parse(res.stdout);
    assert.deepEqual(
      report.findings.map((f: any) => [f.code, f.integration, f.digests]),
      [
        ['TAG_MOVED', 'again', [pinned.digest, moved.manifest.digest]],
        ['TAG_MOVED', 'hello', [pinned.digest, moved.manifest.digest]],
      ],
    );
    const table = await audit(['--check-tags', ...registryFlags()]);
    assert.equal(table.code, 3);
    assert.match(
      table.stdout,
      new RegExp(`TAG_MOVED demo/again: ${pushed.reference.replace(/[.]/g, '\\.')} now points at ${moved.manifest.digest.slice(7, 19)}`),
    );

    // Without --check-tags nothing is asked of the registry and the pins still agree with the pods.
    registry.resetAccessLog();
    const offline = await audit([]);
    assert.equal(offline.code, 0, offline.stdout);
    assert.equal((await registry.settledAccessLog()).filter((e) => e.kind === 'manifest').length, 0);

    // A tag that no longer exists: the audit is incomplete.
    api.add('integrations', integration('gone', { request: [`${registry.host}/acme/deps:nope`] }));
    const failed = await audit(['--check-tags', ...registryFlags(), '-o', 'json']);
    assert.equal(failed.code, 1, failed.stderr);
    const codes = JSON.parse(failed.stdout).findings.map((f: any) => f.code);
    assert.ok(codes.includes('TAG_CHECK_FAILED') && codes.includes('UNPINNED'), codes.join());
    // The registry's policy applies: without the flags the loopback registry is refused.
    const refused = await audit(['--check-tags', '-o', 'json']);
    assert.equal(refused.code, 1);
    assert.match(JSON.parse(refused.stdout).findings.find((f: any) => f.code === 'TAG_CHECK_FAILED').message, /POLICY_DENIED/);
  });
});
