/** The client reports requests that got no HTTP answer (what makes a registry that is down visible in metrics). */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createRegistryContext, type RegistryContext } from '../../src/registry/setup.js';
import { isCamelOciError } from '../../src/base/errors.js';
import { pushStandardArtifact } from '../helpers/artifacts.js';
import { freePort } from '../helpers/ports.js';
import { startRegistry } from '../helpers/registry.js';
import { settingsFor } from '../helpers/resolver.js';

describe('RegistryClient onNoResponse', () => {
  const contexts: RegistryContext[] = [];
  after(async () => {
    for (const c of contexts) await c.agent.close();
  });
  const ctx = () => ({ signal: AbortSignal.timeout(10_000), deadline: Date.now() + 10_000 });

  it('is called with UNAVAILABLE for every attempt at a registry that refuses connections, and onResponse never', async () => {
    // A loopback port nobody listens on.
    const host = `127.0.0.1:${await freePort()}`;
    const none: [string, string][] = [];
    const answered: [string, number][] = [];
    const context = await createRegistryContext({
      registryConfigs: [],
      insecureRegistries: [host],
      allowRegistries: [host],
      caFiles: [],
      onNoResponse: (registry, code) => none.push([registry, code]),
      onResponse: (registry, status) => answered.push([registry, status]),
    });
    contexts.push(context);
    await assert.rejects(
      context.client.manifest({ registry: host, repository: 'acme/deps', scheme: 'http' }, '1.0', ctx(), 'test'),
      (e: unknown) => isCamelOciError(e, 'UNAVAILABLE'),
    );
    assert.ok(none.length >= 1, 'at least one attempt reported');
    assert.ok(
      none.every(([r, c]) => r === host && c === 'UNAVAILABLE'),
      JSON.stringify(none),
    );
    assert.deepEqual(answered, []);
  });

  it('is not called for requests that got an answer, even an error status', async () => {
    const registry = await startRegistry({ mode: 'plain' });
    try {
      await pushStandardArtifact(registry);
      const none: string[] = [];
      const answered: number[] = [];
      const context = await createRegistryContext({
        ...settingsFor(registry),
        onNoResponse: (_r, code) => none.push(code),
        onResponse: (_r, status) => answered.push(status),
      });
      contexts.push(context);
      const loc = { registry: registry.host, repository: 'acme/deps', scheme: 'http' as const };
      await context.client.head(loc, '1.0', ctx(), 'test');
      await assert.rejects(context.client.head(loc, 'missing', ctx(), 'test'), (e: unknown) => isCamelOciError(e, 'MANIFEST_UNKNOWN'));
      assert.deepEqual(none, []);
      assert.deepEqual(answered, [200, 404]);
    } finally {
      await registry.stop();
    }
  });
});
