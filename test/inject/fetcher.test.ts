import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildInjection } from '../../src/inject/patch.js';
import { VOLUME_NAME } from '../../src/inject/annotations.js';
import { MAX_REGISTRY_ENTRIES, MAX_REGISTRY_ENTRY_CHARS } from '../../src/inject/options.js';
import { parseQuantity } from '../../src/inject/quantity.js';
import { parseFlags, parseSize } from '../../src/config/flags.js';
import { FETCH_FLAGS } from '../../src/config/tables.js';
import { isCamelOciError } from '../../src/base/errors.js';
import {
  applyAndValidate,
  artifact,
  fetchContainer,
  helloPod,
  layer,
  OPTIONS,
  restrictedViolations,
  twoArtifacts,
  type Obj,
} from './support.js';
import {
  ENV_ALLOW_REGISTRY,
  ENV_CA_PEM,
  ENV_FETCH_TIMEOUT,
  ENV_INSECURE_REGISTRY,
  ENV_MAX_UNPACKED_BYTES,
  ENV_PLAN,
  MAX_CA_PEM_BYTES,
} from '../../src/plan/env.js';

/** A PEM block shaped like a certificate (the builder checks shape; the fetcher parses X.509). */
function certBlock(bytes = 300, eol = '\n'): string {
  const b64 = randomBytes(bytes).toString('base64');
  const lines = b64.match(/.{1,64}/g)!.join(eol);
  return `-----BEGIN CERTIFICATE-----${eol}${lines}${eol}-----END CERTIFICATE-----${eol}`;
}

/** A certificate-shaped PEM text of exactly `size` bytes. */
function pemOfSize(size: number): string {
  const head = '-----BEGIN CERTIFICATE-----\n';
  const tail = '\n-----END CERTIFICATE-----\n';
  return head + 'A'.repeat(size - head.length - tail.length) + tail;
}

const TWO_CAS = certBlock() + certBlock(400, '\r\n');

test('the init container gets env CAMEL_OCI_CA_PEM exactly when caPem is given, after the plan and timeout', () => {
  const without = fetchContainer(
    applyAndValidate(helloPod(), buildInjection(helloPod(), twoArtifacts(), { ...OPTIONS, fetchTimeoutSeconds: 45 }).ops),
  );
  assert.deepEqual(
    without.env.map((e: Obj) => e.name),
    [ENV_PLAN, ENV_FETCH_TIMEOUT, ENV_MAX_UNPACKED_BYTES],
  );

  const pod = helloPod();
  const patched = applyAndValidate(pod, buildInjection(pod, twoArtifacts(), { ...OPTIONS, fetchTimeoutSeconds: 45, caPem: TWO_CAS }).ops);
  const init = fetchContainer(patched);
  assert.deepEqual(
    init.env.map((e: Obj) => e.name),
    [ENV_PLAN, ENV_FETCH_TIMEOUT, ENV_CA_PEM, ENV_MAX_UNPACKED_BYTES],
    'stable order: new entries go last',
  );
  assert.deepEqual(init.env[2], { name: ENV_CA_PEM, value: TWO_CAS }, 'the PEM text is passed unchanged');
  assert.deepEqual(restrictedViolations(patched, init), []);

  const noTimeout = fetchContainer(
    applyAndValidate(helloPod(), buildInjection(helloPod(), twoArtifacts(), { ...OPTIONS, caPem: TWO_CAS }).ops),
  );
  assert.deepEqual(
    noTimeout.env.map((e: Obj) => e.name),
    [ENV_PLAN, ENV_CA_PEM, ENV_MAX_UNPACKED_BYTES],
  );
});

test('the CA env changes nothing else in the patch', () => {
  const plain = buildInjection(helloPod(), twoArtifacts(), OPTIONS).ops;
  const withCa = buildInjection(helloPod(), twoArtifacts(), { ...OPTIONS, caPem: TWO_CAS }).ops;
  assert.equal(withCa.length, plain.length);
  const strip = (ops: typeof plain): unknown =>
    JSON.parse(JSON.stringify(ops, (k, v) => (k === 'env' ? v.filter((e: Obj) => e.name !== ENV_CA_PEM) : v)));
  assert.deepEqual(strip(withCa), strip(plain));
});

test(`accepts CA PEM text of exactly ${MAX_CA_PEM_BYTES} bytes`, () => {
  const caPem = pemOfSize(MAX_CA_PEM_BYTES);
  assert.equal(Buffer.byteLength(caPem), MAX_CA_PEM_BYTES);
  const init = fetchContainer(applyAndValidate(helloPod(), buildInjection(helloPod(), twoArtifacts(), { ...OPTIONS, caPem }).ops));
  assert.equal(init.env.find((e: Obj) => e.name === ENV_CA_PEM).value, caPem);
});

const refusedCaPems: { name: string; caPem: unknown; mentions: RegExp }[] = [
  { name: 'empty text', caPem: '', mentions: /PEM certificate blocks/ },
  { name: 'not PEM at all', caPem: 'just some text', mentions: /PEM certificate blocks/ },
  {
    name: 'a certificate followed by its private key (never into a pod spec)',
    caPem: `${certBlock()}-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n`,
    mentions: /nothing else/,
  },
  {
    name: 'an EC private key alone',
    caPem: '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n',
    mentions: /nothing else/,
  },
  { name: 'text between blocks', caPem: `${certBlock()}# my registry\n${certBlock()}`, mentions: /nothing else/ },
  { name: 'a block without its END line', caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n', mentions: /PEM certificate blocks/ },
  { name: 'not a string', caPem: 42, mentions: /PEM certificate blocks/ },
  { name: `one byte over ${MAX_CA_PEM_BYTES}`, caPem: pemOfSize(MAX_CA_PEM_BYTES + 1), mentions: /more than the 65536/ },
];

for (const c of refusedCaPems) {
  test(`caPem refused with CONFIG_INVALID: ${c.name}`, () => {
    assert.throws(
      () => buildInjection(helloPod(), twoArtifacts(), { ...OPTIONS, caPem: c.caPem as string }),
      (err: unknown) => isCamelOciError(err, 'CONFIG_INVALID') && c.mentions.test(err.message) && err.message.includes(ENV_CA_PEM),
    );
  });
}

/** The patched pod's emptyDir sizeLimit and the init container's env as a map. */
function injected(options: Obj, artifacts = twoArtifacts()): { sizeLimit: string; env: Record<string, string>; names: string[] } {
  const pod = helloPod();
  const patched = applyAndValidate(pod, buildInjection(pod, artifacts, { ...OPTIONS, ...options }).ops);
  const init = fetchContainer(patched);
  assert.deepEqual(restrictedViolations(patched, init), []);
  const sizeLimit = patched.spec.volumes.find((v: Obj) => v.name === VOLUME_NAME).emptyDir.sizeLimit as string;
  return { sizeLimit, env: Object.fromEntries(init.env.map((e: Obj) => [e.name, e.value])), names: init.env.map((e: Obj) => e.name) };
}

const sizeLimitCases: { name: string; options: Obj; big?: boolean; sizeLimit: string; env: string }[] = [
  { name: 'the default floor', options: {}, sizeLimit: '512Mi', env: '512Mi' },
  { name: 'a Gi floor, passed as written', options: { volumeSizeLimit: '2Gi' }, sizeLimit: '2Gi', env: '2Gi' },
  { name: 'plain bytes, passed as written', options: { volumeSizeLimit: '1073741824' }, sizeLimit: '1073741824', env: '1073741824' },
  { name: 'the limit raised for a 1 GiB layer', options: {}, big: true, sizeLimit: '4096Mi', env: '4096Mi' },
  { name: 'decimal G, converted to bytes', options: { volumeSizeLimit: '1G' }, sizeLimit: '1G', env: '1000000000' },
  { name: 'decimal M, converted to bytes', options: { volumeSizeLimit: '600M' }, sizeLimit: '600M', env: '600000000' },
  {
    name: 'k (which the fetcher would not read), converted',
    options: { volumeSizeLimit: '700000k' },
    sizeLimit: '700000k',
    env: '700000000',
  },
  { name: 'Ti (which the fetcher would not read), converted', options: { volumeSizeLimit: '1Ti' }, sizeLimit: '1Ti', env: '1099511627776' },
  { name: 'a fraction, converted and rounded down', options: { volumeSizeLimit: '1.1Gi' }, sizeLimit: '1.1Gi', env: '1181116006' },
  { name: 'an exponent, converted', options: { volumeSizeLimit: '2e9' }, sizeLimit: '2e9', env: '2000000000' },
];

for (const c of sizeLimitCases) {
  test(`the fetcher's unpacked-bytes limit is the emptyDir sizeLimit in use (SIZE_EXCEEDED, not eviction): ${c.name}`, () => {
    const big = [artifact({ layers: [layer('1', { size: 1024 ** 3 })] })];
    const { sizeLimit, env } = injected(c.options, c.big === true ? big : twoArtifacts());
    assert.equal(sizeLimit, c.sizeLimit);
    assert.equal(env[ENV_MAX_UNPACKED_BYTES], c.env);
    // The fetcher's own parser reads it as the kubelet's limit, never above it.
    const bytes = parseSize(env[ENV_MAX_UNPACKED_BYTES]!, 'max-unpacked-bytes');
    assert.equal(bytes, Math.floor(parseQuantity(sizeLimit)!));
  });
}

test('the allowed and insecure registries reach the fetcher as env, comma separated, after the existing vars', () => {
  const allowRegistries = ['registry.acme.com', '*.corp.example', 'localhost:5000', '[::1]:5443'];
  const insecureRegistries = ['registry.internal:5000'];
  const { names, env } = injected({ fetchTimeoutSeconds: 45, caPem: TWO_CAS, allowRegistries, insecureRegistries });
  assert.deepEqual(names, [ENV_PLAN, ENV_FETCH_TIMEOUT, ENV_CA_PEM, ENV_MAX_UNPACKED_BYTES, ENV_ALLOW_REGISTRY, ENV_INSECURE_REGISTRY]);
  assert.equal(env[ENV_ALLOW_REGISTRY], 'registry.acme.com,*.corp.example,localhost:5000,[::1]:5443');
  assert.equal(env[ENV_INSECURE_REGISTRY], 'registry.internal:5000');

  const onlyInsecure = injected({ insecureRegistries });
  assert.deepEqual(onlyInsecure.names, [ENV_PLAN, ENV_MAX_UNPACKED_BYTES, ENV_INSECURE_REGISTRY]);
  const empty = injected({ allowRegistries: [], insecureRegistries: [] });
  assert.deepEqual(empty.names, [ENV_PLAN, ENV_MAX_UNPACKED_BYTES], 'empty lists set no env');
});

test('the fetcher reads back every limit and policy value the webhook hands it', () => {
  const allowRegistries = ['registry.acme.com', '*.corp.example'];
  const insecureRegistries = ['localhost:5000'];
  const { env } = injected({ volumeSizeLimit: '3G', fetchTimeoutSeconds: 45, allowRegistries, insecureRegistries });
  const flags = parseFlags('fetch', FETCH_FLAGS, [], env, true).values;
  assert.equal(parseSize(flags['max-unpacked-bytes'] as string, 'max-unpacked-bytes'), 3e9);
  assert.deepEqual(flags['allow-registry'], allowRegistries);
  assert.deepEqual(flags['insecure-registry'], insecureRegistries);
  assert.equal(flags.timeout, '45');
});

const refusedRegistryLists: { name: string; options: Obj; env: string }[] = [
  { name: 'an entry with a comma (would split into two)', options: { allowRegistries: ['a.example,b.example'] }, env: ENV_ALLOW_REGISTRY },
  { name: 'an entry with white space', options: { allowRegistries: ['a.example b.example'] }, env: ENV_ALLOW_REGISTRY },
  { name: 'an empty entry', options: { insecureRegistries: [''] }, env: ENV_INSECURE_REGISTRY },
  { name: 'a URL instead of a host', options: { insecureRegistries: ['http://registry:5000'] }, env: ENV_INSECURE_REGISTRY },
  { name: 'a newline', options: { allowRegistries: ['a.example\nX=1'] }, env: ENV_ALLOW_REGISTRY },
  {
    name: `an entry over ${MAX_REGISTRY_ENTRY_CHARS} characters`,
    options: { allowRegistries: ['a'.repeat(MAX_REGISTRY_ENTRY_CHARS + 1)] },
    env: ENV_ALLOW_REGISTRY,
  },
  {
    name: `more than ${MAX_REGISTRY_ENTRIES} entries`,
    options: { insecureRegistries: Array.from({ length: MAX_REGISTRY_ENTRIES + 1 }, (_, i) => `r${i}.example`) },
    env: ENV_INSECURE_REGISTRY,
  },
  { name: 'not a list', options: { allowRegistries: 'a.example' }, env: ENV_ALLOW_REGISTRY },
  { name: 'an entry that is not a string', options: { allowRegistries: [42] }, env: ENV_ALLOW_REGISTRY },
];

for (const c of refusedRegistryLists) {
  test(`registry lists refused with CONFIG_INVALID naming the variable: ${c.name}`, () => {
    assert.throws(
      () => buildInjection(helloPod(), twoArtifacts(), { ...OPTIONS, ...c.options } as typeof OPTIONS),
      (err: unknown) => isCamelOciError(err, 'CONFIG_INVALID') && err.message.includes(c.env),
    );
  });
}

test('registry lists at exactly their bounds are accepted', () => {
  const long = 'a'.repeat(MAX_REGISTRY_ENTRY_CHARS);
  const many = Array.from({ length: MAX_REGISTRY_ENTRIES }, (_, i) => `r${i}.example`);
  const { env } = injected({ allowRegistries: [long], insecureRegistries: many });
  assert.equal(env[ENV_ALLOW_REGISTRY], long);
  assert.equal(env[ENV_INSECURE_REGISTRY]!.split(',').length, MAX_REGISTRY_ENTRIES);
});

test('a volume size limit that is no quantity is CONFIG_INVALID naming --volume-size-limit', () => {
  assert.throws(
    () => buildInjection(helloPod(), twoArtifacts(), { ...OPTIONS, volumeSizeLimit: '12zz' }),
    (err: unknown) => isCamelOciError(err, 'CONFIG_INVALID') && /--volume-size-limit/.test(err.message) && err.message.includes('"12zz"'),
  );
});
