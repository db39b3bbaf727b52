/**
 * Fetch benchmark: a 256 MiB artifact (8 layers × 32 MiB of incompressible data, tar+gzip) from
 * the loopback registry, fetched by `camel-oci fetch`, and in the same run by the shell pipeline
 * `skopeo copy docker://… dir:…` followed by `sha256sum -c` and `tar xzf` for each layer.
 * Reports wall time, MiB/s and peak RSS (GNU time's maximum resident set) of both, and the ratio.
 *
 *   npm run bench -- fetch [--layers 8] [--layer-mib 32] [--rounds 3]
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildPlan } from '../src/plan/plan.js';
import { createResolver } from '../src/resolve/setup.js';
import { startRegistry } from '../test/helpers/registry.js';
import { DEPENDENCY, pushBuilt } from '../test/helpers/artifacts.js';
import { makeTarGz } from '../test/helpers/oci-layout.js';
import { CLI } from '../test/helpers/cli.js';
import { fmt, machine, median } from './stats.js';

const run = promisify(execFile);

interface Timed {
  seconds: number;
  maxRssMiB: number;
}

/** Runs a command under GNU time; returns wall seconds and peak RSS. */
async function timed(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Timed> {
  const { stderr } = await run('/usr/bin/time', ['-f', 'TIME %e %M', cmd, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(stderr);
  if (!m) throw new Error(`no timing from /usr/bin/time: ${stderr.slice(-500)}`);
  return { seconds: Number(m[1]), maxRssMiB: Number(m[2]) / 1024 };
}

/** Runs the benchmark and prints a Markdown table. */
export async function runFetchBench(args: readonly string[]): Promise<void> {
  const opt = (name: string, def: number): number => Number(args[args.indexOf(`--${name}`) + 1]) || def;
  const layers = opt('layers', 8);
  const layerMiB = opt('layer-mib', 32);
  const rounds = opt('rounds', 3);
  const totalMiB = layers * layerMiB;
  const registry = await startRegistry({ mode: 'plain' });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-bench-fetch-'));
  try {
    const manifest = await pushBuilt(registry, 'bench/big:1.0', (layout) =>
      layout.manifest({
        layers: Array.from({ length: layers }, (_, i) => ({
          bytes: makeTarGz([{ path: `lib/part-${i}.jar`, content: randomBytes(layerMiB * 1024 * 1024) }]),
          annotations: { [DEPENDENCY]: `bench:part-${i}:1.0` },
        })),
      }),
    );
    const blobMiB = manifest.layers.reduce((a, l) => a + l.size, 0) / 1048576;
    const { resolver, context } = await createResolver({
      registryConfigs: [],
      insecureRegistries: [registry.host],
      allowRegistries: [registry.host],
      caFiles: [],
      platform: 'linux/amd64',
      tagTtlMs: 0,
      staleGraceMs: 0,
    });
    const artifact = await resolver.resolve(`${registry.host}/bench/big:1.0`);
    await context.agent.close();
    const plan = JSON.stringify(buildPlan([artifact]));

    const script = [
      'set -euo pipefail',
      'src="$1"; dir="$2"; out="$3"',
      'skopeo copy --quiet --insecure-policy --src-tls-verify=false "docker://$src" "dir:$dir"',
      // Each layer: check its sha256, then unpack it, as a careful shell user would.
      'for f in "$dir"/*; do',
      '  h=$(basename "$f")',
      '  case "$h" in manifest.json|version) continue;; esac',
      '  echo "$h  $f" | sha256sum -c --quiet -',
      '  grep -q "$h" "$dir/manifest.json"',
      '  if [ "$(stat -c %s "$f")" -gt 1000 ]; then mkdir -p "$out/$h"; tar xzf "$f" -C "$out/$h"; fi',
      'done',
    ].join('\n');
    const scriptFile = path.join(tmp, 'pipeline.sh');
    await writeFile(scriptFile, script);

    const ours: Timed[] = [];
    const theirs: Timed[] = [];
    for (let i = 0; i < rounds; i++) {
      const root = path.join(tmp, `root-${i}`);
      await mkdir(root);
      ours.push(
        await timed(
          process.execPath,
          [CLI, 'fetch', '--root', root, '--pull-secrets-dir', path.join(tmp, 'none'), '--timeout', '300s', '--max-unpacked-bytes', '4Gi'],
          { CAMEL_OCI_PLAN: plan },
        ),
      );
      await rm(root, { recursive: true, force: true });
      const dir = path.join(tmp, `dir-${i}`);
      const out = path.join(tmp, `out-${i}`);
      await mkdir(out);
      theirs.push(await timed('bash', [scriptFile, `${registry.host}/bench/big:1.0`, dir, out], { HOME: tmp }));
      await rm(dir, { recursive: true, force: true });
      await rm(out, { recursive: true, force: true });
    }
    const s = (t: Timed[]): number => median(t.map((x) => x.seconds));
    const r = (t: Timed[]): number => median(t.map((x) => x.maxRssMiB));
    console.log(
      `fetch benchmark: ${layers} layers × ${layerMiB} MiB incompressible (tar+gzip, ${fmt(blobMiB, 1)} MiB of blobs), ${rounds} rounds (medians); ${await machine()}; ${new Date().toISOString()}`,
    );
    console.log('');
    console.log('| pipeline | seconds | MiB/s (unpacked) | peak RSS MiB |');
    console.log('|---|---|---|---|');
    console.log(`| camel-oci fetch | ${fmt(s(ours))} | ${fmt(totalMiB / s(ours), 1)} | ${fmt(r(ours), 1)} |`);
    console.log(`| skopeo copy + sha256sum -c + tar xzf | ${fmt(s(theirs))} | ${fmt(totalMiB / s(theirs), 1)} | ${fmt(r(theirs), 1)} |`);
    console.log('');
    console.log(
      `speed-up (pipeline seconds / camel-oci seconds): ${fmt(s(theirs) / s(ours))}×; per-round camel-oci: ${ours.map((t) => fmt(t.seconds)).join(', ')} s; pipeline: ${theirs.map((t) => fmt(t.seconds)).join(', ')} s`,
    );
  } finally {
    await registry.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
