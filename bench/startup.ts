/**
 * Start-up benchmark of the webhook: time from process start (spawn) to the first `GET /readyz`
 * answering 200, resident memory once ready and idle, and resident memory under load (32
 * keep-alive connections of warm pod admissions against a real registry). Each Node given is run
 * `--rounds` times, plain and, where Node has it (22.1+), with its on-disk compile cache
 * (NODE_COMPILE_CACHE, what `module.enableCompileCache()` turns on); `node -e 0` on the same Node
 * is the floor. Server pinned to core 1, this process (the poller and the load) to core 0.
 *
 *   npm run bench -- startup [--rounds 7] [--duration 5] [--connections 32] [--node PATH]... [--cli PATH]
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { pushStandardArtifact } from '../test/helpers/artifacts.js';
import { helloPodAsking, reviewOf } from './review.js';
import { freePort } from '../test/helpers/ports.js';
import { runCli } from '../test/helpers/cli.js';
import { startRegistry } from '../test/helpers/registry.js';
import { canPin, pinSelf, rssMiB, SERVER_ENV, serveArgs, spawnServer, stopChild, throughput } from './admission.js';
import { fmt, machine, median } from './stats.js';

const SERVERNAME = 'camel-oci.camel-oci.svc';

/** One start of the webhook. */
interface Start {
  readyMs: number;
  idleRss: number;
  loadRss: number;
  loadHwm: number;
  rps: number;
}

/** Polls `/readyz` (a new TLS connection each time, as kubelet's probe does) until 200; ms since `t0`. */
async function untilReady(url: string, ca: string, t0: bigint, child: ChildProcess): Promise<number> {
  const limit = t0 + 30_000_000_000n;
  for (;;) {
    if (child.exitCode !== null) throw new Error('serve exited before it was ready');
    const agent = new Agent({ connect: { ca, servername: SERVERNAME }, pipelining: 0 });
    try {
      const res = await request(url, { dispatcher: agent });
      await res.body.dump();
      if (res.statusCode === 200) return Number(process.hrtime.bigint() - t0) / 1e6;
    } catch {
      // not listening yet
    } finally {
      await agent.close();
    }
    if (process.hrtime.bigint() > limit) throw new Error(`${url} never became ready`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Milliseconds `node -e 0` takes on `node` (median of `rounds`). */
function bareNodeMs(node: string, rounds: number, env: NodeJS.ProcessEnv): number {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync('taskset', ['-c', '1', node, '-e', '0'], { env });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

/** Runs the benchmark and prints a Markdown table. */
export async function runStartupBench(args: readonly string[]): Promise<void> {
  const opt = (name: string, def: number): number => Number(args[args.indexOf(`--${name}`) + 1]) || def;
  const rounds = opt('rounds', 7);
  const duration = opt('duration', 5);
  const connections = opt('connections', 32);
  // --cli PATH (repeatable): builds' dist/cli.js to compare (an earlier commit, for a before/after); default this one.
  const clis = args.flatMap((a, i) => (a === '--cli' ? [path.resolve(args[i + 1]!)] : []));
  const nodes = args.flatMap((a, i) => (a === '--node' ? [args[i + 1]!] : []));
  if (nodes.length === 0) nodes.push(process.execPath);
  const pin = canPin();
  if (pin) pinSelf();
  const registry = await startRegistry({ mode: 'plain' });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-bench-startup-'));
  try {
    const pushed = await pushStandardArtifact(registry, 'bench/deps', '1.0');
    const certsDir = path.join(tmp, 'certs');
    const certs = await runCli(['certs', '--out', certsDir]);
    if (certs.code !== 0) throw new Error(certs.stderr);
    const ca = await readFile(path.join(certsDir, 'ca.crt'), 'utf8');
    const body = reviewOf(helloPodAsking(pushed.reference));

    // Every (build, Node, mode) is started once per round, in turn, so the machine's noise hits all alike.
    interface Config {
      readonly build: string;
      readonly cli: string | undefined;
      readonly node: string;
      readonly version: string;
      readonly mode: string;
      readonly env: NodeJS.ProcessEnv;
      readonly floor: number;
      readonly starts: Start[];
    }
    const configs: Config[] = [];
    const builds: Array<{ build: string; cli: string | undefined }> =
      clis.length === 0
        ? [{ build: 'this', cli: undefined }]
        : clis.map((c) => ({ build: path.basename(path.dirname(path.dirname(c))), cli: c }));
    for (const node of nodes) {
      const version = spawnSync(node, ['--version']).stdout.toString().trim();
      const major = Number(/^v(\d+)/.exec(version)?.[1] ?? 0);
      const floor = bareNodeMs(node, rounds, SERVER_ENV);
      for (const b of builds) {
        configs.push({ ...b, node, version, mode: 'plain', env: SERVER_ENV, floor, starts: [] });
        if (major > 22 || (major === 22 && Number(version.split('.')[1]) >= 1)) {
          const cache = path.join(tmp, `compile-cache-${version}-${b.build}`);
          configs.push({
            ...b,
            node,
            version,
            mode: 'compile cache',
            env: { ...SERVER_ENV, NODE_COMPILE_CACHE: cache },
            floor,
            starts: [],
          });
        }
      }
    }
    // A first start of each fills its compile cache; it is not counted.
    for (let i = -1; i < rounds; i++) {
      for (const c of configs) {
        const port = await freePort();
        const t0 = process.hrtime.bigint();
        const child = spawnServer(c.node, serveArgs(port, certsDir, registry.host, c.cli), pin, c.env);
        child.stdout?.resume();
        try {
          const readyMs = await untilReady(`https://127.0.0.1:${port}/readyz`, ca, t0, child);
          await new Promise((r) => setTimeout(r, 1_000));
          const idle = await rssMiB(child.pid!);
          const url = `https://127.0.0.1:${port}/mutate?timeout=10s`;
          const run = await throughput(url, body, ca, duration, connections, child.pid!);
          if (run.non2xx > 0 || run.errors > 0) throw new Error(`admissions failed under load: ${JSON.stringify(run)}`);
          const loaded = await rssMiB(child.pid!);
          if (i >= 0) c.starts.push({ readyMs, idleRss: idle.rss, loadRss: loaded.rss, loadHwm: loaded.hwm, rps: run.rps });
        } finally {
          await stopChild(child);
        }
      }
    }
    const rows = configs.map((c) => {
      const m = (k: keyof Start): number => median(c.starts.map((x) => x[k]));
      return (
        `| ${c.build} | ${c.version} | ${c.mode} | ${fmt(m('readyMs'), 0)} | ${fmt(c.floor, 0)} | ${fmt(m('readyMs') / c.floor, 1)} | ` +
        `${fmt(m('idleRss'), 0)} | ${fmt(m('loadRss'), 0)} | ${fmt(m('loadHwm'), 0)} | ${fmt(m('rps'), 0)} | ${c.starts.map((x) => fmt(x.readyMs, 0)).join(', ')} |`
      );
    });
    console.log(
      `start-up benchmark: ${rounds} starts per row, rows started in turn in every round (after one uncounted start), ready = first GET /readyz 200 after spawn (polled every 5 ms), ` +
        `idle RSS 1 s after ready, load = ${duration} s at ${connections} keep-alive connections of warm admissions; ` +
        `server ${pin ? 'pinned to core 1' : 'not pinned'}; ${await machine()}; ${new Date().toISOString()}`,
    );
    console.log('');
    console.log(
      '| build | Node | mode | ready ms (median) | `node -e 0` ms | ready / node -e 0 | idle RSS MiB | RSS under load MiB | peak RSS MiB | req/s under load | ready ms per start |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
  } finally {
    await registry.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
