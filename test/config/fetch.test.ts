import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadFetchConfig, loadFetchRunConfig } from '../../src/config/fetch.js';
import { DEFAULT_UNPACK_LIMITS } from '../../src/fetch/limits.js';
import { assertConfigInvalid, assertDeepFrozen, flagsOf } from './support.js';
import type { Env } from './support.js';
import { makeTestCa } from '../helpers/test-ca.js';

const load = (argv: string[] = [], env: Env = {}) => loadFetchConfig(flagsOf('fetch', argv, env), env);

/** A well-formed certificate block whose base64 is no X.509 certificate (cut short). */
const NOT_A_CERT = `-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUVd5Jw0wX1Yf0W9mY4YhC3TmYl8gwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKY29uZmlnLWNhMB4XDTI2MDEwMTAwMDAwMFoXDTM2MDEwMTAw
MDAwMFowFTETMBEGA1UEAwwKY29uZmlnLWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAE
-----END CERTIFICATE-----
`;

describe('loadFetchConfig', () => {
  it('has the documented defaults, frozen', () => {
    const c = load([], { CAMEL_OCI_PLAN: '{"version":1}' });
    assert.deepEqual(c, {
      timeoutMs: 50_000,
      terminationLog: '/dev/termination-log',
      root: '/camel-oci',
      planFile: undefined,
      planText: '{"version":1}',
      parallel: 4,
      pullSecretsDir: '/var/run/camel-oci/pull-secrets',
      limits: DEFAULT_UNPACK_LIMITS,
      caPems: [],
      registry: { registryConfigs: [], insecureRegistries: [], allowRegistries: [], caFiles: [], mirrors: new Map() },
    });
    assertDeepFrozen(c);
  });

  it('reads the variables the webhook sets; a flag wins; CAMEL_OCI_PLAN is the plan, never --plan', () => {
    const env = {
      CAMEL_OCI_TIMEOUT: '20',
      CAMEL_OCI_MAX_UNPACKED_BYTES: '2Gi',
      CAMEL_OCI_ALLOW_REGISTRY: 'registry.example.com',
      CAMEL_OCI_INSECURE_REGISTRY: '127.0.0.1:5000',
      CAMEL_OCI_PLAN: 'plan text',
    };
    const c = load([], env);
    assert.equal(c.timeoutMs, 20_000, 'plain seconds, as the webhook writes them');
    assert.equal(c.limits.maxUnpackedBytes, 2 * 1024 ** 3);
    assert.deepEqual(c.registry.allowRegistries, ['registry.example.com']);
    assert.deepEqual(c.registry.insecureRegistries, ['127.0.0.1:5000']);
    assert.equal(c.planFile, undefined);
    assert.equal(c.planText, 'plan text');
    const flagged = load(['--timeout', '5s', '--plan', 'plan.json', '--root', 'rel', '--parallel', '32'], env);
    assert.equal(flagged.timeoutMs, 5000);
    assert.equal(flagged.planFile, 'plan.json');
    assert.equal(flagged.root, path.resolve('rel'), 'the root is made absolute');
    assert.equal(flagged.parallel, 32);
    assert.equal(loadFetchRunConfig(flagsOf('fetch', ['--termination-log', '/tmp/t'])).terminationLog, '/tmp/t');
  });

  it('keeps only the certificates of --ca-pem, canonically', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'camel-oci-config-'));
    try {
      const ca = await makeTestCa(dir);
      const keyBlock = '-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n';
      const c = load(['--ca-pem', `# the registry CA\r\n${keyBlock}${ca.certPem.replace(/\n/g, '\r\n')}`]);
      assert.deepEqual(c.caPems, [new X509Certificate(ca.certPem).toString()]);
      assert.ok(!c.caPems[0]!.includes('\r'), 'canonical line ends');
      assertConfigInvalid(() => load([`--ca-pem=${keyBlock}`]), /--ca-pem \(CAMEL_OCI_CA_PEM\): no PEM certificate/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const invalid: { name: string; argv?: string[]; env?: Env; message: RegExp }[] = [
    { name: 'a timeout that is no duration', argv: ['--timeout', 'later'], message: /^--timeout: "later" is not a duration/ },
    { name: 'parallel 0', argv: ['--parallel', '0'], message: /^--parallel: "0" must be a whole number from 1 to 32$/ },
    { name: 'parallel 33', env: { CAMEL_OCI_PARALLEL: '33' }, message: /^--parallel: "33" must be a whole number from 1 to 32$/ },
    { name: 'max-files 0', argv: ['--max-files', '0'], message: /^--max-files: "0" must be a whole number/ },
    {
      name: 'a max-unpacked-bytes that is no size',
      argv: ['--max-unpacked-bytes', 'lots'],
      message: /^--max-unpacked-bytes: "lots" is not a size/,
    },
    { name: 'a max-layer-bytes that is no size', argv: ['--max-layer-bytes', '1TB'], message: /^--max-layer-bytes: "1TB" is not a size/ },
    {
      name: 'CAMEL_OCI_CA_PEM that is no PEM',
      env: { CAMEL_OCI_CA_PEM: 'garbage' },
      message: /^--ca-pem \(CAMEL_OCI_CA_PEM\): no PEM certificate in it/,
    },
    {
      name: 'a certificate block cut short',
      env: { CAMEL_OCI_CA_PEM: NOT_A_CERT.slice(0, NOT_A_CERT.indexOf('-----END')) },
      message: /1 of its 1 certificate blocks are not well formed/,
    },
    {
      name: 'base64 that is no certificate',
      env: { CAMEL_OCI_CA_PEM: NOT_A_CERT },
      message: /certificate 1 of 1 is not a valid X\.509 certificate/,
    },
    { name: 'CA PEM over 64 KiB', env: { CAMEL_OCI_CA_PEM: NOT_A_CERT.repeat(400) }, message: /more than the 65536 accepted/ },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name} with CONFIG_INVALID`, () => assertConfigInvalid(() => load(c.argv ?? [], c.env ?? {}), c.message));
  }

  it('checks the deadline first, apart: a bad --timeout is a usage error before the run starts', () => {
    assertConfigInvalid(() => loadFetchRunConfig(flagsOf('fetch', ['--timeout', 'x', '--parallel', '0'])), /^--timeout:/);
  });
});
