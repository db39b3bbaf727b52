/** The registry client's verbs against the real registry: manifest HEAD (GET and blob are exercised by the resolver and fetch tests). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRegistryContext } from '../../src/registry/setup.js';
import type { RegistryContext } from '../../src/registry/setup.js';
import { parseDockerConfig, credentialFor } from '../../src/oci/docker-config.js';
import { isCamelOciError, OciError } from '../../src/base/errors.js';
import { repositoryUrl } from '../../src/registry/client.js';
import { startRegistry } from '../helpers/registry.js';
import type { StartedRegistry } from '../helpers/registry.js';
import { pushStandardArtifact } from '../helpers/artifacts.js';
import type { PushedArtifact } from '../helpers/artifacts.js';
import { settingsFor } from '../helpers/resolver.js';

describe('RegistryClient.head', () => {
  let plain: StartedRegistry;
  let token: StartedRegistry;
  let plainArtifact: PushedArtifact;
  let tokenArtifact: PushedArtifact;
  const contexts: RegistryContext[] = [];
  before(async () => {
    [plain, token] = await Promise.all([startRegistry({ mode: 'plain' }), startRegistry({ mode: 'token', anonymousPull: false })]);
    [plainArtifact, tokenArtifact] = await Promise.all([pushStandardArtifact(plain), pushStandardArtifact(token)]);
  });
  after(async () => {
    for (const c of contexts) await c.agent.close();
    await plain.stop();
    await token.stop();
  });

  async function clientFor(registry: StartedRegistry): Promise<RegistryContext> {
    const context = await createRegistryContext(settingsFor(registry));
    contexts.push(context);
    return context;
  }
  const ctx = () => ({ signal: AbortSignal.timeout(10_000), deadline: Date.now() + 10_000 });

  it("answers the registry's digest, media type and size for a tag, in one request without a body", async () => {
    const { client } = await clientFor(plain);
    await plain.settledAccessLog();
    plain.resetAccessLog();
    const head = await client.head({ registry: plain.host, repository: 'acme/deps', scheme: 'http' }, '1.0', ctx(), 'test');
    assert.equal(head.digest, plainArtifact.manifest.digest);
    assert.equal(head.contentType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(head.size, plainArtifact.manifest.size);
    const log = (await plain.settledAccessLog()).filter((e) => e.kind === 'manifest');
    assert.deepEqual(
      log.map((e) => e.method),
      ['HEAD'],
    );
  });

  it('says MANIFEST_UNKNOWN for a missing tag, and refuses a digest the registry contradicts', async () => {
    const { client } = await clientFor(plain);
    const loc = { registry: plain.host, repository: 'acme/deps', scheme: 'http' as const };
    await assert.rejects(client.head(loc, 'nope', ctx(), 'test'), (e: unknown) => isCamelOciError(e, 'MANIFEST_UNKNOWN'));
    const byDigest = await client.head(loc, plainArtifact.manifest.digest, ctx(), 'test');
    assert.equal(byDigest.digest, plainArtifact.manifest.digest);
  });

  it('runs the Bearer flow for HEAD, and is UNAUTHORIZED without credentials', async () => {
    const { client } = await clientFor(token);
    const loc = { registry: token.host, repository: 'acme/deps', scheme: 'https' as const };
    const credential = credentialFor([parseDockerConfig(token.dockerConfig())], token.host, 'acme/deps');
    const head = await client.head(loc, '1.0', { ...ctx(), ...(credential ? { credential } : {}) }, 'test');
    assert.equal(head.digest, tokenArtifact.manifest.digest);
    await assert.rejects(client.head(loc, '1.0', ctx(), 'test'), (e: unknown) => isCamelOciError(e, 'UNAUTHORIZED'));
  });
});

describe('repository URLs', () => {
  it('makes a registry no URL can carry REFERENCE_INVALID naming it, not a TypeError', () => {
    assert.equal(
      repositoryUrl({ registry: 'registry.example.com:5000', repository: 'acme/deps', scheme: 'https' }, '/blobs/x').href,
      'https://registry.example.com:5000/v2/acme/deps/blobs/x',
    );
    assert.throws(
      () => repositoryUrl({ registry: 'registry.example.com:65536', repository: 'acme/deps', scheme: 'https' }, '/manifests/1'),
      (e: unknown) => e instanceof OciError && e.code === 'REFERENCE_INVALID' && /registry\.example\.com:65536/.test(e.message),
    );
  });
});
