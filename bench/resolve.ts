/**
 * Resolve benchmark: against the real registry (distribution), N concurrent resolutions of one tag
 * with cold caches, counting the registry's requests from its access log (goal: one manifest
 * request plus the auth round-trips the mode needs), then warm (goal: zero). Latencies are compared
 * with a baseline measured in the same run: one bare manifest GET with undici.
 *
 *   npm run bench -- resolve [--concurrency 100] [--rounds 7]
 */
import { Agent, request } from 'undici';
import { parseDockerConfig } from '../src/oci/docker-config.js';
import { startRegistry } from '../test/helpers/registry.js';
import type { RegistryMode } from '../test/helpers/registry.js';
import { pushStandardArtifact } from '../test/helpers/artifacts.js';
import { createResolverFor } from '../test/helpers/resolver.js';
import { fmt, machine, median } from './stats.js';

interface ModeResult {
  mode: RegistryMode;
  coldRequests: { manifest: number; blob: number; other: number; token: number };
  warmRequests: number;
  coldMs: number;
  warmMs: number;
  baselineMs: number;
}

async function benchMode(mode: RegistryMode, concurrency: number, rounds: number): Promise<ModeResult> {
  const registry = await startRegistry({ mode });
  try {
    const pushed = await pushStandardArtifact(registry, 'bench/deps', '1.0');
    const pullSecrets = mode === 'basic' || mode === 'token' ? [parseDockerConfig(registry.dockerConfig(), 'pull secret')] : [];
    const coldTimes: number[] = [];
    const warmTimes: number[] = [];
    const baseTimes: number[] = [];
    let coldRequests = { manifest: 0, blob: 0, other: 0, token: 0 };
    let warmRequests = 0;
    for (let round = 0; round < rounds; round++) {
      // Baseline: the least any client can do cold, one manifest GET on a new connection (TLS
      // handshake included) with its Authorization already in hand.
      const auth = registry.authorization('bench/deps');
      const url = `${registry.url}/v2/bench/deps/manifests/1.0`;
      const headers = { accept: 'application/vnd.oci.image.manifest.v1+json', ...(auth ? { authorization: auth } : {}) };
      const fresh = new Agent(registry.caPem ? { connect: { ca: registry.caPem } } : {});
      const b0 = performance.now();
      await (await request(url, { dispatcher: fresh, headers })).body.text();
      baseTimes.push(performance.now() - b0);
      await fresh.close();

      const { resolver, context } = await createResolverFor(registry);
      await registry.settledAccessLog();
      registry.resetAccessLog();
      const tokensBefore = registry.tokenIssuer?.requestCount() ?? 0;
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: concurrency }, () => resolver.resolve(pushed.reference, { pullSecrets })));
      coldTimes.push(performance.now() - t0);
      if (!results.every((r) => r.digest === pushed.manifest.digest)) throw new Error('wrong digest');
      const cold = await registry.settledAccessLog();
      coldRequests = {
        manifest: cold.filter((e) => e.kind === 'manifest').length,
        blob: cold.filter((e) => e.kind === 'blob').length,
        other: cold.filter((e) => e.kind !== 'manifest' && e.kind !== 'blob').length,
        token: (registry.tokenIssuer?.requestCount() ?? 0) - tokensBefore,
      };
      registry.resetAccessLog();
      const w0 = performance.now();
      await Promise.all(Array.from({ length: concurrency }, () => resolver.resolve(pushed.reference, { pullSecrets })));
      warmTimes.push(performance.now() - w0);
      warmRequests = (await registry.settledAccessLog()).length;
      await context.agent.close();
    }
    return { mode, coldRequests, warmRequests, coldMs: median(coldTimes), warmMs: median(warmTimes), baselineMs: median(baseTimes) };
  } finally {
    await registry.stop();
  }
}

/** Runs the benchmark and prints a Markdown table. */
export async function runResolveBench(args: readonly string[]): Promise<void> {
  const concurrency = Number(args[args.indexOf('--concurrency') + 1]) || 100;
  const rounds = Number(args[args.indexOf('--rounds') + 1]) || 7;
  console.log(
    `resolve benchmark: ${concurrency} concurrent resolutions of one tag, ${rounds} rounds (medians); ${await machine()}; ${new Date().toISOString()}`,
  );
  console.log('');
  console.log(
    '| mode | cold: manifest GETs | cold: other registry requests (401s, /v2/) | cold: token requests | warm: registry requests | cold burst ms | warm burst ms | one bare manifest GET, new connection, ms | cold burst / bare GET |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const mode of ['plain', 'tls', 'basic', 'token'] as const) {
    const r = await benchMode(mode, concurrency, rounds);
    console.log(
      `| ${r.mode} | ${r.coldRequests.manifest} | ${r.coldRequests.other} | ${r.coldRequests.token} | ${r.warmRequests} | ${fmt(r.coldMs)} | ${fmt(r.warmMs)} | ${fmt(r.baselineMs)} | ${fmt(r.coldMs / r.baselineMs, 1)}× |`,
    );
  }
}
