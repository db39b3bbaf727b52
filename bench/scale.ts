/**
 * Scale benchmark: N nodes × M pod starts of one integration against a loopback upstream registry,
 * counting what the upstream serves (requests and bytes, from its access log) in each distribution
 * mode. The question it answers is the product's reason to exist: does a repeat pod start cost the
 * upstream anything?
 *
 *   npm run bench -- scale [--nodes 20] [--pods 50] [--jars 4] [--jar-kib 256]
 *
 * Modes, each from cold caches and with one webhook process (one Resolver, its tag cache warm after
 * the first admission, as in a cluster):
 * - plain: every pod start runs the fetcher against the upstream (today's default).
 * - mirror: a pull-through cache (distribution's `proxy` mode) in front of the upstream, given to
 *   the webhook and the fetcher with `--registry-mirror`; the fetcher reads the mirror, which asks
 *   the upstream once per blob.
 * - image-volume: the artifact is mounted as an image volume; the kubelet's pull is modelled as one
 *   `skopeo copy` per node (the first pod on a node), later pods on that node cost nothing.
 * The fetcher runs in this process (`camel-oci fetch`'s own command function), one fresh volume per
 * pod start, so the counts are exactly what the init container would ask.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFlags } from '../src/config/flags.js';
import { FETCH_FLAGS } from '../src/config/tables.js';
import { runFetch } from '../src/commands/fetch.js';
import type { CommandIO } from '../src/commands/io.js';
import { buildPlan } from '../src/plan/plan.js';
import { artifactMode } from '../src/inject/image-volumes.js';
import { runCli } from '../test/helpers/cli.js';
import { startRegistry } from '../test/helpers/registry.js';
import type { AccessEntry, StartedRegistry } from '../test/helpers/registry.js';
import { createResolverFor } from '../test/helpers/resolver.js';
import { runSkopeo } from '../test/helpers/skopeo.js';
import { makeZip } from '../test/helpers/zip.js';
import { fmt, machine, median } from './stats.js';

type Mode = 'plain' | 'mirror' | 'image-volume';

interface ModeResult {
  readonly mode: Mode;
  readonly upstreamRequests: number;
  readonly upstreamBytes: number;
  /** Manifest requests (GET and HEAD) and blob GETs among them. */
  readonly upstreamManifests: number;
  readonly upstreamBlobs: number;
  /** Requests the mirror answered (mirror mode). */
  readonly mirrorRequests: number;
  /** Median time of one pod start's fetch work (0 when nothing runs). */
  readonly podStartMs: number;
  /** Pod starts that ran the fetcher. */
  readonly fetcherRuns: number;
}

const silent: CommandIO = { stdout: () => undefined, stderr: () => undefined };

function option(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** Pushes one integration's artifact with the built CLI: `jars` incompressible jars and one Kamelet. */
async function pushArtifact(upstream: StartedRegistry, work: string, jars: number, jarKiB: number): Promise<string> {
  const deps = path.join(work, 'deps');
  const kamelets = path.join(work, 'kamelets');
  await mkdir(deps, { recursive: true });
  await mkdir(kamelets, { recursive: true });
  for (let i = 0; i < jars; i++) {
    const zip = makeZip([{ name: `org/acme/lib${i}/Data.bin`, data: randomBytes(jarKiB * 1024) }]);
    await writeFile(path.join(deps, `lib${i}-1.0.jar`), zip);
  }
  await writeFile(
    path.join(kamelets, 'scale-source.kamelet.yaml'),
    'apiVersion: camel.apache.org/v1\nkind: Kamelet\nmetadata:\n  name: scale-source\nspec:\n  template:\n    from:\n      uri: timer:tick\n',
  );
  const reference = `${upstream.host}/bench/scale:1.0`;
  const pushed = await runCli(['push', reference, '--dependency', deps, '--kamelets', kamelets, '--insecure-registry', upstream.host]);
  if (pushed.code !== 0) throw new Error(`push failed: ${pushed.stderr}`);
  return reference;
}

function countOf(entries: readonly AccessEntry[]): { requests: number; bytes: number } {
  return { requests: entries.length, bytes: entries.reduce((n, e) => n + e.bytes, 0) };
}

async function runMode(
  mode: Mode,
  upstream: StartedRegistry,
  reference: string,
  nodes: number,
  pods: number,
  work: string,
): Promise<ModeResult> {
  const mirror =
    mode === 'mirror' ? await startRegistry({ mode: 'plain', extraConfig: { proxy: { remoteurl: upstream.url } } }) : undefined;
  const mirrorFlags = mirror ? { mirrors: new Map([[upstream.host, [mirror.host]]]) } : {};
  const insecure = mirror ? [upstream.host, mirror.host] : [upstream.host];
  const { resolver, context } = await createResolverFor(upstream, {
    insecureRegistries: insecure,
    allowRegistries: insecure,
    ...mirrorFlags,
  });
  const times: number[] = [];
  let fetcherRuns = 0;
  try {
    await upstream.settledAccessLog();
    upstream.resetAccessLog();
    for (let node = 0; node < nodes; node++) {
      for (let pod = 0; pod < pods; pod++) {
        // The webhook admits every pod start (its tag cache answers after the first).
        const artifact = await resolver.resolve(reference, {});
        const t0 = performance.now();
        if (mode === 'image-volume') {
          if (artifactMode(artifact).mode !== 'image-volume') throw new Error('the pushed artifact should mount as an image volume');
          // The kubelet pulls the image once per node; later pods on the node share it.
          if (pod === 0) {
            const dest = path.join(work, `node-${node}`);
            // runSkopeo throws with skopeo's stderr on failure.
            await runSkopeo(['copy', '--src-tls-verify=false', `docker://${reference}`, `oci:${dest}:scale`]);
            times.push(performance.now() - t0);
          }
          continue;
        }
        const root = path.join(work, `pod-${node}-${pod}`);
        const planFile = `${root}.plan.json`;
        await writeFile(planFile, JSON.stringify(buildPlan([artifact])));
        const argv = [
          '--root',
          root,
          '--plan',
          planFile,
          '--insecure-registry',
          insecure.join(','),
          '--allow-registry',
          insecure.join(','),
        ];
        const flags = parseFlags('fetch', FETCH_FLAGS, argv, {}, false);
        const code = await runFetch(flags, silent, {});
        if (code !== 0) throw new Error(`fetch exited ${code} in mode ${mode}`);
        times.push(performance.now() - t0);
        fetcherRuns++;
        await rm(root, { recursive: true, force: true });
        await rm(planFile, { force: true });
      }
    }
    const upstreamLog = await upstream.settledAccessLog();
    const upstreamCount = countOf(upstreamLog);
    const mirrorCount = mirror ? countOf(await mirror.settledAccessLog()) : { requests: 0, bytes: 0 };
    return {
      mode,
      upstreamRequests: upstreamCount.requests,
      upstreamBytes: upstreamCount.bytes,
      upstreamManifests: upstreamLog.filter((e) => e.kind === 'manifest').length,
      upstreamBlobs: upstreamLog.filter((e) => e.kind === 'blob' && e.method === 'GET').length,
      mirrorRequests: mirrorCount.requests,
      podStartMs: times.length > 0 ? median(times) : 0,
      fetcherRuns,
    };
  } finally {
    await context.agent.close();
    await mirror?.stop();
  }
}

/** Runs the benchmark and prints a Markdown table. */
export async function runScaleBench(args: readonly string[]): Promise<void> {
  const nodes = option(args, 'nodes', 20);
  const pods = option(args, 'pods', 50);
  const jars = option(args, 'jars', 4);
  const jarKiB = option(args, 'jar-kib', 256);
  const work = await mkdtemp(path.join(tmpdir(), 'camel-oci-scale-'));
  const upstream = await startRegistry({ mode: 'plain' });
  try {
    const reference = await pushArtifact(upstream, work, jars, jarKiB);
    console.log(`scale: ${nodes} nodes × ${pods} pod starts of one integration (${jars} × ${jarKiB} KiB jars + 1 Kamelet)`);
    console.log(`machine: ${await machine()}; ${new Date().toISOString()}\n`);
    const results: ModeResult[] = [];
    for (const mode of ['plain', 'mirror', 'image-volume'] as const)
      results.push(await runMode(mode, upstream, reference, nodes, pods, work));
    const plain = results[0]!;
    console.log(
      '| mode | upstream requests | manifest requests | blob GETs | upstream MiB | vs plain (bytes) | mirror requests | fetcher runs | median ms per fetch/pull |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of results) {
      const ratio = plain.upstreamBytes > 0 ? r.upstreamBytes / plain.upstreamBytes : NaN;
      console.log(
        `| ${r.mode} | ${r.upstreamRequests} | ${r.upstreamManifests} | ${r.upstreamBlobs} | ${fmt(r.upstreamBytes / 2 ** 20)} | ${fmt(ratio, 4)} | ${r.mirrorRequests} | ${r.fetcherRuns} | ${fmt(r.podStartMs, 1)} |`,
      );
    }
  } finally {
    await upstream.stop();
    await rm(work, { recursive: true, force: true });
  }
}
