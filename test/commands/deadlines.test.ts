/**
 * Every command keeps its own --timeout against a registry that accepts connections and never
 * answers: closing the connection pool must not wait for the request still in flight (undici's
 * graceful close would, until its own 10 s header timeout).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { closeServer, listenLoopback } from '../helpers/ports.js';
import { makeJar } from '../helpers/zip.js';

const TIMEOUT_MS = 2_000;
/** Process start-up (module loading on a busy machine) and the exit itself; an overrun was ~10 s. */
const SLACK_MS = 4_000;

describe('CLI deadlines against a registry that never answers', () => {
  const sockets = new Set<net.Socket>();
  const hole = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  let host = '';
  let dir = '';
  before(async () => {
    host = `127.0.0.1:${await listenLoopback(hole)}`;
    dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-deadlines-'));
  });
  after(async () => {
    await closeServer(hole, sockets);
    await rm(dir, { recursive: true, force: true });
  });

  const registryArgs = (): string[] => ['--timeout', `${TIMEOUT_MS / 1000}s`, '--allow-registry', host, '--insecure-registry', host];

  async function timed(args: string[]): Promise<{ code: number | null; stderr: string; ms: number }> {
    const started = Date.now();
    const res = await runCli(args, { timeoutMs: 30_000 });
    return { code: res.code, stderr: res.stderr, ms: Date.now() - started };
  }

  it('resolve --timeout exits on time with TIMEOUT', async () => {
    const res = await timed(['resolve', ...registryArgs(), `${host}/acme/deps:1`]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /TIMEOUT/);
    assert.ok(res.ms < TIMEOUT_MS + SLACK_MS, `exited after ${res.ms} ms`);
  });

  it('inject --timeout exits on time with TIMEOUT', async () => {
    const pod = path.join(dir, 'pod.yaml');
    await writeFile(
      pod,
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata:',
        '  name: p',
        '  labels: {camel.apache.org/integration: x}',
        `  annotations: {camel.apache.org/container-dependencies: "${host}/acme/deps:1"}`,
        'spec: {containers: [{name: c, image: i}]}',
        '',
      ].join('\n'),
    );
    const res = await timed(['inject', ...registryArgs(), '-f', pod]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /TIMEOUT/);
    assert.ok(res.ms < TIMEOUT_MS + SLACK_MS, `exited after ${res.ms} ms`);
  });

  it('push --timeout exits on time', async () => {
    const jar = path.join(dir, 'foo-1.0.jar');
    await writeFile(
      jar,
      makeJar({ groupId: 'com.acme', artifactId: 'foo', version: '1.0' }, [{ name: 'com/acme/Foo.class', data: 'foo' }]),
    );
    const res = await timed(['push', `${host}/acme/deps:1`, '--dependency', jar, ...registryArgs()]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /TIMEOUT/);
    assert.ok(res.ms < TIMEOUT_MS + SLACK_MS, `exited after ${res.ms} ms`);
  });
});
