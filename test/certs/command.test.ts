import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { parse } from 'yaml';
import { certsCommand } from '../../src/certs/command.js';
import { isCamelOciError } from '../../src/errors.js';

async function tempDir(t: test.TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-cmd-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function capture(): { lines: string[]; log(line: string): void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

test('defaults to Service camel-oci in namespace camel-oci and writes every file, saying so', async (t) => {
  const out = await tempDir(t);
  const io = capture();
  const result = await certsCommand({ out }, io);
  assert.equal(result.status, 'written');
  const files = await readdir(out);
  assert.deepEqual(files.sort(), ['cabundle-patch.yaml', 'caBundle', 'ca.crt', 'kustomization.yaml', 'secret.yaml', 'tls.crt', 'tls.key'].sort());
  for (const f of files) assert.ok(io.lines.some((l) => l.startsWith('wrote ') && l.endsWith(f)), `prints that it wrote ${f}`);
  const cert = new X509Certificate(await readFile(path.join(out, 'tls.crt')));
  assert.equal(
    cert.subjectAltName,
    'DNS:camel-oci, DNS:camel-oci.camel-oci, DNS:camel-oci.camel-oci.svc, DNS:camel-oci.camel-oci.svc.cluster.local',
  );
  assert.equal(result.caBundle, await readFile(path.join(out, 'caBundle'), 'utf8'));
  const secret = parse(await readFile(path.join(out, 'secret.yaml'), 'utf8')) as { metadata: { name: string; namespace: string } };
  assert.deepEqual(secret.metadata, { name: 'camel-oci-tls', namespace: 'camel-oci' });
  const validity = (new Date(cert.validTo).getTime() - Date.now()) / 86_400_000;
  assert.ok(validity > 364 && validity <= 365, `default validity is a year, got ${validity} days`);
});

test('keeps a valid bundle on a second run and replaces it with --force', async (t) => {
  const out = await tempDir(t);
  const first = await certsCommand({ out, service: 'hook', namespace: 'team', validityDays: 30 }, capture());
  const io = capture();
  const second = await certsCommand({ out, service: 'hook', namespace: 'team', validityDays: 30 }, io);
  assert.equal(second.status, 'kept');
  assert.equal(second.caBundle, first.caBundle);
  assert.match(io.lines.join('\n'), /kept .*--force/);
  const forced = await certsCommand({ out, service: 'hook', namespace: 'team', validityDays: 30, force: true }, capture());
  assert.equal(forced.status, 'written');
  assert.notEqual(forced.caBundle, first.caBundle);
});

test('replaces a bundle made for another Service without --force', async (t) => {
  const out = await tempDir(t);
  await certsCommand({ out, service: 'old', validityDays: 30 }, capture());
  const io = capture();
  const result = await certsCommand({ out, service: 'new', validityDays: 30 }, io);
  assert.equal(result.status, 'written');
  assert.match(io.lines[0] ?? '', /^replacing .*not valid for new/);
  const cert = new X509Certificate(await readFile(path.join(out, 'tls.crt')));
  assert.ok(cert.checkHost('new.camel-oci.svc', { subject: 'never' }));
});

test('uses the given secret and webhook names in the kustomize files', async (t) => {
  const out = await tempDir(t);
  await certsCommand({ out, namespace: 'ops', secretName: 's', webhookName: 'w', validityDays: 1 }, capture());
  const k = parse(await readFile(path.join(out, 'kustomization.yaml'), 'utf8')) as { patches: Array<{ target: { name: string } }> };
  assert.equal(k.patches[0]?.target.name, 'w');
  const secret = parse(await readFile(path.join(out, 'secret.yaml'), 'utf8')) as { metadata: { name: string; namespace: string } };
  assert.deepEqual(secret.metadata, { name: 's', namespace: 'ops' });
});

test('refuses invalid options before generating anything', async (t) => {
  const out = await tempDir(t);
  for (const options of [{ service: 'Bad_Name' }, { validityDays: -1 }, { namespace: '' }]) {
    await assert.rejects(certsCommand({ out, ...options }, capture()), (err) => isCamelOciError(err, 'CONFIG_INVALID'));
  }
  assert.deepEqual(await readdir(out), []);
});
