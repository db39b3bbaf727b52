import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildInjection } from '../../src/inject/patch.js';
import { ENV_CA_PEM, ENV_FETCH_TIMEOUT, ENV_PLAN, MAX_CA_PEM_BYTES } from '../../src/inject/annotations.js';
import { isCamelOciError } from '../../src/errors.js';
import { applyAndValidate, fetchContainer, helloPod, OPTIONS, restrictedViolations, twoArtifacts, type Obj } from './support.js';

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
  const without = fetchContainer(applyAndValidate(helloPod(), buildInjection(helloPod(), twoArtifacts(), { ...OPTIONS, fetchTimeoutSeconds: 45 }).ops));
  assert.deepEqual(without.env.map((e: Obj) => e.name), [ENV_PLAN, ENV_FETCH_TIMEOUT]);

  const pod = helloPod();
  const patched = applyAndValidate(pod, buildInjection(pod, twoArtifacts(), { ...OPTIONS, fetchTimeoutSeconds: 45, caPem: TWO_CAS }).ops);
  const init = fetchContainer(patched);
  assert.deepEqual(init.env.map((e: Obj) => e.name), [ENV_PLAN, ENV_FETCH_TIMEOUT, ENV_CA_PEM], 'stable order: new entries go last');
  assert.deepEqual(init.env[2], { name: ENV_CA_PEM, value: TWO_CAS }, 'the PEM text is passed unchanged');
  assert.deepEqual(restrictedViolations(patched, init), []);

  const noTimeout = fetchContainer(applyAndValidate(helloPod(), buildInjection(helloPod(), twoArtifacts(), { ...OPTIONS, caPem: TWO_CAS }).ops));
  assert.deepEqual(noTimeout.env.map((e: Obj) => e.name), [ENV_PLAN, ENV_CA_PEM]);
});

test('the CA env changes nothing else in the patch', () => {
  const plain = buildInjection(helloPod(), twoArtifacts(), OPTIONS).ops;
  const withCa = buildInjection(helloPod(), twoArtifacts(), { ...OPTIONS, caPem: TWO_CAS }).ops;
  assert.equal(withCa.length, plain.length);
  const strip = (ops: typeof plain): unknown => JSON.parse(JSON.stringify(ops, (k, v) => (k === 'env' ? v.filter((e: Obj) => e.name !== ENV_CA_PEM) : v)));
  assert.deepEqual(strip(withCa), strip(plain));
});

test(`accepts CA PEM text of exactly ${MAX_CA_PEM_BYTES} bytes`, () => {
  const caPem = pemOfSize(MAX_CA_PEM_BYTES);
  assert.equal(Buffer.byteLength(caPem), MAX_CA_PEM_BYTES);
  const init = fetchContainer(applyAndValidate(helloPod(), buildInjection(helloPod(), twoArtifacts(), { ...OPTIONS, caPem }).ops));
  assert.equal(init.env.at(-1).value, caPem);
});

const refusedCaPems: { name: string; caPem: unknown; mentions: RegExp }[] = [
  { name: 'empty text', caPem: '', mentions: /PEM certificate blocks/ },
  { name: 'not PEM at all', caPem: 'just some text', mentions: /PEM certificate blocks/ },
  { name: 'a certificate followed by its private key (never into a pod spec)', caPem: `${certBlock()}-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n`, mentions: /nothing else/ },
  { name: 'an EC private key alone', caPem: '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n', mentions: /nothing else/ },
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
