import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_CHALLENGE_HEADER_CHARS,
  MAX_CHALLENGE_HEADER_LINES,
  MAX_TOKEN_CHARS,
  MAX_TOKEN_LIFETIME_SECONDS,
  basicChallenge,
  bearerChallenge,
  formatScope,
  parseRfc3339,
  parseScope,
  parseScopes,
  parseTokenResponse,
  parseWwwAuthenticate,
  pullScope,
  scopeCovers,
  type Challenge,
} from '../../src/oci/challenge.js';
import { isCamelOciError } from '../../src/base/errors.js';
import { fixtureJson } from '../helpers/fixtures.js';

interface ChallengeVectorFile {
  cases: Array<{
    name: string;
    headerValue?: string;
    headerValues?: string[];
    expect: Challenge[] | string;
    hosts?: string[];
    headerTemplate?: string;
  }>;
}

/** Asserts that `fn` throws a camel-oci error with `code`, and returns it for further checks. */
function throwsCode(fn: () => unknown, code: string): Error {
  let caught: unknown;
  assert.throws(() => {
    try {
      fn();
    } catch (err) {
      caught = err;
      throw err;
    }
  });
  assert.ok(isCamelOciError(caught), `expected a camel-oci error, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

describe('parseWwwAuthenticate', () => {
  const vectors = fixtureJson<ChallengeVectorFile>('docker-config-auth/www-authenticate-challenge-vectors.json');

  for (const v of vectors.cases.filter((c) => typeof c.expect !== 'string')) {
    it(`parses the upstream vector "${v.name}"`, () => {
      const input = v.headerValues ?? v.headerValue;
      assert.ok(input !== undefined);
      assert.deepEqual(parseWwwAuthenticate(input), v.expect);
    });
  }

  it('keeps realms of the normalization vector hosts usable, host lower-cased', () => {
    const v = vectors.cases.find((c) => c.headerTemplate !== undefined);
    assert.ok(v?.hosts !== undefined && v.headerTemplate !== undefined);
    for (const host of v.hosts) {
      const challenges = parseWwwAuthenticate(v.headerTemplate.replace('{host}', host));
      assert.equal(challenges[0]?.params['realm'], `https://${host}/token`);
      const realm = new URL(bearerChallenge(challenges)?.realm ?? 'x:');
      assert.equal(realm.pathname, '/token');
      assert.equal(realm.host, realm.host.toLowerCase());
    }
    assert.equal(
      bearerChallenge(parseWwwAuthenticate('Bearer realm="https://reg.EXAMPLE.com/token"'))?.realm,
      'https://reg.example.com/token',
    );
  });

  // Exact header values from distribution 2.8.2 (/work/shared/registry-token-auth.md §3).
  const observedDistribution28 = [
    {
      header: 'Bearer realm="http://127.0.0.1:5101/token",service="harness-registry"',
      realm: 'http://127.0.0.1:5101/token',
      service: 'harness-registry',
      scope: undefined,
      error: undefined,
    },
    {
      header: 'Bearer realm="http://127.0.0.1:5101/token",service="harness-registry",scope="repository:acme/deps:pull"',
      realm: 'http://127.0.0.1:5101/token',
      service: 'harness-registry',
      scope: 'repository:acme/deps:pull',
      error: undefined,
    },
    {
      header: 'Bearer realm="http://127.0.0.1:5101/token",service="harness-registry",scope="repository:acme/deps:push,pull"',
      realm: 'http://127.0.0.1:5101/token',
      service: 'harness-registry',
      scope: 'repository:acme/deps:push,pull',
      error: undefined,
    },
    {
      header: 'Bearer realm="http://127.0.0.1:5101/token",service="harness-registry",scope="registry:catalog:*"',
      realm: 'http://127.0.0.1:5101/token',
      service: 'harness-registry',
      scope: 'registry:catalog:*',
      error: undefined,
    },
    {
      header:
        'Bearer realm="http://127.0.0.1:5101/token",service="harness-registry",scope="repository:acme/deps:pull,push repository:acme/other:pull"',
      realm: 'http://127.0.0.1:5101/token',
      service: 'harness-registry',
      scope: 'repository:acme/deps:pull,push repository:acme/other:pull',
      error: undefined,
    },
    {
      header:
        'Bearer realm="http://127.0.0.1:5101/token",service="harness-registry",scope="repository:acme/deps:pull,push",error="insufficient_scope"',
      realm: 'http://127.0.0.1:5101/token',
      service: 'harness-registry',
      scope: 'repository:acme/deps:pull,push',
      error: 'insufficient_scope',
    },
    {
      header: 'Bearer realm="http://127.0.0.1:5101/token",service="harness-registry",error="invalid_token"',
      realm: 'http://127.0.0.1:5101/token',
      service: 'harness-registry',
      scope: undefined,
      error: 'invalid_token',
    },
  ];
  for (const o of observedDistribution28) {
    it(`reads the distribution 2.8 challenge ${o.header.slice(60, 130)}`, () => {
      const b = bearerChallenge(parseWwwAuthenticate(o.header));
      assert.deepEqual(b, {
        realm: o.realm,
        service: o.service,
        ...(o.scope !== undefined ? { scope: o.scope } : {}),
        ...(o.error !== undefined ? { error: o.error } : {}),
      });
    });
  }

  const tolerantSpacing: Array<{ name: string; header: string | string[]; expect: Challenge[] }> = [
    {
      name: 'spaces and tabs around = and ,',
      header: 'Bearer  realm = "https://a.example/t" ,\tservice=reg ,  scope="repository:x:pull"',
      expect: [{ scheme: 'bearer', params: { realm: 'https://a.example/t', service: 'reg', scope: 'repository:x:pull' } }],
    },
    {
      name: 'upper-case scheme and keys',
      header: 'BEARER REALM="https://a.example/t",Service="reg"',
      expect: [{ scheme: 'bearer', params: { realm: 'https://a.example/t', service: 'reg' } }],
    },
    {
      name: 'two challenges on one line',
      header: 'Basic realm="Registry Realm", Bearer realm="https://a.example/t",service="reg"',
      expect: [
        { scheme: 'basic', params: { realm: 'Registry Realm' } },
        { scheme: 'bearer', params: { realm: 'https://a.example/t', service: 'reg' } },
      ],
    },
    {
      name: 'a scheme without parameters, then another challenge',
      header: 'Negotiate, Bearer realm="https://a.example/t"',
      expect: [
        { scheme: 'negotiate', params: {} },
        { scheme: 'bearer', params: { realm: 'https://a.example/t' } },
      ],
    },
    {
      name: 'a token68 challenge, then another challenge',
      header: 'Negotiate YII+abc/d==, Bearer realm="https://a.example/t"',
      expect: [
        { scheme: 'negotiate', params: {} },
        { scheme: 'bearer', params: { realm: 'https://a.example/t' } },
      ],
    },
    {
      name: 'empty list elements and an empty quoted value',
      header: ' , ,Bearer realm="https://a.example/t",,error=""',
      expect: [{ scheme: 'bearer', params: { realm: 'https://a.example/t', error: '' } }],
    },
    {
      name: 'lines joined by an HTTP library with ", "',
      header: 'Bearer realm="https://a.example/t",service="one", Bearer realm="https://b.example/t",service="two"',
      expect: [
        { scheme: 'bearer', params: { realm: 'https://a.example/t', service: 'one' } },
        { scheme: 'bearer', params: { realm: 'https://b.example/t', service: 'two' } },
      ],
    },
    { name: 'an empty header', header: '', expect: [] },
    { name: 'no header lines', header: [], expect: [] },
  ];
  for (const t of tolerantSpacing) {
    it(`parses ${t.name}`, () => {
      assert.deepEqual(parseWwwAuthenticate(t.header), t.expect);
    });
  }

  const malformedStopsParsing: Array<{ name: string; header: string; expect: Challenge[] }> = [
    {
      name: 'an unterminated quoted string',
      header: 'Bearer realm="https://a.example/t",service="reg',
      expect: [{ scheme: 'bearer', params: { realm: 'https://a.example/t' } }],
    },
    {
      name: 'a backslash at the end of a quoted string',
      header: 'Bearer realm="https://a.example/t\\',
      expect: [{ scheme: 'bearer', params: {} }],
    },
    {
      name: 'parameters separated by space only',
      header: 'Bearer realm="https://a.example/t" service="reg"',
      expect: [{ scheme: 'bearer', params: { realm: 'https://a.example/t' } }],
    },
    {
      name: 'a repeated parameter (the first realm is kept)',
      header: 'Bearer realm="https://good.example/t",realm="https://evil.example/t",service="reg"',
      expect: [{ scheme: 'bearer', params: { realm: 'https://good.example/t' } }],
    },
    {
      name: 'a parameter before any scheme',
      header: 'realm="https://a.example/t", Bearer realm="https://b.example/t"',
      expect: [],
    },
    {
      name: 'a control character inside quotes',
      header: 'Bearer realm="https://a.example/\u0001t",service="reg"',
      expect: [{ scheme: 'bearer', params: {} }],
    },
  ];
  for (const t of malformedStopsParsing) {
    it(`stops at ${t.name}, keeping what came before`, () => {
      assert.deepEqual(parseWwwAuthenticate(t.header), t.expect);
    });
  }

  it('keeps a "__proto__" parameter as data without touching any prototype', () => {
    const [c] = parseWwwAuthenticate('Bearer __proto__="polluted",realm="https://a.example/t"');
    assert.ok(c !== undefined);
    assert.equal(Object.getOwnPropertyDescriptor(c.params, '__proto__')?.value, 'polluted');
    assert.equal(Object.getPrototypeOf(c.params), Object.prototype);
    assert.equal(bearerChallenge([c])?.realm, 'https://a.example/t');
  });

  it(`accepts ${MAX_CHALLENGE_HEADER_CHARS} characters and refuses one more`, () => {
    const head = 'Bearer realm="https://a.example/t",service="';
    const fill = (n: number) => head + 'x'.repeat(n - head.length - 1) + '"';
    assert.equal(parseWwwAuthenticate(fill(MAX_CHALLENGE_HEADER_CHARS))[0]?.params['realm'], 'https://a.example/t');
    throwsCode(() => parseWwwAuthenticate(fill(MAX_CHALLENGE_HEADER_CHARS + 1)), 'REGISTRY_ERROR');
    // The limit is on all lines together.
    throwsCode(
      () => parseWwwAuthenticate([fill(MAX_CHALLENGE_HEADER_CHARS / 2 + 1), fill(MAX_CHALLENGE_HEADER_CHARS / 2)]),
      'REGISTRY_ERROR',
    );
  });

  it(`refuses more than ${MAX_CHALLENGE_HEADER_LINES} header lines`, () => {
    assert.equal(parseWwwAuthenticate(new Array<string>(MAX_CHALLENGE_HEADER_LINES).fill('Basic')).length, MAX_CHALLENGE_HEADER_LINES);
    throwsCode(() => parseWwwAuthenticate(new Array<string>(MAX_CHALLENGE_HEADER_LINES + 1).fill('Basic')), 'REGISTRY_ERROR');
  });
});

describe('bearerChallenge and basicChallenge', () => {
  it('returns undefined when there is no Bearer challenge, and Basic finds its own', () => {
    const challenges = parseWwwAuthenticate('Basic realm="Registry Realm"');
    assert.equal(bearerChallenge(challenges), undefined);
    assert.deepEqual(basicChallenge(challenges), { realm: 'Registry Realm' });
    assert.deepEqual(basicChallenge(parseWwwAuthenticate('Basic')), {});
    assert.equal(basicChallenge(parseWwwAuthenticate('Bearer realm="https://a.example/t"')), undefined);
  });

  it('picks the first Bearer challenge whatever comes before it', () => {
    const b = bearerChallenge(
      parseWwwAuthenticate([
        'Basic realm="r"',
        'Bearer realm="https://auth.example.com/token",service="keep.example.com"',
        'Bearer realm="https://evil.example.net/token",service="drop.example.net"',
      ]),
    );
    assert.deepEqual(b, { realm: 'https://auth.example.com/token', service: 'keep.example.com' });
  });

  const unusableRealms: Array<{ name: string; header: string }> = [
    { name: 'no realm', header: 'Bearer service="reg"' },
    { name: 'an empty realm', header: 'Bearer realm="",service="reg"' },
    { name: 'a relative realm', header: 'Bearer realm="/token",service="reg"' },
    { name: 'a realm without scheme', header: 'Bearer realm="auth.example.com/token"' },
    { name: 'an ftp realm', header: 'Bearer realm="ftp://auth.example.com/token"' },
    { name: 'a file realm', header: 'Bearer realm="file:///etc/passwd"' },
    { name: 'a javascript realm', header: 'Bearer realm="javascript:alert(1)"' },
  ];
  for (const t of unusableRealms) {
    it(`refuses a Bearer challenge with ${t.name} as UNAUTHORIZED`, () => {
      throwsCode(() => bearerChallenge(parseWwwAuthenticate(t.header)), 'UNAUTHORIZED');
    });
  }

  it('refuses a realm carrying credentials without repeating them', () => {
    const err = throwsCode(
      () => bearerChallenge(parseWwwAuthenticate('Bearer realm="https://bob:hunter2@auth.example.com/token"')),
      'UNAUTHORIZED',
    );
    assert.ok(!JSON.stringify(err).includes('hunter2') && !err.message.includes('hunter2'));
  });

  it("accepts an http realm (policy on plain HTTP is the caller's) and leaves service and scope out when absent", () => {
    assert.deepEqual(bearerChallenge(parseWwwAuthenticate('bearer realm="http://127.0.0.1:5101/token"')), {
      realm: 'http://127.0.0.1:5101/token',
    });
  });
});

describe('scopes', () => {
  const validScopes: Array<{ input: string; expect: object; canonical: string }> = [
    {
      input: 'repository:acme/deps:pull',
      expect: { type: 'repository', name: 'acme/deps', actions: ['pull'] },
      canonical: 'repository:acme/deps:pull',
    },
    {
      input: 'repository:acme/deps:push,pull',
      expect: { type: 'repository', name: 'acme/deps', actions: ['push', 'pull'] },
      canonical: 'repository:acme/deps:pull,push',
    },
    {
      input: 'repository:localhost:5000/acme/deps:pull,push',
      expect: { type: 'repository', name: 'localhost:5000/acme/deps', actions: ['pull', 'push'] },
      canonical: 'repository:localhost:5000/acme/deps:pull,push',
    },
    {
      input: 'registry:catalog:*',
      expect: { type: 'registry', name: 'catalog', actions: ['*'] },
      canonical: 'registry:catalog:*',
    },
    {
      input: 'repository(plugin):acme/plug:pull',
      expect: { type: 'repository', resourceClass: 'plugin', name: 'acme/plug', actions: ['pull'] },
      canonical: 'repository(plugin):acme/plug:pull',
    },
    {
      input: 'repository:acme/deps:pull,,pull,delete',
      expect: { type: 'repository', name: 'acme/deps', actions: ['pull', 'pull', 'delete'] },
      canonical: 'repository:acme/deps:delete,pull',
    },
  ];
  for (const t of validScopes) {
    it(`parses ${t.input} and formats it canonically`, () => {
      const s = parseScope(t.input);
      assert.deepEqual(s, t.expect);
      assert.ok(s !== undefined);
      assert.equal(formatScope(s), t.canonical);
    });
  }

  const malformedScopes = [
    '',
    'repository',
    'repository:acme',
    'repository::pull',
    'repository:a:b:c:pull',
    'Repository:acme:pull',
    'repository:acme/deps:',
    'repository:acme deps:pull',
    'repository:acme/deps:PULL',
    'repository:acme/"x:pull',
    ':acme:pull',
    'repository(:acme:pull',
  ];
  for (const s of malformedScopes) {
    it(`rejects the malformed scope ${JSON.stringify(s)}`, () => {
      assert.equal(parseScope(s), undefined);
    });
  }

  it('compares the two action orders distribution 2.8 sends as equal', () => {
    const a = parseScope('repository:acme/deps:pull,push');
    const b = parseScope('repository:acme/deps:push,pull');
    assert.ok(a !== undefined && b !== undefined);
    assert.equal(formatScope(a), formatScope(b));
    assert.ok(scopeCovers(a, b) && scopeCovers(b, a));
  });

  it('parses a scope list and refuses it whole when one element is malformed', () => {
    assert.deepEqual(parseScopes('repository:acme/deps:pull,push  repository:acme/other:pull'), [
      { type: 'repository', name: 'acme/deps', actions: ['pull', 'push'] },
      { type: 'repository', name: 'acme/other', actions: ['pull'] },
    ]);
    assert.deepEqual(parseScopes(''), []);
    assert.equal(parseScopes('repository:acme/deps:pull bogus'), undefined);
  });

  const coverage: Array<{ granted: string; wanted: string; covers: boolean }> = [
    { granted: 'repository:a/b:pull,push', wanted: 'repository:a/b:pull', covers: true },
    { granted: 'repository:a/b:pull', wanted: 'repository:a/b:push,pull', covers: false },
    { granted: 'repository:a/b:*', wanted: 'repository:a/b:delete', covers: true },
    { granted: 'repository:a/b:pull', wanted: 'repository:a/c:pull', covers: false },
    { granted: 'registry:a/b:pull', wanted: 'repository:a/b:pull', covers: false },
    { granted: 'repository(plugin):a/b:pull', wanted: 'repository:a/b:pull', covers: true },
  ];
  for (const t of coverage) {
    it(`${t.covers ? 'counts' : 'does not count'} ${t.granted} as covering ${t.wanted}`, () => {
      const g = parseScope(t.granted);
      const w = parseScope(t.wanted);
      assert.ok(g !== undefined && w !== undefined);
      assert.equal(scopeCovers(g, w), t.covers);
    });
  }

  it('builds pull scopes and refuses names that would break a scope', () => {
    assert.equal(pullScope('acme/deps'), 'repository:acme/deps:pull');
    assert.equal(pullScope('library/ubuntu'), 'repository:library/ubuntu:pull');
    for (const bad of ['', 'acme deps', 'acme/deps:pull', 'acme/deps push']) {
      throwsCode(() => pullScope(bad), 'REFERENCE_INVALID');
    }
  });
});

describe('parseTokenResponse', () => {
  const now = Date.UTC(2026, 10, 27, 12, 0, 0);
  const sec = 1000;

  const tokenChoice: Array<{ name: string; body: unknown; token: string }> = [
    { name: 'only token', body: { token: 'tok' }, token: 'tok' },
    { name: 'only access_token', body: { access_token: 'acc' }, token: 'acc' },
    { name: 'both (token preferred)', body: { token: 'tok', access_token: 'acc' }, token: 'tok' },
    { name: 'an empty token and an access_token', body: { token: '', access_token: 'acc' }, token: 'acc' },
    { name: 'a non-string token and an access_token', body: { token: 42, access_token: 'acc' }, token: 'acc' },
  ];
  for (const t of tokenChoice) {
    it(`takes the token from ${t.name}`, () => {
      assert.equal(parseTokenResponse(t.body, now).token, t.token);
    });
  }

  const refusedBodies: Array<{ name: string; body: unknown }> = [
    { name: 'null', body: null },
    { name: 'an array', body: [{ token: 'tok' }] },
    { name: 'a string', body: 'tok' },
    { name: 'no token at all', body: { expires_in: 300 } },
    { name: 'empty token and access_token', body: { token: '', access_token: '' } },
    { name: 'a token with a newline', body: { token: 'tok\r\nX-Injected: 1' } },
    { name: 'a token with a space', body: { token: 'tok en' } },
    { name: 'a non-ASCII token', body: { token: 'tokén' } },
    { name: 'a token one character too long', body: { token: 'a'.repeat(MAX_TOKEN_CHARS + 1) } },
  ];
  for (const t of refusedBodies) {
    it(`refuses ${t.name} as UNAUTHORIZED`, () => {
      throwsCode(() => parseTokenResponse(t.body, now), 'UNAUTHORIZED');
    });
  }

  it(`accepts a token of exactly ${MAX_TOKEN_CHARS} characters`, () => {
    assert.equal(parseTokenResponse({ token: 'a'.repeat(MAX_TOKEN_CHARS) }, now).token.length, MAX_TOKEN_CHARS);
  });

  const lifetimes: Array<{ name: string; body: Record<string, unknown>; expiresAt: number }> = [
    { name: 'defaults to 60 s without expires_in', body: {}, expiresAt: now + 60 * sec },
    { name: 'uses expires_in', body: { expires_in: 300 }, expiresAt: now + 300 * sec },
    { name: 'raises a short expires_in to 60 s', body: { expires_in: 10 }, expiresAt: now + 60 * sec },
    { name: 'raises a negative expires_in to 60 s', body: { expires_in: -5 }, expiresAt: now + 60 * sec },
    { name: 'ignores a string expires_in', body: { expires_in: '300' }, expiresAt: now + 60 * sec },
    { name: 'drops fractions of a second', body: { expires_in: 300.9 }, expiresAt: now + 300 * sec },
    { name: 'caps a huge expires_in', body: { expires_in: 1e12 }, expiresAt: now + MAX_TOKEN_LIFETIME_SECONDS * sec },
    {
      name: 'counts from a valid issued_at',
      body: { expires_in: 300, issued_at: '2026-11-27T11:58:20Z' },
      expiresAt: now - 100 * sec + 300 * sec,
    },
    {
      name: 'counts from an issued_at with an offset and nanoseconds',
      body: { expires_in: 300, issued_at: '2026-11-27T12:58:20.123456789+01:00' },
      expiresAt: now - 100 * sec + 123 + 300 * sec,
    },
    {
      name: 'counts from now when issued_at is in the future (clock skew)',
      body: { expires_in: 300, issued_at: '2026-11-27T13:00:00Z' },
      expiresAt: now + 300 * sec,
    },
    {
      name: 'counts from now when issued_at is invalid',
      body: { expires_in: 300, issued_at: '2026-02-31T00:00:00Z' },
      expiresAt: now + 300 * sec,
    },
    {
      name: 'counts from now when issued_at has no zone',
      body: { expires_in: 300, issued_at: '2026-11-27T11:00:00' },
      expiresAt: now + 300 * sec,
    },
    {
      name: "keeps the token.md example's 2009 issued_at, giving an expiry already past",
      body: { expires_in: 3600, issued_at: '2009-11-10T23:00:00Z' },
      expiresAt: Date.UTC(2009, 10, 11, 0, 0, 0),
    },
  ];
  for (const t of lifetimes) {
    it(t.name, () => {
      assert.equal(parseTokenResponse({ token: 'tok', ...t.body }, now).expiresAt, t.expiresAt);
    });
  }
});

describe('parseRfc3339', () => {
  const dates: Array<{ input: string; expect: number | undefined }> = [
    { input: '2009-11-10T23:00:00Z', expect: Date.UTC(2009, 10, 10, 23) },
    { input: '2009-11-10t23:00:00z', expect: Date.UTC(2009, 10, 10, 23) },
    { input: '2009-11-10T23:00:00.5-02:30', expect: Date.UTC(2009, 10, 11, 1, 30, 0, 500) },
    { input: '2024-02-29T00:00:00Z', expect: Date.UTC(2024, 1, 29) },
    { input: '2023-02-29T00:00:00Z', expect: undefined },
    { input: '2009-13-10T23:00:00Z', expect: undefined },
    { input: '2009-11-10T24:00:00Z', expect: undefined },
    { input: '2009-11-10T23:00:60Z', expect: undefined },
    { input: '2009-11-10T23:00:00+24:00', expect: undefined },
    { input: '2009-11-10', expect: undefined },
    { input: '0099-11-10T23:00:00Z', expect: undefined },
    { input: 'Tue, 10 Nov 2009 23:00:00 GMT', expect: undefined },
  ];
  for (const d of dates) {
    it(`${d.expect === undefined ? 'rejects' : 'reads'} ${d.input}`, () => {
      assert.equal(parseRfc3339(d.input), d.expect);
    });
  }
});
