/**
 * Admission benchmark: `camel-oci serve` over TLS with keep-alive, warm caches, the Camel K hello
 * pod asking for one artifact in a real registry, in two kinds (the annotation path: the tag
 * resolved from the warm cache; and a pod admitted from Integration pins, by digest), against two
 * bare Node HTTPS servers in the same run: THE baseline parses the body and echoes the webhook's
 * answer with the request's uid, the ceiling answers fixed bytes without parsing.
 *
 * Every server is its own process pinned to core 1 (`taskset -c 1`), the load generator to core 0.
 * Each round measures every server in turn (throughput at `--connections`, then latency on one
 * connection), so the machine's noise hits all of them alike; medians of the rounds are printed.
 *
 *   npm run bench -- admission [--duration 5] [--connections 32] [--rounds 5] [--requests 2000] [--node PATH] [--new-uids]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Agent, request } from 'undici';
import { startRegistry } from '../test/helpers/registry.js';
import { pushStandardArtifact } from '../test/helpers/artifacts.js';
import { helloPodAsking, reviewOf } from './review.js';
import { freePort } from '../test/helpers/ports.js';
import { CLI, runCli } from '../test/helpers/cli.js';
import { fmt, machine, median, quantile } from './stats.js';

/** TLS server name of the dev certificates `camel-oci certs` makes. */
const SERVERNAME = 'camel-oci.camel-oci.svc';
/** Core the servers are pinned to; the load generator takes core 0. */
const SERVER_CORE = '1';

/** One throughput run. */
interface Throughput {
  rps: number;
  p50: number;
  p99: number;
  /** Server CPU time (user + system) per request, ms. */
  cpuMsPerRequest: number;
  errors: number;
  non2xx: number;
}

/** One single-connection latency run (ms, from the client's clock). */
interface Latency {
  p50: number;
  p99: number;
  max: number;
}

/** A server under test. */
interface Subject {
  readonly name: string;
  readonly url: string;
  readonly body: string;
  readonly pid: number;
  readonly throughput: Throughput[];
  readonly latency: Latency[];
}

/** True when `taskset` can pin processes here. */
export function canPin(): boolean {
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0;
}

/** Spawns `node args` pinned to the server core (when `pin`). */
export function spawnServer(
  node: string,
  args: readonly string[],
  pin: boolean,
  env: NodeJS.ProcessEnv,
  stdout: 'pipe' | 'inherit' = 'pipe',
): ChildProcess {
  const [cmd, argv] = pin ? ['taskset', ['-c', SERVER_CORE, node, ...args]] : [node, [...args]];
  // stderr is shown (nothing reads a pipe of it, and a full pipe would stall the server).
  return spawn(cmd, argv, { env, stdio: ['ignore', stdout, 'inherit'] });
}

/** Pins this process (the load generator) to core 0. */
export function pinSelf(): void {
  spawnSync('taskset', ['-pc', '0', String(process.pid)]);
}

/** User + system CPU time of a process so far, in ms (from /proc/PID/stat, clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Resident and peak resident memory of a process, MiB (/proc/PID/status VmRSS, VmHWM). */
export async function rssMiB(pid: number): Promise<{ rss: number; hwm: number }> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024, hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024 };
}

/** Throughput of `url` at `connections` keep-alive connections for `duration` seconds. */
export async function throughput(
  url: string,
  body: string,
  ca: string,
  duration: number,
  connections: number,
  pid: number,
  newUids = false,
): Promise<Throughput> {
  const cpu0 = await cpuMs(pid);
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // autocannon puts a new id (base64url and digits, as plain as a UUID) where the body says [<id>].
    ...(newUids ? { body: withUid(body, '[<id>]'), idReplacement: true } : { body }),
    connections,
    pipelining: 1,
    duration,
    tlsOptions: { ca, servername: SERVERNAME },
  });
  const cpu = (await cpuMs(pid)) - cpu0;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuMsPerRequest: cpu / Math.max(1, result.requests.total),
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

/** Sends `count` requests one after the other on one keep-alive connection; p50/p99 in ms (sub-ms resolution). */
async function singleConnection(url: string, body: string, ca: string, count: number, newUids = false): Promise<Latency> {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca, servername: SERVERNAME });
  const fixed = Buffer.from(body);
  // With new uids, each payload is made before its clock starts: `bench-` and a counter.
  const template = withUid(body, '@UID@');
  let sent = 0;
  const one = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const payload = newUids ? Buffer.from(template.replace('@UID@', `bench-${String(sent++).padStart(8, '0')}`)) : fixed;
      const t0 = process.hrtime.bigint();
      const req = httpsRequest(
        url,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': payload.length } },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () =>
            res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  try {
    for (let i = 0; i < 50; i++) await one(); // the connection and the server's code paths warm
    const times: number[] = [];
    for (let i = 0; i < count; i++) times.push(await one());
    return { p50: quantile(times, 0.5), p99: quantile(times, 0.99), max: Math.max(...times) };
  } finally {
    agent.destroy();
  }
}

/** `body` (an AdmissionReview) with `uid` as its request's uid, written in the same place. */
function withUid(body: string, uid: string): string {
  const review = JSON.parse(body) as { request: { uid: string } };
  review.request.uid = uid;
  return JSON.stringify(review);
}

/** Polls `url` until it answers below 500 (15 s at most). */
export async function waitReady(url: string, ca: string, limitMs = 15_000, intervalMs = 100): Promise<void> {
  const agent = new Agent({ connect: { ca, servername: SERVERNAME } });
  const until = Date.now() + limitMs;
  try {
    for (;;) {
      try {
        const res = await request(url, { dispatcher: agent });
        await res.body.dump();
        if (res.statusCode < 500) return;
      } catch {
        // not yet
      }
      if (Date.now() > until) throw new Error(`${url} never became ready`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  } finally {
    await agent.close();
  }
}

/** The arguments of `camel-oci serve` the admission and start-up benchmarks run. */
export function serveArgs(port: number, certsDir: string, registryHost: string, cli = CLI): string[] {
  return [
    cli,
    'serve',
    ...['--port', String(port), '--address', '127.0.0.1'],
    ...['--tls-cert', path.join(certsDir, 'tls.crt'), '--tls-key', path.join(certsDir, 'tls.key')],
    ...['--allow-registry', registryHost, '--insecure-registry', registryHost, '--tag-ttl', '1h'],
    ...['--pull-secrets', 'false', '--log-level', 'warn', '--fetcher-image', 'camel-oci:bench', '--shutdown-delay', '0s'],
  ];
}

/** Environment of the servers (no separate metrics listener: serve's default, said so that a changed default cannot make them collide). */
export const SERVER_ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp', CAMEL_OCI_METRICS_PORT: 'off' };

/** POSTs `body` once and returns the answer's text. */
async function post(url: string, body: string, ca: string): Promise<string> {
  const agent = new Agent({ connect: { ca, servername: SERVERNAME } });
  try {
    const res = await request(url, { dispatcher: agent, method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return await res.body.text();
  } finally {
    await agent.close();
  }
}

/** Stops a child by its PID and waits for it (SIGKILL after 5 s). */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Runs the benchmark and prints a Markdown table. */
export async function runAdmissionBench(args: readonly string[]): Promise<void> {
  const opt = (name: string, def: number): number => Number(args[args.indexOf(`--${name}`) + 1]) || def;
  const duration = opt('duration', 5);
  const connections = opt('connections', 32);
  const rounds = opt('rounds', 5);
  const requests = opt('requests', 2000);
  const node = args.includes('--node') ? args[args.indexOf('--node') + 1]! : process.execPath;
  // --profile DIR: the webhook writes a V8 CPU profile there when it stops (see bench/profile.ts).
  const profile = args.includes('--profile') ? path.resolve(args[args.indexOf('--profile') + 1]!) : undefined;
  // --cli PATH: another build's dist/cli.js as the webhook (an earlier commit, for a before/after).
  const cli = args.includes('--cli') ? path.resolve(args[args.indexOf('--cli') + 1]!) : CLI;
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1]!.split(',') : undefined;
  // --new-uids: every request carries a uid of its own, as the apiserver sends them (else one uid for all).
  const newUids = args.includes('--new-uids');
  const pin = canPin();
  if (pin) pinSelf();
  const registry = await startRegistry({ mode: 'plain' });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-bench-admission-'));
  const children: ChildProcess[] = [];
  try {
    const pushed = await pushStandardArtifact(registry, 'bench/deps', '1.0');
    const certsDir = path.join(tmp, 'certs');
    const certs = await runCli(['certs', '--out', certsDir]);
    if (certs.code !== 0) throw new Error(certs.stderr);
    const ca = await readFile(path.join(certsDir, 'ca.crt'), 'utf8');
    const pod = helloPodAsking(pushed.reference);
    const annotationBody = reviewOf(pod);
    // A pod of a pinned Integration: Camel K copies the Integration's pins annotation onto its pods.
    const pinnedPod = structuredClone(pod);
    pinnedPod.metadata.annotations['camel.apache.org/container-dependencies.pinned'] =
      `${pushed.reference}@${pushed.manifest.descriptor.digest}`;
    const pinnedBody = reviewOf(pinnedPod);

    const webhookPort = await freePort();
    const profileFlags = profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profile];
    // --node-flags '--trace-gc': extra Node flags for the webhook (its output is shown).
    const nodeFlags = args.includes('--node-flags') ? args[args.indexOf('--node-flags') + 1]!.split(' ').filter((f) => f !== '') : [];
    const serve = spawnServer(
      node,
      [...profileFlags, ...nodeFlags, ...serveArgs(webhookPort, certsDir, registry.host, cli)],
      pin,
      SERVER_ENV,
      'inherit',
    );
    children.push(serve);
    const webhook = `https://127.0.0.1:${webhookPort}/mutate?timeout=10s`;
    await waitReady(`https://127.0.0.1:${webhookPort}/readyz`, ca);
    // Warm the caches; the webhook's real answer is the bare servers' answer.
    const answer = await post(webhook, annotationBody, ca);
    if (!JSON.parse(answer).response?.patch) throw new Error(`webhook did not patch: ${answer}`);
    const pinnedAnswer = await post(webhook, pinnedBody, ca);
    if (!JSON.parse(pinnedAnswer).response?.patch) throw new Error(`webhook did not patch the pinned pod: ${pinnedAnswer}`);
    const answerFile = path.join(tmp, 'answer.json');
    await writeFile(answerFile, answer);

    const bareScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bare-server.js');
    const startBare = async (mode: 'echo' | 'fixed'): Promise<{ url: string; pid: number }> => {
      const port = await freePort();
      const child = spawnServer(
        node,
        [...profileFlags, bareScript, path.join(certsDir, 'tls.crt'), path.join(certsDir, 'tls.key'), String(port), answerFile, mode],
        pin,
        SERVER_ENV,
      );
      children.push(child);
      await new Promise<void>((r) => child.stdout!.once('data', () => r()));
      return { url: `https://127.0.0.1:${port}/mutate?timeout=10s`, pid: child.pid! };
    };
    const echo = await startBare('echo');
    const fixed = await startBare('fixed');

    const all: Subject[] = [
      { name: 'bare HTTPS, parse and echo (baseline)', url: echo.url, body: annotationBody, pid: echo.pid, throughput: [], latency: [] },
      { name: 'camel-oci serve, annotation pod (warm)', url: webhook, body: annotationBody, pid: serve.pid!, throughput: [], latency: [] },
      { name: 'camel-oci serve, pod from pins', url: webhook, body: pinnedBody, pid: serve.pid!, throughput: [], latency: [] },
      { name: 'bare HTTPS, fixed body (ceiling)', url: fixed.url, body: annotationBody, pid: fixed.pid, throughput: [], latency: [] },
    ];
    // --only 0,1: measure some subjects only (the baseline is always kept, for the ratios).
    const subjects = only === undefined ? all : all.filter((_, i) => i === 0 || only.includes(String(i)));
    for (let i = 0; i < rounds; i++) {
      for (const s of subjects) {
        s.throughput.push(await throughput(s.url, s.body, ca, duration, connections, s.pid, newUids));
        s.latency.push(await singleConnection(s.url, s.body, ca, requests, newUids));
      }
    }
    const rss = await rssMiB(serve.pid!);

    const mt = (s: Subject, k: keyof Throughput): number => median(s.throughput.map((r) => r[k]));
    const ml = (s: Subject, k: keyof Latency): number => median(s.latency.map((r) => r[k]));
    const base = subjects[0]!;
    console.log(
      `admission benchmark: ${rounds} rounds × (${duration} s at ${connections} keep-alive TLS connections + ${requests} requests on one connection); ` +
        `servers ${pin ? `pinned to core ${SERVER_CORE}, load generator to core 0` : 'not pinned (no taskset)'}; server Node ${spawnSync(node, ['--version']).stdout.toString().trim()}; ` +
        `bodies ${annotationBody.length} / ${pinnedBody.length} B, ${newUids ? 'a new uid per request' : 'one uid for all requests'}; ${await machine()}; ${new Date().toISOString()}`,
    );
    console.log('');
    console.log(
      `| server | req/s at ${connections} conns | ratio vs baseline | p50 / p99 ms at ${connections} | CPU ms / req | 1 conn p50 ms | 1 conn p99 ms | p99 ratio vs baseline | errors / non-2xx |`,
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const s of subjects) {
      console.log(
        `| ${s.name} | ${fmt(mt(s, 'rps'), 0)} | ${fmt(mt(s, 'rps') / mt(base, 'rps'))} | ${mt(s, 'p50')} / ${mt(s, 'p99')} | ${fmt(mt(s, 'cpuMsPerRequest'), 3)} | ` +
          `${fmt(ml(s, 'p50'), 3)} | ${fmt(ml(s, 'p99'), 3)} | ${fmt(ml(s, 'p99') / ml(base, 'p99'))} | ` +
          `${s.throughput.reduce((a, r) => a + r.errors, 0)} / ${s.throughput.reduce((a, r) => a + r.non2xx, 0)} |`,
      );
    }
    console.log('');
    for (const s of subjects) {
      console.log(
        `- ${s.name}: req/s per round ${s.throughput.map((r) => fmt(r.rps, 0)).join(', ')}; 1-conn p99 per round ${s.latency.map((r) => fmt(r.p99, 3)).join(', ')}`,
      );
    }
    if (profile !== undefined)
      console.log(`- CPU profiles in ${profile}: webhook pid ${serve.pid}, baseline pid ${echo.pid}, ceiling pid ${fixed.pid}`);
    console.log(`- webhook RSS after the run: ${fmt(rss.rss, 0)} MiB (peak ${fmt(rss.hwm, 0)} MiB)`);
  } finally {
    for (const c of children) await stopChild(c);
    await registry.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
