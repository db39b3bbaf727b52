import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureJson } from '../helpers/fixtures.js';
import { OciError } from '../../src/base/errors.js';
import {
  MAX_REFERENCE_LENGTH,
  familiarName,
  familiarString,
  formatReference,
  isDigestOnly,
  parse,
  parseAnyReference,
  parseDockerRef,
  parseNamed,
  parseNormalizedNamed,
  parseReference,
  referenceErrorReason,
  referenceName,
  registryEndpoint,
  withName,
} from '../../src/oci/reference.js';
import type { DigestOnlyReference, Reference, ReferenceErrorReason } from '../../src/oci/reference.js';

interface Expectation {
  valid: boolean;
  error?: string;
  name?: string;
  domain?: string;
  path?: string;
  tag?: string;
  digest?: string;
  string?: string;
  familiarName?: string;
  familiarString?: string;
  digestOnly?: boolean;
}

interface Vector extends Expectation {
  function: string;
  input: string;
  derived: Expectation;
}

const PARSERS: Record<string, (s: string) => Reference | DigestOnlyReference> = {
  Parse: parse,
  ParseNormalizedNamed: parseNormalizedNamed,
  ParseNamed: parseNamed,
  ParseAnyReference: parseAnyReference,
  ParseDockerRef: parseDockerRef,
  WithName: withName,
};

/** Go sentinel names and normalize.go's free-text errors, as our error reasons. */
const REASON_OF_GO_ERROR: Record<string, ReferenceErrorReason> = {
  ErrNameEmpty: 'NAME_EMPTY',
  ErrReferenceInvalidFormat: 'INVALID_FORMAT',
  ErrNameContainsUppercase: 'NAME_CONTAINS_UPPERCASE',
  ErrNameTooLong: 'NAME_TOO_LONG',
  ErrNameNotCanonical: 'NAME_NOT_CANONICAL',
  ErrDigestInvalidLength: 'DIGEST_INVALID_LENGTH',
  ErrDigestUnsupported: 'DIGEST_UNSUPPORTED',
  ErrDigestInvalidFormat: 'DIGEST_INVALID_FORMAT',
  'repository name must be lowercase': 'REPOSITORY_UPPERCASE',
  'invalid repository name, cannot specify 64-byte hexadecimal strings': 'HEX_IDENTIFIER',
};

function observe(ref: Reference | DigestOnlyReference): Expectation {
  if (isDigestOnly(ref)) return { valid: true, digestOnly: true, digest: ref.digest, string: ref.digest };
  return {
    valid: true,
    name: referenceName(ref),
    domain: ref.domain,
    path: ref.path,
    tag: ref.tag ?? '',
    digest: ref.digest ?? '',
    string: formatReference(ref),
    familiarName: familiarName(ref),
    familiarString: familiarString(ref),
  };
}

function assertExpectation(v: Vector, want: Expectation, label: string): void {
  const parser = PARSERS[v.function];
  assert.ok(parser, `no parser for ${v.function}`);
  if (!want.valid) {
    assert.throws(
      () => parser(v.input),
      (err: unknown) => {
        assert.ok(err instanceof OciError, `${label}: expected OciError`);
        assert.equal(err.code, 'REFERENCE_INVALID');
        if (want.error !== undefined) {
          const reason = REASON_OF_GO_ERROR[want.error];
          assert.ok(reason, `${label}: unmapped upstream error ${want.error}`);
          assert.equal(referenceErrorReason(err), reason, `${label}: error kind`);
        }
        return true;
      },
      `${label}: ${v.function}(${JSON.stringify(v.input)}) must fail`,
    );
    return;
  }
  const got = observe(parser(v.input));
  for (const key of ['name', 'domain', 'path', 'tag', 'digest', 'string', 'familiarName', 'familiarString', 'digestOnly'] as const) {
    if (want[key] === undefined) continue;
    // Strict Parse/WithName results have no familiar form upstream; only compare what the vector states.
    assert.equal(got[key], want[key], `${label}: ${v.function}(${JSON.stringify(v.input)}).${key}`);
  }
}

describe('distribution/reference vectors', () => {
  const file = fixtureJson<{ count: number; vectors: Vector[] }>('docker-reference/reference-vectors-flat.json');

  it('has every vector of the upstream file', () => {
    assert.equal(file.vectors.length, file.count);
    assert.ok(file.count >= 189);
  });

  for (const v of file.vectors) {
    it(`${v.function}(${JSON.stringify(v.input.length > 60 ? `${v.input.slice(0, 60)}…` : v.input)}) ${v.valid ? 'parses' : 'fails'}`, () => {
      assert.equal(v.derived.valid, v.valid);
      // Fields upstream asserts, then the full derived result.
      assertExpectation(v, v, 'upstream');
      assertExpectation(v, v.derived, 'derived');
    });
  }
});

describe('parseReference', () => {
  const normalizedCases: Array<{ input: string; domain: string; path: string; tag?: string; digest?: string; endpoint: string }> = [
    { input: 'container:docker.io/acme/deps:1.0', domain: 'docker.io', path: 'acme/deps', tag: '1.0', endpoint: 'registry-1.docker.io' },
    { input: 'acme/deps:1.0', domain: 'docker.io', path: 'acme/deps', tag: '1.0', endpoint: 'registry-1.docker.io' },
    { input: 'container:busybox', domain: 'docker.io', path: 'library/busybox', endpoint: 'registry-1.docker.io' },
    { input: 'index.docker.io/acme/deps', domain: 'docker.io', path: 'acme/deps', endpoint: 'registry-1.docker.io' },
    { input: 'container:127.0.0.1:5000/team/deps:v2', domain: '127.0.0.1:5000', path: 'team/deps', tag: 'v2', endpoint: '127.0.0.1:5000' },
    { input: 'localhost/deps', domain: 'localhost', path: 'deps', endpoint: 'localhost' },
    { input: '[::1]:5000/deps', domain: '[::1]:5000', path: 'deps', endpoint: '[::1]:5000' },
    {
      input: `container:quay.io/acme/deps:1.0@sha256:${'a'.repeat(64)}`,
      domain: 'quay.io',
      path: 'acme/deps',
      tag: '1.0',
      digest: `sha256:${'a'.repeat(64)}`,
      endpoint: 'quay.io',
    },
  ];

  for (const c of normalizedCases) {
    it(`normalizes ${c.input}`, () => {
      const ref = parseReference(c.input);
      assert.deepEqual(ref, {
        domain: c.domain,
        path: c.path,
        ...(c.tag !== undefined ? { tag: c.tag } : {}),
        ...(c.digest !== undefined ? { digest: c.digest } : {}),
      });
      assert.equal(registryEndpoint(ref), c.endpoint);
    });
  }

  it('adds no default tag', () => {
    const ref = parseReference('container:acme/deps');
    assert.equal(ref.tag, undefined);
    assert.equal(ref.digest, undefined);
    assert.equal(formatReference(ref), 'docker.io/acme/deps');
    assert.equal(familiarString(ref), 'acme/deps');
  });

  it('strips the container: prefix only once', () => {
    assert.throws(
      () => parseReference('container:container:acme/deps'),
      (err: unknown) => referenceErrorReason(err) === 'INVALID_FORMAT',
    );
  });

  const refusedCases: Array<{ input: string; reason: ReferenceErrorReason }> = [
    { input: '', reason: 'NAME_EMPTY' },
    { input: 'container:', reason: 'NAME_EMPTY' },
    { input: 'container:Acme/Deps', reason: 'REPOSITORY_UPPERCASE' },
    { input: 'acme/deps:1.0 ', reason: 'INVALID_FORMAT' },
    { input: 'https://registry.example.com/acme/deps', reason: 'INVALID_FORMAT' },
    { input: `acme/deps@sha256:${'a'.repeat(63)}`, reason: 'DIGEST_INVALID_LENGTH' },
    { input: `acme/deps@sha256:${'A'.repeat(64)}`, reason: 'DIGEST_INVALID_FORMAT' },
    { input: `acme/deps@sha512:${'a'.repeat(128)}`, reason: 'DIGEST_UNSUPPORTED' },
    { input: `container:${'a'.repeat(64)}`, reason: 'HEX_IDENTIFIER' },
    { input: `example.com/${'a'.repeat(256)}`, reason: 'NAME_TOO_LONG' },
    { input: 'a'.repeat(MAX_REFERENCE_LENGTH + 1), reason: 'INPUT_TOO_LONG' },
  ];

  for (const c of refusedCases) {
    it(`refuses ${JSON.stringify(c.input.slice(0, 40))} (${c.reason})`, () => {
      assert.throws(
        () => parseReference(c.input),
        (err: unknown) => {
          assert.ok(err instanceof OciError);
          assert.equal(err.code, 'REFERENCE_INVALID');
          assert.equal(referenceErrorReason(err), c.reason);
          // Actionable: quotes what the user wrote and shows what a valid reference looks like.
          assert.ok(err.message.includes(JSON.stringify(c.input.slice(0, 200)).slice(0, -1)), err.message);
          assert.match(err.message, /docker\.io\/acme\/deps:1\.0/);
          return true;
        },
      );
    });
  }

  it('quotes the input as the user wrote it, not the normalized rewrite', () => {
    assert.throws(
      () => parseReference('container:Acme'),
      (err: unknown) => err instanceof OciError && err.message.includes('"container:Acme"') && !err.message.includes('library/'),
    );
  });

  it('refuses an oversized input before running any regex, whatever its shape', () => {
    // Shapes that make a backtracking engine work hard if unbounded: long domain-like runs and
    // separator runs that never complete.
    const huge = ['a.'.repeat(500_000), `${'a-'.repeat(500_000)}/`, `${'a'.repeat(1_000_000)}@`];
    for (const input of huge) {
      assert.equal(
        (() => {
          try {
            parseReference(input);
            return 'parsed';
          } catch (err) {
            return referenceErrorReason(err);
          }
        })(),
        'INPUT_TOO_LONG',
      );
    }
  });

  it('rejects adversarial inputs at the length cap (each returns, none parses)', () => {
    const n = MAX_REFERENCE_LENGTH;
    const adversarial = [
      `${'a.'.repeat(n / 2 - 1)}!`,
      `${'a-'.repeat(n / 2 - 1)}!`,
      `${'a_'.repeat(n / 2 - 1)}!`,
      `a/${'a__'.repeat(Math.floor((n - 3) / 3) - 1)}!`,
      `${'a'.repeat(n - 1)}!`,
      `a:${'a'.repeat(n - 3)}`,
      `a@${'a-'.repeat(n / 2 - 2)}:`,
    ];
    for (const input of adversarial) {
      assert.ok(input.length <= n, `${input.length}`);
      assert.throws(
        () => parseReference(input),
        (err: unknown) => referenceErrorReason(err) !== undefined,
      );
    }
  });
});

describe('familiar forms and endpoints', () => {
  const cases: Array<{ input: string; familiar: string; canonical: string }> = [
    { input: 'docker.io/library/debian:12', familiar: 'debian:12', canonical: 'docker.io/library/debian:12' },
    { input: 'docker.io/library/foo/bar', familiar: 'library/foo/bar', canonical: 'docker.io/library/foo/bar' },
    { input: 'ghcr.io/library/foo', familiar: 'ghcr.io/library/foo', canonical: 'ghcr.io/library/foo' },
  ];
  for (const c of cases) {
    it(`${c.input} -> ${c.familiar}`, () => {
      const ref = parseReference(c.input);
      assert.equal(familiarString(ref), c.familiar);
      assert.equal(formatReference(ref), c.canonical);
    });
  }

  it('contacts registry-1.docker.io for docker.io only', () => {
    assert.equal(registryEndpoint({ domain: 'docker.io' }), 'registry-1.docker.io');
    assert.equal(registryEndpoint({ domain: 'registry-1.docker.io' }), 'registry-1.docker.io');
    assert.equal(registryEndpoint({ domain: 'mirror.gcr.io' }), 'mirror.gcr.io');
  });
});

describe('registry ports', () => {
  const cases: ReadonlyArray<{ name: string; input: string; ok: boolean }> = [
    { name: 'the highest TCP port', input: 'registry.example.com:65535/acme/deps:1', ok: true },
    { name: 'a port one over the highest', input: 'registry.example.com:65536/acme/deps:1', ok: false },
    { name: 'a port far over the highest', input: 'registry.example.com:99999999/acme/deps@sha256:' + 'a'.repeat(64), ok: false },
    { name: 'port 0', input: 'registry.example.com:0/acme/deps:1', ok: false },
    { name: 'a bracketed IPv6 host with a port over the highest', input: '[::1]:70000/acme/deps:1', ok: false },
  ];
  for (const c of cases) {
    it(`${c.ok ? 'accepts' : 'refuses with REFERENCE_INVALID (PORT_INVALID)'} ${c.name}`, () => {
      for (const parser of [parse, parseNormalizedNamed]) {
        if (c.ok) {
          assert.equal(parser(c.input).domain, c.input.slice(0, c.input.indexOf('/')));
          continue;
        }
        assert.throws(
          () => parser(c.input),
          (e: unknown) => e instanceof OciError && e.code === 'REFERENCE_INVALID' && referenceErrorReason(e) === 'PORT_INVALID',
        );
      }
    });
  }
  it('refuses a name with a port over the highest (withName)', () => {
    assert.throws(
      () => withName('registry.example.com:65536/acme/deps'),
      (e: unknown) => referenceErrorReason(e) === 'PORT_INVALID',
    );
  });
});
