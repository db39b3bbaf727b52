/**
 * `camel-oci fetch` re-applies the webhook's registry policy in full: no plan field widens it. DNS
 * and the socket opener are injected, so a name "resolves" to a metadata or private address and a
 * wrong connect would be recorded by the opener instead of leaving this machine.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FetchPlan } from '../../src/plan/plan.js';
import { fakeNetwork, fetchOffline, type FakeNetwork } from '../helpers/offline-fetch.js';
import { oneJarPlan } from '../helpers/plans.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function planFor(registry: string, scheme: 'http' | 'https'): FetchPlan {
  return oneJarPlan(registry, { scheme });
}

async function run(plan: FetchPlan, args: string[], net: FakeNetwork): Promise<{ code: number; stderr: string }> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-fetch-policy-'));
  dirs.push(base);
  return fetchOffline(plan, args, net, base);
}

describe('fetch applies the registry policy again, whatever the plan says', () => {
  const cases: ReadonlyArray<{
    name: string;
    registry: string;
    scheme: 'http' | 'https';
    args: string[];
    address: string;
    /** Whether the name is looked up (then refused for its address) or refused before DNS. */
    resolves: boolean;
  }> = [
    {
      name: 'a plan asking plain HTTP for a registry not listed with --insecure-registry',
      registry: 'evil.example.test:5000',
      scheme: 'http',
      args: [],
      address: '169.254.169.254',
      resolves: false,
    },
    {
      name: 'a plan asking plain HTTP, with another registry insecure-listed',
      registry: 'evil.example.test:5000',
      scheme: 'http',
      args: ['--insecure-registry', 'lab.example.test:5000'],
      address: '10.0.0.7',
      resolves: false,
    },
    {
      name: 'plain HTTP under a wildcard --insecure-registry, the name now at the metadata address',
      registry: 'evil.example.test:5000',
      scheme: 'http',
      args: ['--insecure-registry', '*.example.test'],
      address: '169.254.169.254',
      resolves: true,
    },
    {
      name: 'plain HTTP under a wildcard --insecure-registry, the name now at an IPv4-translated private address',
      registry: 'evil.example.test:5000',
      scheme: 'http',
      args: ['--insecure-registry', '*.example.test'],
      address: '::ffff:0:10.0.0.7',
      resolves: true,
    },
    {
      name: 'https, the name now at a private address',
      registry: 'evil.example.test',
      scheme: 'https',
      args: [],
      address: '10.0.0.7',
      resolves: true,
    },
    {
      name: 'a plan asking plain HTTP for a registry off the allow-list',
      registry: 'evil.example.test:5000',
      scheme: 'http',
      args: ['--allow-registry', 'registry.example.test', '--insecure-registry', '*.example.test'],
      address: '10.0.0.7',
      resolves: false,
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} with POLICY_DENIED and no connect`, async () => {
      const net = fakeNetwork(c.address);
      const res = await run(planFor(c.registry, c.scheme), c.args, net);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /POLICY_DENIED/);
      assert.deepEqual(net.connects, [], 'no connect was attempted');
      if (c.resolves) {
        // One lookup per request the run sent before the first refusal stopped it (the manifest and the layer go out together).
        assert.ok(net.lookups.length >= 1 && net.lookups.length <= 2, `looked up: ${JSON.stringify(net.lookups)}`);
      } else assert.equal(net.lookups.length, 0, 'refused before DNS when the plan alone is out of policy');
    });
  }

  it('connects (through the check) when the policy allows the plan: the test network does record connects', async () => {
    const net = fakeNetwork('93.184.215.14');
    const res = await run(
      planFor('registry.example.test:5000', 'http'),
      ['--insecure-registry', 'registry.example.test:5000', '--timeout', '2s'],
      net,
    );
    assert.equal(res.code, 1);
    assert.doesNotMatch(res.stderr, /POLICY_DENIED/);
    assert.ok(net.connects.length > 0 && net.connects.every((c) => c === '93.184.215.14:5000'), net.connects.join(', '));
  });
});
