/**
 * Admission benchmark: throughput and p50/p99 latency of `camel-oci serve` over TLS with keep-alive,
 * warm caches, the Camel K hello pod asking for one artifact in a real registry; against a bare
 * Node HTTPS server answering a fixed AdmissionReview, on the same machine in the same run.
 * Also reports the webhook's resident memory.
 *
 *   npm run bench -- admission [--duration 10] [--connections 16] [--rounds 3]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Agent, request } from 'undici';
import { startRegistry } from '../test/helpers/registry.js';
import { pushStandardArtifact } from '../test/helpers/artifacts.js';
import { fixtureJson } from '../test/helpers/fixtures.js';
import { freePort } from '../test/helpers/ports.js';
import { runCli, startCli } from '../test/helpers/cli.js';
import { fmt, machine, median } from './stats.js';

interface Run {
  /** Server CPU time (user + system) per request, ms. */
  cpuMsPerRequest: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** User + system CPU time of a process so far, in ms (from /proc/PID/stat, clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function load(url: string, body: string, ca: string, duration: number, connections: number, pid: number): Promise<Run> {
  const cpu0 = await cpuMs(pid);
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    pipelining: 1,
    duration,
    tlsOptions: { ca, servername: 'camel-oci.camel-oci.svc' },
  });
  const cpu = (await cpuMs(pid)) - cpu0;
  return {
    cpuMsPerRequest: cpu / Math.max(1, result.requests.total),
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

async function waitReady(url: string, ca: string): Promise<void> {
  const agent = new Agent({ connect: { ca, servername: 'camel-oci.camel-oci.svc' } });
  const until = Date.now() + 15_000;
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
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await agent.close();
  }
}

function rssMiB(pid: number): Promise<{ rss: number; hwm: number }> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => ({
    rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024,
    hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024,
  }));
}

/** Runs the benchmark and prints a Markdown table. */
export async function runAdmissionBench(args: readonly string[]): Promise<void> {
  const opt = (name: string, def: number): number => Number(args[args.indexOf(`--${name}`) + 1]) || def;
  const duration = opt('duration', 10);
  const connections = opt('connections', 16);
  const rounds = opt('rounds', 3);
  const registry = await startRegistry({ mode: 'plain' });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-bench-admission-'));
  try {
    const pushed = await pushStandardArtifact(registry, 'bench/deps', '1.0');
    const certs = await runCli(['certs', '--out', path.join(tmp, 'certs')]);
    if (certs.code !== 0) throw new Error(certs.stderr);
    const ca = await readFile(path.join(tmp, 'certs', 'ca.crt'), 'utf8');
    const pod = fixtureJson<Record<string, any>>('camel-k-pods/camel-k-hello-pod.json');
    pod.metadata.annotations['camel.apache.org/container-dependencies'] = `container:${pushed.reference}`;
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'bench',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: 'demo',
        operation: 'CREATE',
        object: pod,
        userInfo: { username: 'bench' },
      },
    };
    const body = JSON.stringify(review);

    const webhookPort = await freePort();
    const serve = startCli([
      'serve',
      '--port',
      String(webhookPort),
      '--address',
      '127.0.0.1',
      '--tls-cert',
      path.join(tmp, 'certs', 'tls.crt'),
      '--tls-key',
      path.join(tmp, 'certs', 'tls.key'),
      '--allow-registry',
      registry.host,
      '--insecure-registry',
      registry.host,
      '--tag-ttl',
      '1h',
      '--pull-secrets',
      'false',
      '--log-level',
      'warn',
      '--fetcher-image',
      'camel-oci:bench',
      '--shutdown-delay',
      '0s',
    ]);
    const webhookUrl = `https://127.0.0.1:${webhookPort}/mutate?timeout=10s`;
    await waitReady(`https://127.0.0.1:${webhookPort}/readyz`, ca);
    // Warm the caches and capture the webhook's real answer as the bare server's fixed body.
    const agent = new Agent({ connect: { ca, servername: 'camel-oci.camel-oci.svc' } });
    const warm = await request(webhookUrl, { dispatcher: agent, method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const answer = await warm.body.text();
    await agent.close();
    if (!JSON.parse(answer).response?.patch) throw new Error(`webhook did not patch: ${answer}`);
    const answerFile = path.join(tmp, 'answer.json');
    await writeFile(answerFile, answer);

    const barePort = await freePort();
    const bareScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bare-server.js');
    const bare = spawn(
      process.execPath,
      [bareScript, path.join(tmp, 'certs', 'tls.crt'), path.join(tmp, 'certs', 'tls.key'), String(barePort), answerFile],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((r) => bare.stdout!.once('data', () => r()));
    const bareUrl = `https://127.0.0.1:${barePort}/mutate?timeout=10s`;

    const hooks: Run[] = [];
    const bares: Run[] = [];
    for (let i = 0; i < rounds; i++) {
      hooks.push(await load(webhookUrl, body, ca, duration, connections, serve.child.pid!));
      bares.push(await load(bareUrl, body, ca, duration, connections, bare.pid!));
    }
    const rss = await rssMiB(serve.child.pid!);
    bare.kill('SIGTERM');
    await serve.stop();

    const m = (runs: Run[], k: keyof Run): number => median(runs.map((r) => r[k]));
    console.log(
      `admission benchmark: ${rounds} rounds × ${duration} s, ${connections} keep-alive TLS connections, body ${body.length} B; ${await machine()}; ${new Date().toISOString()}`,
    );
    console.log('');
    console.log('| server | req/s (median) | p50 ms | p99 ms | server CPU ms / request | errors | non-2xx |');
    console.log('|---|---|---|---|---|---|---|');
    console.log(
      `| camel-oci serve (warm caches, real patch) | ${fmt(m(hooks, 'rps'), 0)} | ${m(hooks, 'p50')} | ${m(hooks, 'p99')} | ${fmt(m(hooks, 'cpuMsPerRequest'), 3)} | ${hooks.reduce((a, r) => a + r.errors, 0)} | ${hooks.reduce((a, r) => a + r.non2xx, 0)} |`,
    );
    console.log(
      `| bare Node HTTPS, fixed AdmissionReview | ${fmt(m(bares, 'rps'), 0)} | ${m(bares, 'p50')} | ${m(bares, 'p99')} | ${fmt(m(bares, 'cpuMsPerRequest'), 3)} | ${bares.reduce((a, r) => a + r.errors, 0)} | ${bares.reduce((a, r) => a + r.non2xx, 0)} |`,
    );
    console.log('');
    console.log(
      `throughput ratio webhook / bare: ${fmt(m(hooks, 'rps') / m(bares, 'rps'))}; webhook RSS after the run: ${fmt(rss.rss, 0)} MiB (peak ${fmt(rss.hwm, 0)} MiB)`,
    );
  } finally {
    await registry.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
