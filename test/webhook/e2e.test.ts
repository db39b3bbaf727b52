/**
 * The webhook end to end, as the apiserver and a real registry drive it: `camel-oci certs` makes the
 * certificate, `camel-oci serve` runs as its own process, a client that verifies the CA and the
 * Service DNS name posts AdmissionReviews, and the injected plan is run by `camel-oci fetch`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { startRegistry } from '../helpers/registry.js';
import type { StartedRegistry } from '../helpers/registry.js';
import { pushStandardArtifact } from '../helpers/artifacts.js';
import type { PushedArtifact } from '../helpers/artifacts.js';
import { startBlackhole } from '../helpers/fault-proxy.js';
import { freePort } from '../helpers/ports.js';
import { runCli, startCli } from '../helpers/cli.js';
import { startWebhook, type StartedWebhook } from '../helpers/webhook.js';
import { camelKPod, reviewOf, applyOps, DEPS } from './support.js';
import { schemaErrors, semanticErrors, restrictedViolations } from '../inject/support.js';
import { digestHex12 } from '../../src/plan/plan.js';

/** Posts an AdmissionReview to `serve` and returns the parsed answer. */
function admitTo(hook: StartedWebhook, review: unknown, query = '?timeout=10s'): Promise<{ status: number; body: any; ms: number }> {
  return hook.post(`/mutate${query}`, review);
}

describe('camel-oci serve end to end over TLS', () => {
  let registry: StartedRegistry;
  let artifact: PushedArtifact;
  let hook: StartedWebhook;
  let tmp: string;
  let port: number;
  let client: Agent;
  let hole: Awaited<ReturnType<typeof startBlackhole>>;

  before(async () => {
    registry = await startRegistry({ mode: 'plain' });
    hole = await startBlackhole();
    artifact = await pushStandardArtifact(registry);
    hook = await startWebhook([], {
      // Flags also come from CAMEL_OCI_* variables: the registry settings go that way here.
      CAMEL_OCI_ALLOW_REGISTRY: `${registry.host},${hole.host}`,
      CAMEL_OCI_INSECURE_REGISTRY: `${registry.host},${hole.host}`,
    });
    ({ port, client, dir: tmp } = hook);
  });

  after(async () => {
    await hook?.stop();
    await hole?.close();
    await registry?.stop();
  });

  const admit = (review: unknown, query?: string): ReturnType<typeof admitTo> => admitTo(hook, review, query);

  it('patches a Camel K pod with pinned digests, and the injected fetcher lands the layers', async () => {
    const pod = camelKPod('hello', { [DEPS]: `container:${artifact.reference}` });
    const { status, body } = await admit(reviewOf(pod, { uid: 'e2e-1' }));
    assert.equal(status, 200);
    const response = body.response;
    assert.equal(response.uid, 'e2e-1');
    assert.equal(response.allowed, true);
    assert.equal(response.patchType, 'JSONPatch');
    const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
    const patched = applyOps(pod, ops);
    assert.deepEqual([...schemaErrors(patched), ...semanticErrors(patched)], []);

    // The pinned digest is the registry's own.
    const head = await request(`${registry.url}/v2/acme/deps/manifests/1.0`, {
      method: 'HEAD',
      dispatcher: registry.dispatcher,
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    await head.body.dump();
    const registryDigest = head.headers['docker-content-digest'];
    assert.equal(registryDigest, artifact.manifest.digest);
    const resolved = JSON.parse(patched.metadata.annotations['camel.apache.org/container-dependencies.resolved']);
    assert.equal(resolved[0].pinned, `${registry.host}/acme/deps@${registryDigest}`);
    assert.ok(Object.values(response.auditAnnotations as Record<string, string>).some((v) => v.includes(String(registryDigest))));

    const init = patched.spec.initContainers[0];
    assert.equal(init.name, 'camel-oci-fetch');
    assert.equal(init.image, 'registry.example/camel-oci:test');
    assert.deepEqual(restrictedViolations(patched, init), []);
    const integration = patched.spec.containers.find((c: any) => c.name === 'integration');
    const cp = integration.args[integration.args.indexOf('-cp') + 1] as string;
    const depHex = digestHex12(artifact.manifest.layers[0]!.digest);
    assert.ok(cp.includes(`/camel-oci/dependencies/${depHex}/*`), cp);
    assert.ok(cp.includes(`/camel-oci/kamelets/${digestHex12(artifact.manifest.layers[1]!.digest)}`), cp);
    assert.ok(integration.volumeMounts.some((m: any) => m.name === 'camel-oci' && m.mountPath === '/camel-oci' && m.readOnly === true));

    // Run the injected init container's command with its env, as the kubelet would.
    const planEnv = init.env.find((e: any) => e.name === 'CAMEL_OCI_PLAN').value as string;
    const root = path.join(tmp, 'volume');
    await import('node:fs/promises').then((fs) => fs.mkdir(root));
    const initEnv = Object.fromEntries(
      (init.env as Array<{ name: string; value?: string }>).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]),
    );
    assert.equal(initEnv.CAMEL_OCI_PLAN, planEnv);
    const fetch = await runCli(['fetch', '--root', root, '--pull-secrets-dir', path.join(tmp, 'none')], { env: initEnv });
    assert.equal(fetch.code, 0, fetch.stderr);
    assert.deepEqual(await readFile(path.join(root, 'dependencies', depHex, 'foo-1.0.jar')), artifact.files.fooJar);

    // Reinvocation: the patched pod is left alone.
    const again = await admit(reviewOf(patched, { uid: 'e2e-2' }));
    assert.equal(again.body.response.allowed, true);
    assert.equal(again.body.response.patch, undefined);
  });

  it('denies a pod whose reference does not exist, naming it', async () => {
    const ref = `container:${registry.host}/acme/deps:404`;
    const { body } = await admit(reviewOf(camelKPod('hello', { [DEPS]: ref }), { uid: 'e2e-3' }));
    assert.equal(body.response.uid, 'e2e-3');
    assert.equal(body.response.allowed, false);
    assert.ok(body.response.status.message.includes(ref), body.response.status.message);
    assert.match(body.response.status.message, /MANIFEST_UNKNOWN/);
  });

  it('answers before the apiserver timeout when the registry never answers, and stays healthy', async () => {
    const { body, ms } = await admit(
      reviewOf(camelKPod('hello', { [DEPS]: `container:${hole.host}/acme/slow:1.0` }), { uid: 'e2e-4' }),
      '?timeout=2s',
    );
    assert.equal(body.response.allowed, false);
    assert.ok(ms < 2_000, `answered in ${ms} ms`);
    const health = await request(`https://127.0.0.1:${port}/healthz`, { dispatcher: client });
    assert.equal(health.statusCode, 200);
    await health.body.dump();
    const ok = await admit(reviewOf(camelKPod('hello', { [DEPS]: `container:${artifact.reference}` }), { uid: 'e2e-5' }));
    assert.equal(ok.body.response.allowed, true);
  });

  it('refuses a client that expects another name, and answers bad bodies with 400', async () => {
    const wrong = new Agent({ connect: { ca: await readFile(path.join(tmp, 'certs', 'ca.crt'), 'utf8'), servername: 'evil.example.com' } });
    await assert.rejects(request(`https://127.0.0.1:${port}/healthz`, { dispatcher: wrong }));
    await wrong.close();
    const res = await request(`https://127.0.0.1:${port}/mutate`, {
      dispatcher: client,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"apiVersion":"admission.k8s.io/v1","kind":"Adm',
    });
    assert.equal(res.statusCode, 400);
    await res.body.dump();
  });

  it('exposes Prometheus metrics for what it did', async () => {
    const res = await request(`https://127.0.0.1:${port}/metrics`, { dispatcher: client });
    const text = await res.body.text();
    assert.match(text, /camel_oci_admissions_total\{outcome="patched",kind="Pod",reason="[^"]+"\} [1-9]/);
    assert.match(text, /camel_oci_admissions_total\{outcome="denied",kind="Pod",reason="[^"]+"\} [1-9]/);
    assert.match(text, /camel_oci_registry_requests_total\{registry="127\.0\.0\.1:\d+",code="200"\} [1-9]/);
    assert.match(text, /camel_oci_cache_lookups_total\{cache="tag",result="hit"\} [1-9]/);
  });
});

describe('camel-oci serve --ca-file: the injected fetcher trusts the same private CA', () => {
  let registry: StartedRegistry;
  let artifact: PushedArtifact;
  let hook: StartedWebhook;
  let tmp: string;
  const WEBHOOK_PASSWORD = 'webhook-only-s3cret';
  const admit = (review: unknown): ReturnType<typeof admitTo> => admitTo(hook, review);

  before(async () => {
    registry = await startRegistry({ mode: 'tls' });
    artifact = await pushStandardArtifact(registry, 'acme/private-ca', '1.0');
    hook = await startWebhook(['--ca-file', registry.caFile!], { CAMEL_OCI_ALLOW_REGISTRY: registry.host }, async (dir) => {
      // The webhook's own credentials: they must never reach the pod (the fetcher uses pull secrets).
      const registryConfig = path.join(dir, 'webhook-config.json');
      await writeFile(
        registryConfig,
        JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`webhook:${WEBHOOK_PASSWORD}`).toString('base64') } } }),
      );
      return ['--registry-config', registryConfig];
    });
    tmp = hook.dir;
  });

  after(async () => {
    await hook?.stop();
    await registry?.stop();
  });

  it('admits the pod, and its init container, run with its own env, lands the layers over TLS', async () => {
    const pod = camelKPod('hello', { [DEPS]: `container:${artifact.reference}` });
    const { body } = await admit(reviewOf(pod, { uid: 'e2e-ca-1' }));
    assert.equal(body.response.allowed, true, JSON.stringify(body.response.status));
    const patched = applyOps(pod, JSON.parse(Buffer.from(body.response.patch, 'base64').toString('utf8')));
    assert.deepEqual([...schemaErrors(patched), ...semanticErrors(patched)], []);
    const init = patched.spec.initContainers[0];
    // The first four in this order; the registry lists may follow when serve hands them over.
    assert.deepEqual(init.env.map((e: any) => e.name).slice(0, 4), [
      'CAMEL_OCI_PLAN',
      'CAMEL_OCI_TIMEOUT',
      'CAMEL_OCI_CA_PEM',
      'CAMEL_OCI_MAX_UNPACKED_BYTES',
    ]);
    const caPem = init.env[2].value as string;
    assert.ok(caPem.includes(registry.caPem!.trim().split('\n')[1]!), 'the env carries the --ca-file certificate');
    const podText = JSON.stringify(patched);
    assert.ok(
      !podText.includes(WEBHOOK_PASSWORD) && !podText.includes(Buffer.from(`webhook:${WEBHOOK_PASSWORD}`).toString('base64')),
      'no webhook credential in the pod',
    );
    assert.ok(!podText.includes('PRIVATE KEY'));

    // As the kubelet would: the container's command with exactly its env (the root moved to a temp dir).
    const env = Object.fromEntries(init.env.map((e: any) => [e.name, e.value as string]));
    const args = (init.command as string[]).slice(1);
    args[args.indexOf('--root') + 1] = path.join(tmp, 'volume');
    await mkdir(path.join(tmp, 'volume'));
    const common = ['--pull-secrets-dir', path.join(tmp, 'none'), '--termination-log', path.join(tmp, 'none.log')];
    const fetched = await runCli([...args, ...common], { env });
    assert.equal(fetched.code, 0, fetched.stderr);
    const depHex = digestHex12(artifact.manifest.layers[0]!.digest);
    assert.deepEqual(await readFile(path.join(tmp, 'volume', 'dependencies', depHex, 'foo-1.0.jar')), artifact.files.fooJar);

    // Without the CA the same init container fails as it did before the webhook handed it over.
    const { CAMEL_OCI_CA_PEM: _dropped, ...withoutCa } = env;
    await mkdir(path.join(tmp, 'volume-2'));
    args[args.indexOf('--root') + 1] = path.join(tmp, 'volume-2');
    const refused = await runCli([...args, ...common], { env: withoutCa });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /TLS_ERROR/);
  });
});

describe('camel-oci serve with no flags (the embedded default)', () => {
  it('makes a development certificate, listens on loopback, and writes an example request that gets an answer', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-embedded-'));
    const port = await freePort();
    const serve = startCli(['serve', '--port', String(port), '--certs-dir', path.join(dir, 'certs'), '--shutdown-delay', '0s'], {
      cwd: dir,
    });
    try {
      const until = Date.now() + 15_000;
      while (!serve.output().includes('Stop with Ctrl-C.')) {
        if (Date.now() > until) throw new Error(`serve did not start:\n${serve.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(serve.output(), new RegExp(`https://127\\.0\\.0\\.1:${port}`));
      const ca = await readFile(path.join(dir, 'certs', 'ca.crt'), 'utf8');
      const review = await readFile(path.join(dir, 'certs', 'example-review.json'), 'utf8');
      const client = new Agent({ connect: { ca, servername: 'localhost' } });
      try {
        const res = await request(`https://127.0.0.1:${port}/mutate?timeout=5s`, {
          dispatcher: client,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: review,
        });
        const body = (await res.body.json()) as { response: { uid: string; allowed: boolean; status: { message: string } } };
        assert.equal(body.response.uid, JSON.parse(review).request.uid);
        assert.equal(body.response.allowed, false, 'loopback registries are refused unless listed');
        assert.match(body.response.status.message, /container:127\.0\.0\.1:5000\/acme\/deps:1\.0.*POLICY_DENIED/);
      } finally {
        await client.close();
      }
    } finally {
      await serve.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
