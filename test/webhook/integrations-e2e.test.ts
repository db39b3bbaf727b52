/**
 * `POST /mutate-integrations` end to end: `camel-oci certs` makes the certificate, `camel-oci serve`
 * runs as its own process, a client that verifies the CA and the Service DNS name posts the
 * AdmissionReviews the apiserver sends for Integrations and Pipes, and the real registry (artifacts
 * pushed by skopeo) answers. Patched objects are applied with an independent JSON Patch library
 * and validated against the Camel K CRDs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { startRegistry, type AccessEntry, type StartedRegistry } from '../helpers/registry.js';
import { pushStandardArtifact, type PushedArtifact } from '../helpers/artifacts.js';
import { freePort } from '../helpers/ports.js';
import { runCli, startCli, type CliProcess } from '../helpers/cli.js';
import {
  camelReviewOf,
  crdErrors,
  derivePipeIntegration,
  kamelRerun,
  kamelRunIntegration,
  pipeOf,
  podFromIntegration,
  type Obj,
} from '../helpers/camel-k.js';
import { applyOps, reviewOf } from './support.js';
import { schemaErrors, semanticErrors } from '../inject/support.js';

const SERVICE_NAME = 'camel-oci.camel-oci.svc';
const PINNED = 'camel.apache.org/container-dependencies.pinned';
const REQUEST = 'camel.apache.org/container-dependencies';
const REFRESH = 'camel.apache.org/oci-refresh';
/** serve's --tag-ttl here: short, so a test can outwait the tag cache and see what the pod path asks. */
const TAG_TTL_MS = 1_000;

/** The registry's own digest for `repo:tag` (a HEAD, as a third party would check). */
async function registryDigest(registry: StartedRegistry, repository: string, tag: string): Promise<string> {
  const head = await request(`${registry.url}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    dispatcher: registry.dispatcher,
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  await head.body.dump();
  return String(head.headers['docker-content-digest']);
}

/** Manifest requests by tag (not by digest) in an access log. */
function tagRequests(log: readonly AccessEntry[]): AccessEntry[] {
  return log.filter((e) => e.kind === 'manifest' && e.reference !== undefined && !e.reference.startsWith('sha256:'));
}

describe('camel-oci serve: Integrations and Pipes end to end over TLS', () => {
  let registry: StartedRegistry;
  let deps: PushedArtifact;
  let kamelets: PushedArtifact;
  let tmp: string;
  let serve: CliProcess;
  let port: number;
  let client: Agent;

  before(async () => {
    registry = await startRegistry({ mode: 'plain' });
    deps = await pushStandardArtifact(registry, 'acme/deps', '1.0');
    kamelets = await pushStandardArtifact(registry, 'acme/kamelets', '2.0');
    tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-e2e-int-'));
    const certs = await runCli(['certs', '--service', 'camel-oci', '--namespace', 'camel-oci', '--out', path.join(tmp, 'certs')]);
    assert.equal(certs.code, 0, certs.stderr);
    port = await freePort();
    serve = startCli(
      [
        'serve',
        '--port',
        String(port),
        '--address',
        '127.0.0.1',
        '--tls-cert',
        path.join(tmp, 'certs', 'tls.crt'),
        '--tls-key',
        path.join(tmp, 'certs', 'tls.key'),
        '--fetcher-image',
        'registry.example/camel-oci:test',
        '--pull-secrets',
        'false',
        '--shutdown-delay',
        '0s',
        '--tag-ttl',
        `${TAG_TTL_MS}ms`,
      ],
      { env: { CAMEL_OCI_ALLOW_REGISTRY: registry.host, CAMEL_OCI_INSECURE_REGISTRY: registry.host } },
    );
    const ca = await readFile(path.join(tmp, 'certs', 'ca.crt'), 'utf8');
    client = new Agent({ connect: { ca, servername: SERVICE_NAME } });
    const until = Date.now() + 15_000;
    for (;;) {
      const ok = await request(`https://127.0.0.1:${port}/readyz`, { dispatcher: client }).then(
        async (r) => (await r.body.dump(), r.statusCode === 200),
        () => false,
      );
      if (ok) break;
      if (Date.now() > until) throw new Error(`serve did not become ready:\n${serve.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    await serve?.stop();
    await client?.close();
    await registry?.stop();
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  });

  /** Posts an AdmissionReview to `path` and returns its `response`. */
  async function post(path: string, review: unknown): Promise<Obj> {
    const res = await request(`https://127.0.0.1:${port}${path}?timeout=10s`, {
      dispatcher: client,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(review),
    });
    assert.equal(res.statusCode, 200);
    const body = (await res.body.json()) as Obj;
    return body.response as Obj;
  }

  /** Admits an Integration or Pipe write and returns the object as the apiserver would store it (CRD-valid). */
  async function admit(object: Obj, oldObject?: Obj, uid = 'int-e2e'): Promise<{ out: Obj; response: Obj }> {
    const response = await post('/mutate-integrations', camelReviewOf(object, { uid, ...(oldObject !== undefined ? { oldObject } : {}) }));
    assert.equal(response.uid, uid);
    assert.equal(response.allowed, true, JSON.stringify(response.status));
    const ops = response.patch === undefined ? [] : JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
    if (response.patch !== undefined) assert.equal(response.patchType, 'JSONPatch');
    const out = applyOps(object, ops);
    assert.deepEqual(crdErrors(out), []);
    return { out, response };
  }

  /** Runs `work` and returns the registry requests it caused. */
  async function registryRequestsDuring(work: () => Promise<void>): Promise<AccessEntry[]> {
    await registry.settledAccessLog();
    registry.resetAccessLog();
    await work();
    return registry.settledAccessLog();
  }

  it('pins an Integration as kamel run creates it: camel:/mvn: entries stay, env vars and traits kept', async () => {
    const d1 = await registryDigest(registry, 'acme/deps', '1.0');
    const d2 = await registryDigest(registry, 'acme/kamelets', '2.0');
    const integration = kamelRunIntegration('hello', {
      dependencies: ['camel:http', `container:${deps.reference}`, 'mvn:com.acme:bar:1.0', `container:${kamelets.reference}`],
      env: ['GREETING=hi'],
      traits: { jvm: { options: ['-Xmx256m'] } },
    });
    const { out, response } = await admit(integration);
    const pins = `${deps.reference}@${d1},${kamelets.reference}@${d2}`;
    assert.deepEqual(out.spec.dependencies, ['camel:http', 'mvn:com.acme:bar:1.0']);
    assert.equal(out.metadata.annotations[REQUEST], `container:${deps.reference},container:${kamelets.reference}`);
    assert.equal(out.metadata.annotations[PINNED], pins);
    assert.deepEqual(out.spec.traits, {
      jvm: { options: ['-Xmx256m'] },
      environment: { vars: ['GREETING=hi', `CAMEL_OCI_DEPENDENCIES=${pins}`] },
    });
    assert.equal(response.auditAnnotations['0-pinned'], `${deps.reference}@${d1}`);
  });

  it('pins an Integration without traits: traits, environment and vars are created', async () => {
    const { out } = await admit(kamelRunIntegration('bare', { dependencies: [`container:${deps.reference}`] }));
    assert.equal(out.spec.dependencies, undefined);
    assert.deepEqual(out.spec.traits, { environment: { vars: [`CAMEL_OCI_DEPENDENCIES=${deps.reference}@${deps.manifest.digest}`] } });
  });

  it('pins a Pipe with dependencies in both places; the Integration its controller derives passes unchanged and equals the derivation', async () => {
    const pipe = pipeOf('timer-to-log', {
      dependencies: ['camel:jackson', `container:${deps.reference}`],
      integrationDependencies: [`container:${kamelets.reference}`],
      traits: { environment: { vars: ['X=1'] } },
    });
    const { out: pinnedPipe } = await admit(pipe, undefined, 'pipe-1');
    const pins = `${deps.reference}@${deps.manifest.digest},${kamelets.reference}@${kamelets.manifest.digest}`;
    assert.deepEqual(pinnedPipe.spec.dependencies, ['camel:jackson']);
    assert.equal(pinnedPipe.spec.integration.dependencies, undefined);
    assert.equal(pinnedPipe.metadata.annotations[PINNED], pins);
    assert.deepEqual(pinnedPipe.spec.traits.environment.vars, ['X=1', `CAMEL_OCI_DEPENDENCIES=${pins}`]);

    // The Pipe controller's check: it derives the Integration, creates it, and later compares the
    // stored one with a fresh derivation; any difference rebuilds. Both writes must pass untouched.
    const derived = derivePipeIntegration(pinnedPipe);
    assert.deepEqual(crdErrors(derived), []);
    const created = await admit(derived, undefined, 'pipe-it-create');
    assert.equal(created.response.patch, undefined);
    assert.deepEqual(created.out, derived);
    const updated = await admit(derivePipeIntegration(pinnedPipe), created.out, 'pipe-it-update');
    assert.equal(updated.response.patch, undefined);
    assert.deepEqual(updated.out.spec, derivePipeIntegration(pinnedPipe).spec, 'DeepDerivative(expected.Spec, it.Spec) holds');
    assert.deepEqual(updated.out.spec.traits, derived.spec.traits);
    // What it runs with: no container: dependency for the builder, the pins in its environment.
    assert.deepEqual(derived.spec.dependencies, ['camel:jackson']);
    assert.equal(derived.metadata.annotations[PINNED], pins);

    // An UPDATE of the Pipe that re-applies it as written keeps the pins, with no registry request.
    const log = await registryRequestsDuring(async () => {
      const again = await admit(kamelRerun(pinnedPipe, [`container:${deps.reference}`]), pinnedPipe, 'pipe-2');
      assert.deepEqual(again.out, pinnedPipe);
    });
    assert.deepEqual(log, []);
  });

  it('passes a Pipe-owned Integration unchanged even when it names container: dependencies', async () => {
    const owned = kamelRunIntegration('owned', { dependencies: [`container:${deps.reference}`] });
    owned.metadata.ownerReferences = [
      { apiVersion: 'camel.apache.org/v1', kind: 'Pipe', name: 'owned', uid: 'u-1', controller: true, blockOwnerDeletion: true },
    ];
    const log = await registryRequestsDuring(async () => {
      const { response } = await admit(owned);
      assert.deepEqual(response, { uid: 'int-e2e', allowed: true });
    });
    assert.deepEqual(log, []);
  });

  it('UPDATE: an unchanged request keeps the pins with no registry request; a changed one resolves the new reference', async () => {
    const { out: stored } = await admit(kamelRunIntegration('upd', { dependencies: ['camel:http', `container:${deps.reference}`] }));
    const log = await registryRequestsDuring(async () => {
      const { out } = await admit(kamelRerun(stored, [`container:${deps.reference}`]), stored);
      assert.deepEqual(out, stored);
    });
    assert.deepEqual(log, [], 'sticky pins cost no registry request');

    const { out: grown } = await admit(kamelRerun(stored, [`container:${deps.reference}`, `container:${kamelets.reference}`]), stored);
    assert.equal(grown.metadata.annotations[REQUEST], `container:${deps.reference},container:${kamelets.reference}`);
    assert.equal(
      grown.metadata.annotations[PINNED],
      `${deps.reference}@${deps.manifest.digest},${kamelets.reference}@${kamelets.manifest.digest}`,
    );
    assert.deepEqual(grown.spec.dependencies, ['camel:http']);
  });

  it('a tag moved between two admissions: sticky pins keep the old digest, a new oci-refresh value takes the new one', async () => {
    const first = await pushStandardArtifact(registry, 'acme/moving', '1.0');
    const { out: stored } = await admit(kamelRunIntegration('moving', { dependencies: [`container:${first.reference}`] }));
    assert.equal(stored.metadata.annotations[PINNED], `${first.reference}@${first.manifest.digest}`);

    const second = await pushStandardArtifact(registry, 'acme/moving', '1.0');
    assert.notEqual(second.manifest.digest, first.manifest.digest);
    assert.equal(await registryDigest(registry, 'acme/moving', '1.0'), second.manifest.digest);

    const { out: sticky } = await admit(kamelRerun(stored, [`container:${first.reference}`]), stored);
    assert.equal(sticky.metadata.annotations[PINNED], `${first.reference}@${first.manifest.digest}`, 'sticky: the old digest');

    const asked = structuredClone(sticky);
    asked.metadata.annotations[REFRESH] = '2026-12-02T18:00:00Z';
    let refreshed!: Obj;
    const log = await registryRequestsDuring(async () => {
      ({ out: refreshed } = await admit(asked, sticky));
    });
    assert.ok(
      tagRequests(log).some((e) => e.repository === 'acme/moving' && e.reference === '1.0'),
      'the refresh asked the registry for the tag',
    );
    const pin = `${first.reference}@${second.manifest.digest}`;
    assert.equal(refreshed.metadata.annotations[PINNED], pin);
    assert.deepEqual(
      refreshed.spec.traits.environment.vars,
      [`CAMEL_OCI_DEPENDENCIES=${pin}`],
      'the traits change, so the Deployment rolls',
    );

    // The same refresh value re-applied is sticky again.
    const { out: again } = await admit(structuredClone(refreshed), refreshed);
    assert.equal(again.metadata.annotations[PINNED], pin);
  });

  it('denies a write whose reference does not exist, naming it for the kamel run user', async () => {
    const ref = `container:${registry.host}/acme/deps:404`;
    const response = await post(
      '/mutate-integrations',
      camelReviewOf(kamelRunIntegration('nope', { dependencies: ['camel:http', ref] }), { uid: 'deny-1' }),
    );
    assert.equal(response.uid, 'deny-1');
    assert.equal(response.allowed, false);
    assert.ok(String(response.status.message).startsWith(`camel-oci: cannot resolve ${ref}: MANIFEST_UNKNOWN`), response.status.message);
    assert.equal(response.patch, undefined);
  });

  describe('a pod Camel K starts from the pinned Integration', () => {
    let pinnedIntegration: Obj;
    let podPath: PushedArtifact;

    before(async () => {
      podPath = await pushStandardArtifact(registry, 'acme/podpath', '1.0');
      ({ out: pinnedIntegration } = await admit(
        kamelRunIntegration('podpath', { dependencies: [`container:${podPath.reference}`], env: ['X=1'] }),
      ));
    });

    /** Admits the pod at /mutate and returns the patched pod and its resolved annotation. */
    async function admitPod(uid: string): Promise<{ pod: Obj; resolved: Array<{ pinned: string }> }> {
      const pod = podFromIntegration(pinnedIntegration);
      assert.equal(pod.metadata.annotations[PINNED], pinnedIntegration.metadata.annotations[PINNED]);
      assert.ok(pod.spec.containers[0].env.some((e: Obj) => e.name === 'CAMEL_OCI_DEPENDENCIES'));
      const response = await post('/mutate', reviewOf(pod, { uid }));
      assert.equal(response.allowed, true, JSON.stringify(response.status));
      const patched = applyOps(pod, JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')));
      assert.deepEqual([...schemaErrors(patched), ...semanticErrors(patched)], []);
      return { pod: patched, resolved: JSON.parse(patched.metadata.annotations['camel.apache.org/container-dependencies.resolved']) };
    }

    it('is admitted with the digests of the pins', async () => {
      const { resolved } = await admitPod('pod-1');
      const pinDigest = String(pinnedIntegration.metadata.annotations[PINNED]).split('@')[1];
      assert.equal(resolved[0]!.pinned, `${registry.host}/acme/podpath@${pinDigest}`);
    });

    it('is admitted from the pins with zero tag requests, even after the tag moved', async () => {
      const pinDigest = String(pinnedIntegration.metadata.annotations[PINNED]).split('@')[1];
      await pushStandardArtifact(registry, 'acme/podpath', '1.0');
      await new Promise((r) => setTimeout(r, TAG_TTL_MS + 200)); // outwait serve's tag cache
      let resolved!: Array<{ pinned: string }>;
      const log = await registryRequestsDuring(async () => {
        ({ resolved } = await admitPod('pod-2'));
      });
      assert.equal(resolved[0]!.pinned, `${registry.host}/acme/podpath@${pinDigest}`, 'all replicas run the pinned bytes');
      assert.deepEqual(tagRequests(log), [], 'no tag request');
    });
  });

  it('exposes the admissions under the kind label', async () => {
    const res = await request(`https://127.0.0.1:${port}/metrics`, { dispatcher: client });
    const text = await res.body.text();
    assert.match(text, /camel_oci_admissions_total\{outcome="patched",kind="Integration"\} [1-9]/);
    assert.match(text, /camel_oci_admissions_total\{outcome="patched",kind="Pipe"\} [1-9]/);
    assert.match(text, /camel_oci_admissions_total\{outcome="denied",kind="Integration"\} [1-9]/);
    assert.match(text, /camel_oci_admissions_total\{outcome="skipped",kind="Integration"\} [1-9]/);
  });
});
