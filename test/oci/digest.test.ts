import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixtureJson, fixturePath } from '../helpers/fixtures.js';
import { OciError } from '../../src/base/errors.js';
import {
  MAX_DIGEST_LENGTH,
  computeDigest,
  descriptorDigestProblem,
  isDescriptorDigest,
  isSha256Digest,
  matchesDigest,
  parseDigest,
  sha256Digest,
} from '../../src/oci/digest.js';

const HEX64 = 'c86f7763873b6c0aae22d963bab59b4f5debbed6685761b5951584f6efb0633b';
const HEX128 = HEX64 + HEX64;
// sha256 and sha512 of the empty string (well-known values).
const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const EMPTY_SHA512 =
  'sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e';

describe('parseDigest', () => {
  const accepted = [
    { input: `sha256:${HEX64}`, algorithm: 'sha256', hex: HEX64 },
    { input: `sha512:${HEX128}`, algorithm: 'sha512', hex: HEX128 },
  ];
  for (const c of accepted) {
    it(`accepts ${c.algorithm}`, () => {
      assert.deepEqual(parseDigest(c.input), { algorithm: c.algorithm, hex: c.hex });
    });
  }

  const refused: Array<{ input: string; reason: string; why: string }> = [
    { input: '', reason: 'DIGEST_INVALID', why: 'empty' },
    { input: HEX64, reason: 'DIGEST_INVALID', why: 'no algorithm' },
    { input: `:${HEX64}`, reason: 'DIGEST_INVALID', why: 'empty algorithm' },
    { input: 'sha256', reason: 'DIGEST_INVALID', why: 'no encoded part' },
    { input: `SHA256:${HEX64}`, reason: 'DIGEST_INVALID', why: 'uppercase algorithm' },
    { input: `sha256:${HEX64.toUpperCase()}`, reason: 'DIGEST_INVALID', why: 'uppercase hex' },
    { input: `sha256:${HEX64.slice(1)}`, reason: 'DIGEST_INVALID', why: '63 hex' },
    { input: `sha256:${HEX64}0`, reason: 'DIGEST_INVALID', why: '65 hex' },
    { input: `sha512:${HEX64}`, reason: 'DIGEST_INVALID', why: 'sha512 with 64 hex' },
    { input: `sha256:${HEX64.slice(1)}g`, reason: 'DIGEST_INVALID', why: 'non-hex' },
    {
      input: `sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564`,
      reason: 'DIGEST_UNSUPPORTED',
      why: 'valid grammar, unregistered algorithm',
    },
    { input: `md5:${HEX64.slice(0, 32)}`, reason: 'DIGEST_UNSUPPORTED', why: 'unregistered algorithm' },
    { input: `sha256:${'a'.repeat(MAX_DIGEST_LENGTH)}`, reason: 'DIGEST_INVALID', why: 'over the length bound' },
  ];
  for (const c of refused) {
    it(`refuses ${c.why}`, () => {
      assert.throws(
        () => parseDigest(c.input),
        (err: unknown) =>
          err instanceof OciError &&
          err.code === 'REFERENCE_INVALID' &&
          err.context.reason === c.reason &&
          err.message.includes('sha256:<64'),
      );
    });
  }

  it('raises the code the caller asks for', () => {
    assert.throws(
      () => parseDigest('nope', 'REGISTRY_ERROR'),
      (err: unknown) => err instanceof OciError && err.code === 'REGISTRY_ERROR',
    );
  });
});

describe('descriptor digests', () => {
  it('admits unregistered algorithms the OCI grammar allows, but not malformed ones', () => {
    assert.equal(isDescriptorDigest('sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564'), true);
    assert.equal(isDescriptorDigest('multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8'), true);
    assert.equal(isDescriptorDigest(`sha256+foo+-b:${HEX64}`), false);
    assert.equal(isDescriptorDigest(`sha256:${HEX64.toUpperCase()}`), false);
    assert.match(descriptorDigestProblem(`sha256:${HEX64.slice(2)}`) ?? '', /exactly 64/);
    assert.equal(descriptorDigestProblem(`sha512:${HEX128}`), undefined);
  });
});

describe('isSha256Digest', () => {
  const cases: Array<[string, boolean]> = [
    [`sha256:${HEX64}`, true],
    [`sha256:${HEX64.toUpperCase()}`, false],
    [`sha512:${HEX128}`, false],
    [`sha256:${HEX64}\n`, false],
    [` sha256:${HEX64}`, false],
    [HEX64, false],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input.slice(0, 20))}… is ${want}`, () => assert.equal(isSha256Digest(input), want));
  }
});

describe('hashing', () => {
  it('computes the well-known empty digests', () => {
    assert.equal(sha256Digest(new Uint8Array()), EMPTY_SHA256);
    assert.equal(computeDigest('sha512', new Uint8Array()), EMPTY_SHA512);
  });

  it('reproduces the Docker Hub document digests byte for byte', () => {
    const index = fixtureJson<{ vectors: Array<{ file: string; expectedDigest: string; sizeBytes: number }> }>(
      'oci-image-spec/docker-hub/index.json',
    );
    const present = index.vectors.filter((v) => v.file.startsWith('docker-manifest'));
    assert.equal(present.length, 2);
    for (const v of present) {
      const bytes = readFileSync(fixturePath(`oci-image-spec/docker-hub/${v.file}`));
      assert.equal(bytes.byteLength, v.sizeBytes);
      assert.equal(sha256Digest(bytes), v.expectedDigest);
      assert.equal(matchesDigest(bytes, v.expectedDigest), true);
      const flipped = Buffer.from(bytes);
      flipped[0] = (flipped[0] ?? 0) ^ 1;
      assert.equal(matchesDigest(flipped, v.expectedDigest), false);
    }
  });

  it('matches sha512 and fails closed on algorithms it cannot compute', () => {
    assert.equal(matchesDigest(new Uint8Array(), EMPTY_SHA512), true);
    assert.equal(matchesDigest(new Uint8Array(), 'sha256+b64u:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU'), false);
    assert.equal(matchesDigest(new Uint8Array(), 'not a digest'), false);
    assert.equal(matchesDigest(new Uint8Array(), EMPTY_SHA256.toUpperCase()), false);
  });
});

it('SHA256_DIGEST and SHA256_HEX are the one sha256 pattern: lowercase hex, exact length, anchored', async () => {
  const { SHA256_DIGEST, SHA256_HEX, isSha256Digest } = await import('../../src/oci/digest.js');
  const hex = 'ab'.repeat(32);
  assert.ok(SHA256_HEX.test(hex) && SHA256_DIGEST.test(`sha256:${hex}`) && isSha256Digest(`sha256:${hex}`));
  for (const bad of [hex.toUpperCase(), hex.slice(1), `${hex}0`, ` ${hex}`]) {
    assert.ok(!SHA256_HEX.test(bad), bad);
    assert.ok(!SHA256_DIGEST.test(`sha256:${bad}`), bad);
  }
  assert.ok(!SHA256_DIGEST.test(`sha512:${hex}`));
});
