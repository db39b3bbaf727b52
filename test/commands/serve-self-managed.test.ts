import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { runCli, startCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { issueServerCert, makeTestCa } from '../helpers/test-ca.js';
import { startObjectApiserver, type ObjectApiserver } from '../kube/fake-object-apiserver.js';
import { INSTALL_FILE } from '../manifests/install-file.js';
import { parseYamlStream } from '../manifests/kustomize.js';

const TOKEN = 'serve-self-managed';
let dir: string;
let api: ObjectApiserver;
let kubeconfig: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-serve-sm-'));
  const ca = await makeTestCa(dir);
  const cert = await issueServerCert(ca);
  api = await startObjectApiserver({ certPem: cert.certPem, keyPem: cert.keyPem, caPem: ca.certPem, token: TOKEN });
  // The webhook configuration exactly as install.yaml creates it (no caBundle).
  const objects = parseYamlStream(await readFile(INSTALL_FILE, 'utf8'), INSTALL_FILE);
  api.putWebhookConfiguration(objects.find((o) => o.kind === 'MutatingWebhookConfiguration')!);
  kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: fake, cluster: {server: "${api.url}", certificate-authority-data: ${Buffer.from(ca.certPem).toString('base64')}}}]`,
      `users: [{name: webhook, user: {token: ${TOKEN}}}]`,
      'contexts: [{name: fake, context: {cluster: fake, user: webhook}}]',
      'current-context: fake',
      '',
    ].join('\n'),
  );
});

after(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

test('serve --certificates self-managed creates the Secret, fills the caBundle, becomes ready over TLS the bundle verifies, and exports the expiry', async () => {
  const port = await freePort();
  const serve = startCli(
    [
      'serve',
      '--certificates',
      'self-managed',
      '--port',
      String(port),
      '--address',
      '127.0.0.1',
      '--pull-secrets',
      'false',
      '--shutdown-delay',
      '0s',
    ],
    {
      env: { KUBECONFIG: kubeconfig, POD_NAMESPACE: 'camel-oci' },
    },
  );
  try {
    const until = Date.now() + 60_000;
    let body = '';
    for (;;) {
      const b64 = api.webhookConfiguration('camel-oci')?.webhooks?.[0]?.clientConfig?.caBundle as string | undefined;
      if (b64 !== undefined) {
        // As the apiserver: trust exactly the caBundle, dial the Service name.
        const client = new Agent({ connect: { ca: Buffer.from(b64, 'base64').toString('utf8'), servername: 'camel-oci.camel-oci.svc' } });
        try {
          const res = await request(`https://127.0.0.1:${port}/readyz`, { dispatcher: client });
          await res.body.dump();
          if (res.statusCode === 200) {
            const metrics = await request(`https://127.0.0.1:${port}/metrics`, { dispatcher: client });
            body = await metrics.body.text();
            break;
          }
        } catch {
          // not serving yet
        } finally {
          await client.close();
        }
      }
      if (Date.now() > until) throw new Error(`serve did not become ready:\n${serve.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(api.secret('camel-oci', 'camel-oci-tls'), 'the Secret exists');
    const expiry = Number(/^camel_oci_serving_certificate_expiry_timestamp_seconds (\d+)/m.exec(body)?.[1]);
    assert.ok(expiry * 1000 > Date.now() + 80 * 24 * 3600 * 1000, `expiry ${expiry}`);
    assert.match(body, /^camel_oci_certificate_rotations_total\{kind="create"\} 1$/m);
    assert.match(body, /^camel_oci_ca_bundle_repairs_total 0$/m);
  } finally {
    await serve.stop();
  }
});

/** Bad combinations fail at start with CONFIG_INVALID. */
const REFUSED = [
  {
    name: 'an unknown --certificates mode',
    args: ['--certificates', 'cert-manager'],
    kube: false,
    says: /--certificates must be files or self-managed/,
  },
  {
    name: '--tls-cert in self-managed mode',
    args: ['--certificates', 'self-managed', '--tls-cert', 'a.crt', '--tls-key', 'a.key'],
    kube: false,
    says: /drop --tls-cert/,
  },
  // A kubeconfig but no POD_NAMESPACE, and no ServiceAccount mount on this machine.
  { name: 'self-managed without a namespace to work in', args: ['--certificates', 'self-managed'], kube: true, says: /POD_NAMESPACE/ },
] as const;

for (const c of REFUSED) {
  test(`serve refuses ${c.name} with CONFIG_INVALID`, async () => {
    const port = await freePort();
    const r = await runCli(['serve', '--port', String(port), '--pull-secrets', 'false', ...c.args], {
      env: c.kube ? { KUBECONFIG: kubeconfig } : {},
      timeoutMs: 60_000,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /CONFIG_INVALID/);
    assert.match(r.stderr, c.says);
  });
}
