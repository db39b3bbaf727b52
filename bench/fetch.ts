/**
 * Fetch benchmarks, each against a baseline measured in the same run:
 *
 * - `large`: `camel-oci fetch` of 8 × 32 MiB and of 1 × 512 MiB incompressible tar+gzip layers from
 *   the loopback registry, against the shell pipeline `skopeo copy docker://… dir:…`, then
 *   `sha256sum -c` and `tar xzf` for each layer. Wall time and peak RSS (GNU time), ratio.
 * - `small`: the init container's whole run (process start included) for an artifact of two
 *   64 KiB layers, against the bare curl requests the same fetch needs (manifest, both blobs),
 *   `sha256sum -c` and `tar xzf`, run as one shell script. Wall time per run (process.hrtime).
 *
 *   npm run bench -- fetch [large|small|all] [--rounds N] [--node PATH]... [--cli PATH]...
 *
 * `--node` (repeatable) runs the fetcher on each Node given, `--cli` (repeatable) each build's
 * dist/cli.js besides this one (a before/after in one sitting); the baselines are Node-independent.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startRegistry, type StartedRegistry } from '../test/helpers/registry.js';
import { DEPENDENCY, pushBuilt } from '../test/helpers/artifacts.js';
import { makeTarGz } from '../test/helpers/oci-layout.js';
import { CLI, fetchArgv } from '../test/helpers/cli.js';
import { planJsonFor } from '../test/helpers/resolver.js';
import { fmt, machine, median } from './stats.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

interface Timed {
  seconds: number;
  maxRssMiB: number;
}

/** Runs a command under GNU time; returns wall seconds and peak RSS. */
async function timed(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Timed> {
  const { stderr } = await run('/usr/bin/time', ['-f', 'TIME %e %M', cmd, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    maxBuffer: 64 * MiB,
  });
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(stderr);
  if (!m) throw new Error(`no timing from /usr/bin/time: ${stderr.slice(-500)}`);
  return { seconds: Number(m[1]), maxRssMiB: Number(m[2]) / 1024 };
}

/** Runs a command; returns wall seconds measured here (sub-millisecond: small runs take ~0.1 s). */
async function wall(cmd: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  const t = process.hrtime.bigint();
  await run(cmd, args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, maxBuffer: 64 * MiB });
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** Pushes an artifact of the given layers and returns the plan the webhook would give the fetcher. */
async function pushAndPlan(
  registry: StartedRegistry,
  repoTag: string,
  layers: readonly Buffer[],
): Promise<{ plan: string; blobs: string[] }> {
  const manifest = await pushBuilt(registry, repoTag, (layout) =>
    layout.manifest({ layers: layers.map((bytes, i) => ({ bytes, annotations: { [DEPENDENCY]: `bench:part-${i}:1.0` } })) }),
  );
  const plan = await planJsonFor(registry, `${registry.host}/${repoTag}`);
  return { plan, blobs: manifest.layers.map((l) => l.digest) };
}

/** One fetcher run: a Node and a build. */
interface Subject {
  readonly node: string;
  readonly cli: string;
  readonly label: string;
}

function fetchArgs(subject: Subject, registry: StartedRegistry, root: string, tmp: string): string[] {
  return [
    subject.cli,
    ...fetchArgv(root, tmp, registry.host, ['--timeout', '300s', '--max-unpacked-bytes', '4Gi', '--max-layer-bytes', '1Gi']),
  ];
}

const PIPELINE = [
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

/** What curl needs for the same fetch on a plain registry: the manifest by digest, each blob, sha256, untar. */
const CURL = [
  'set -euo pipefail',
  'base="$1"; manifest="$2"; out="$3"; shift 3',
  'curl -sSf -o "$out/manifest.json" -H "Accept: application/vnd.oci.image.manifest.v1+json" "$base/manifests/$manifest"',
  'for d in "$@"; do',
  '  curl -sSf -o "$out/${d#sha256:}" "$base/blobs/$d"',
  '  echo "${d#sha256:}  $out/${d#sha256:}" | sha256sum -c --quiet -',
  '  mkdir "$out/x-${d#sha256:}"; tar xzf "$out/${d#sha256:}" -C "$out/x-${d#sha256:}"',
  'done',
].join('\n');

async function large(registry: StartedRegistry, tmp: string, rounds: number, subjects: readonly Subject[]): Promise<void> {
  await writeFile(path.join(tmp, 'pipeline.sh'), PIPELINE);
  for (const [layers, layerMiB] of [
    [8, 32],
    [1, 512],
  ] as const) {
    const repoTag = `bench/large-${layers}x${layerMiB}:1.0`;
    const blobs = Array.from({ length: layers }, (_, i) =>
      makeTarGz([{ path: `lib/part-${i}.jar`, content: randomBytes(layerMiB * MiB) }]),
    );
    const { plan } = await pushAndPlan(registry, repoTag, blobs);
    const ours = new Map<Subject, Timed[]>(subjects.map((n) => [n, []]));
    const theirs: Timed[] = [];
    for (let i = 0; i < rounds; i++) {
      for (const subject of subjects) {
        const root = path.join(tmp, `root-${i}`);
        await mkdir(root);
        ours.get(subject)!.push(await timed(subject.node, fetchArgs(subject, registry, root, tmp), { CAMEL_OCI_PLAN: plan }));
        await rm(root, { recursive: true, force: true });
      }
      const dir = path.join(tmp, `dir-${i}`);
      const out = path.join(tmp, `out-${i}`);
      await mkdir(out);
      theirs.push(await timed('bash', [path.join(tmp, 'pipeline.sh'), `${registry.host}/${repoTag}`, dir, out], { HOME: tmp }));
      await rm(dir, { recursive: true, force: true });
      await rm(out, { recursive: true, force: true });
    }
    const s = (t: Timed[]): number => median(t.map((x) => x.seconds));
    const r = (t: Timed[]): number => median(t.map((x) => x.maxRssMiB));
    const total = layers * layerMiB;
    console.log(`\n**large: ${layers} × ${layerMiB} MiB** incompressible tar+gzip, ${rounds} rounds (medians)\n`);
    console.log('| pipeline | seconds | MiB/s (unpacked) | peak RSS MiB (median, max) | speed-up vs pipeline | seconds per round |');
    console.log('|---|---|---|---|---|---|');
    for (const [subject, t] of ours) {
      console.log(
        `| ${subject.label} | ${fmt(s(t))} | ${fmt(total / s(t), 1)} | ${fmt(r(t), 1)}, ${fmt(Math.max(...t.map((x) => x.maxRssMiB)), 1)} | **${fmt(s(theirs) / s(t))}×** | ${t.map((x) => fmt(x.seconds)).join(', ')} |`,
      );
    }
    console.log(
      `| skopeo copy + sha256sum -c + tar xzf | ${fmt(s(theirs))} | ${fmt(total / s(theirs), 1)} | ${fmt(r(theirs), 1)} | 1.00 | ${theirs.map((x) => fmt(x.seconds)).join(', ')} |`,
    );
  }
}

/**
 * The least any Node fetcher does for the small artifact, with none of the fetcher's checks, limits
 * or streaming: the three GETs on a keep-alive agent, sha256 of each body, gunzip in one call, the
 * one tar entry's data written out. What it takes beyond `node -e 0` is Node's share (its HTTP,
 * crypto and zlib modules, their first calls); what the fetcher takes beyond it is the fetcher's.
 */
const BARE_NODE_FETCH = `
const http = require('node:http'), crypto = require('node:crypto'), zlib = require('node:zlib'), fs = require('node:fs'), path = require('node:path');
const a = JSON.parse(process.env.CAMEL_OCI_PLAN).artifacts[0];
const base = 'http://' + a.registry + '/v2/' + a.repository;
const agent = new http.Agent({ keepAlive: true });
const sha256 = (b) => 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');
const get = (p, headers) => new Promise((resolve, reject) => http.get(base + p, { agent, headers }, (res) => {
  if (res.statusCode !== 200) return reject(new Error(p + ': ' + res.statusCode));
  const chunks = []; res.on('data', (c) => chunks.push(c)); res.on('end', () => resolve(Buffer.concat(chunks))); res.on('error', reject);
}).on('error', reject));
const check = (b, digest) => { if (sha256(b) !== digest) throw new Error('digest mismatch ' + digest); return b; };
Promise.all([
  get('/manifests/' + a.digest, { accept: 'application/vnd.oci.image.manifest.v1+json' }).then((b) => check(b, a.digest)),
  ...a.layers.map((l, i) => get('/blobs/' + l.digest, {}).then((b) => {
    const tar = zlib.gunzipSync(check(b, l.digest));
    const name = tar.subarray(0, 100).toString('latin1').replace(/\\0.*$/s, '');
    const size = parseInt(tar.subarray(124, 136).toString('latin1'), 8);
    const dir = path.join(process.argv[2], String(i));
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, path.basename(name)), tar.subarray(512, 512 + size));
  })),
]).then(() => agent.destroy(), (err) => { console.error(err); process.exit(1); });
`;

async function small(registry: StartedRegistry, tmp: string, rounds: number, subjects: readonly Subject[]): Promise<void> {
  await writeFile(path.join(tmp, 'curl.sh'), CURL);
  await writeFile(path.join(tmp, 'bare-node-fetch.cjs'), BARE_NODE_FETCH);
  const repoTag = 'bench/small:1.0';
  const blobs = [0, 1].map((i) => makeTarGz([{ path: `lib/small-${i}.jar`, content: randomBytes(64 * 1024) }]));
  const { plan, blobs: digests } = await pushAndPlan(registry, repoTag, blobs);
  const manifestDigest = (JSON.parse(plan) as { artifacts: Array<{ digest: string }> }).artifacts[0]!.digest;
  const base = `http://${registry.host}/v2/bench/small`;
  const ours = new Map<Subject, number[]>(subjects.map((n) => [n, []]));
  const floor = new Map<string, number[]>(subjects.map((n) => [n.node, []]));
  const bare = new Map<string, number[]>(subjects.map((n) => [n.node, []]));
  const curl: number[] = [];
  // One uncounted round first: page cache, and Node's compile cache where it is on.
  for (let i = -1; i < rounds; i++) {
    for (const subject of subjects) {
      const root = path.join(tmp, `small-root-${i}`);
      await mkdir(root);
      const t = await wall(subject.node, fetchArgs(subject, registry, root, tmp), { CAMEL_OCI_PLAN: plan });
      await rm(root, { recursive: true, force: true });
      if (i >= 0) ours.get(subject)!.push(t);
    }
    for (const [node, f] of floor) {
      const t = await wall(node, ['-e', '0']);
      if (i >= 0) f.push(t);
      const root = path.join(tmp, `bare-root-${i}`);
      await mkdir(root);
      const b = await wall(node, [path.join(tmp, 'bare-node-fetch.cjs'), root], { CAMEL_OCI_PLAN: plan });
      await rm(root, { recursive: true, force: true });
      if (i >= 0) bare.get(node)!.push(b);
    }
    const out = path.join(tmp, `small-out-${i}`);
    await mkdir(out);
    const c = await wall('bash', [path.join(tmp, 'curl.sh'), base, manifestDigest, out, ...digests]);
    await rm(out, { recursive: true, force: true });
    if (i >= 0) curl.push(c);
  }
  const ms = (v: number[]): string => fmt(median(v) * 1000, 0);
  console.log(`\n**small: 2 × 64 KiB layers**, the whole run (process start included), ${rounds} rounds (medians)\n`);
  console.log('| run | ms | ratio vs curl | `node -e 0` ms | bare Node fetch ms (ratio vs curl) |');
  console.log('|---|---|---|---|---|');
  for (const [subject, t] of ours) {
    const b = bare.get(subject.node)!;
    console.log(
      `| ${subject.label} | ${ms(t)} | **${fmt(median(t) / median(curl))}×** | ${ms(floor.get(subject.node)!)} | ${ms(b)} (${fmt(median(b) / median(curl))}×) |`,
    );
  }
  console.log(`| curl × 3 + sha256sum -c + tar xzf (one bash script) | ${ms(curl)} | 1.00 | | |`);
}

async function nodeVersion(node: string): Promise<string> {
  return (await run(node, ['--version'])).stdout.trim();
}

/** Runs the benchmark and prints Markdown tables. */
export async function runFetchBench(args: readonly string[]): Promise<void> {
  const which = args[0] !== undefined && !args[0].startsWith('--') ? args[0] : 'all';
  const rounds = Number(args[args.indexOf('--rounds') + 1]) || (which === 'small' ? 15 : 3);
  const many = (flag: string): string[] => args.flatMap((a, i) => (a === flag && args[i + 1] !== undefined ? [args[i + 1]!] : []));
  const nodes = many('--node');
  if (nodes.length === 0) nodes.push(process.execPath);
  const clis = [CLI, ...many('--cli')];
  const subjects: Subject[] = [];
  for (const node of nodes) {
    const version = await nodeVersion(node);
    for (const cli of clis) subjects.push({ node, cli, label: `camel-oci fetch, Node ${version}${cli === CLI ? '' : `, ${cli}`}` });
  }
  const registry = await startRegistry({ mode: 'plain' });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-bench-fetch-'));
  try {
    console.log(
      `fetch benchmark (${which}); ${await machine()}; load average ${os
        .loadavg()
        .map((l) => fmt(l))
        .join(' ')}; ${new Date().toISOString()}`,
    );
    if (which === 'large' || which === 'all') await large(registry, tmp, rounds, subjects);
    if (which === 'small' || which === 'all') await small(registry, tmp, which === 'all' ? rounds * 5 : rounds, subjects);
  } finally {
    await registry.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
