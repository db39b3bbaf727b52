/**
 * The built `camel-oci serve` over real TLS for end-to-end tests: certificates from `camel-oci
 * certs` in a temporary directory, a free loopback port, and a client that trusts the CA and
 * verifies the Service name as the apiserver does.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { runCli, startCli, type CliProcess } from './cli.js';
import { freePort } from './ports.js';

/** The name the apiserver verifies the webhook's certificate for. */
export const WEBHOOK_SERVICE_NAME = 'camel-oci.camel-oci.svc';

/** A running webhook and what talks to it. */
export interface StartedWebhook {
  readonly port: number;
  /** A client trusting the webhook's CA, verifying the Service name. */
  readonly client: Agent;
  readonly serve: CliProcess;
  /** The temporary directory (certificates under `certs/`); other files may go there too. */
  readonly dir: string;
  /** POSTs an AdmissionReview to `path` (with its query) and returns the status and parsed body. */
  post(path: string, review: unknown): Promise<{ status: number; body: any; ms: number }>;
  stop(): Promise<void>;
}

/**
 * Starts `serve` with `args` besides the port, address, certificates and test defaults
 * (`--fetcher-image registry.example/camel-oci:test`, no pull secrets, no shutdown delay), and
 * waits until it is ready. `prepare` may write files into the directory first and return more args.
 */
export async function startWebhook(
  args: readonly string[],
  env: Record<string, string> = {},
  prepare?: (dir: string) => Promise<readonly string[]>,
): Promise<StartedWebhook> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-webhook-'));
  const certs = await runCli(['certs', '--service', 'camel-oci', '--namespace', 'camel-oci', '--out', path.join(dir, 'certs')]);
  assert.equal(certs.code, 0, certs.stderr);
  const extra = prepare ? await prepare(dir) : [];
  const port = await freePort();
  const serve = startCli(
    [
      'serve',
      '--port',
      String(port),
      '--address',
      '127.0.0.1',
      '--tls-cert',
      path.join(dir, 'certs', 'tls.crt'),
      '--tls-key',
      path.join(dir, 'certs', 'tls.key'),
      '--fetcher-image',
      'registry.example/camel-oci:test',
      '--pull-secrets',
      'false',
      '--shutdown-delay',
      '0s',
      ...args,
      ...extra,
    ],
    { env },
  );
  const ca = await readFile(path.join(dir, 'certs', 'ca.crt'), 'utf8');
  const client = new Agent({ connect: { ca, servername: WEBHOOK_SERVICE_NAME } });
  const until = Date.now() + 15_000;
  for (;;) {
    const ok = await request(`https://127.0.0.1:${port}/readyz`, { dispatcher: client }).then(
      async (r) => (await r.body.dump(), r.statusCode === 200),
      () => false,
    );
    if (ok) break;
    if (Date.now() > until) {
      await serve.stop();
      throw new Error(`serve did not become ready:\n${serve.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    client,
    serve,
    dir,
    async post(target, review) {
      const started = Date.now();
      const res = await request(`https://127.0.0.1:${port}${target}`, {
        dispatcher: client,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(review),
      });
      const text = await res.body.text();
      return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, ms: Date.now() - started };
    },
    async stop() {
      await serve.stop();
      await client.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
